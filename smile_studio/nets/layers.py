"""Building blocks shared by the networks, with the official parameter names and runtime scales.

Equalised-learning-rate layers store *unscaled* weights (as the official checkpoints do) and apply
``1/sqrt(fan_in)`` (times ``lr_mul``) in forward. ``upfirdn2d`` is the plain-PyTorch version of the StyleGAN2
up-sample / FIR-filter / down-sample op; no compiled extension is needed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def make_kernel(taps: list[float]) -> torch.Tensor:
    k = torch.tensor(taps, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


_LITERAL = threading.local()


@contextlib.contextmanager
def literal_upfirdn2d():
    """Within this context upfirdn2d runs the official CPU fallback step by step (the benchmark baseline)."""
    _LITERAL.on = True
    try:
        yield
    finally:
        _LITERAL.on = False


def upfirdn2d_literal(x: torch.Tensor, kernel: torch.Tensor, up: int, down: int, pad: tuple[int, int]) -> torch.Tensor:
    """The official ``upfirdn2d_native``: every channel as its own image, explicit zero insertion and padding."""
    _, c, h, w = x.shape
    p0, p1 = pad
    kh, kw = kernel.shape
    out = x.reshape(-1, h, w, 1).view(-1, h, 1, w, 1, 1)
    out = F.pad(out, [0, 0, 0, up - 1, 0, 0, 0, up - 1]).view(-1, h * up, w * up, 1)
    out = F.pad(out, [0, 0, max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)])
    out = out[:, max(-p0, 0): out.shape[1] - max(-p1, 0), max(-p0, 0): out.shape[2] - max(-p1, 0), :]
    out = out.permute(0, 3, 1, 2).reshape(-1, 1, h * up + p0 + p1, w * up + p0 + p1)
    out = F.conv2d(out, torch.flip(kernel, [0, 1]).view(1, 1, kh, kw).to(x.dtype))
    out = out.reshape(-1, c, out.shape[-2], out.shape[-1])
    return out[:, :, ::down, ::down]


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Zero-insert up-sampling by ``up``, pad (pad0 before, pad1 after), FIR filter, keep every ``down``-th."""
    if getattr(_LITERAL, "on", False):
        return upfirdn2d_literal(x, kernel, up, down, pad)
    b, c, h, w = x.shape
    p0, p1 = pad
    kh, kw = kernel.shape
    if up == 1 and p0 == p1 >= 0:
        # Symmetric padding: let the convolution pad (no padded copy of a large activation).
        weight = torch.flip(kernel, [0, 1]).to(x.dtype).view(1, 1, kh, kw).expand(c, 1, kh, kw)
        return F.conv2d(x, weight, stride=down, padding=p0, groups=c)
    if up > 1:
        z = x.new_zeros(b, c, h, up, w, up)
        z[:, :, :, 0, :, 0] = x
        x = z.reshape(b, c, h * up, w * up)
    x = F.pad(x, [max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)])
    if p0 < 0 or p1 < 0:
        x = x[:, :, max(-p0, 0): x.shape[2] - max(-p1, 0), max(-p0, 0): x.shape[3] - max(-p1, 0)]
    weight = torch.flip(kernel, [0, 1]).to(x.dtype).view(1, 1, kh, kw).expand(c, 1, kh, kw)
    out = F.conv2d(x, weight, groups=c)
    return out[:, :, ::down, ::down] if down > 1 else out


# -- convolutions with weights reordered once ----------------------------------------------------------------
# The oneDNN-specific calls below are fast paths: each (path, dtype) pair is probed once per process on a tiny
# input against the plain PyTorch operation, and a failure (bf16 on a CPU with AVX2 only, say) switches off only
# that pair; every other pair, float32 included, keeps its fast path.
PACKED_CONV = "packed convolution"
CONV_ADD = "convolution with fused sum"
_FAST: dict[tuple[str, torch.dtype], bool] = {}
_PLAIN = threading.local()
_PACKED_SHAPES = 4  # reordered copies kept per weight (one per input shape seen lately)
log = logging.getLogger(__name__)


@contextlib.contextmanager
def plain_convolutions():
    """Within this context every convolution is a plain ``F.conv2d`` (what FLOP counters understand); the
    oneDNN-specific calls compute the same maths."""
    before = getattr(_PLAIN, "on", False)
    _PLAIN.on = True
    try:
        yield
    finally:
        _PLAIN.on = before


def fast_path_available(path: str, dtype: torch.dtype) -> bool:
    """Whether ``path`` (PACKED_CONV or CONV_ADD) runs for ``dtype`` in this process (probed on first use)."""
    key = (path, dtype)
    if key not in _FAST:
        _FAST[key] = _probe(path, dtype)
    return _FAST[key]


def fast_paths_report() -> dict[str, bool]:
    """{'packed convolution float32': True, ...} for every path and dtype the networks use."""
    return {f"{path} {str(dtype).removeprefix('torch.')}": fast_path_available(path, dtype)
            for path, dtypes in ((PACKED_CONV, (torch.float32, torch.bfloat16)), (CONV_ADD, (torch.bfloat16,)))
            for dtype in dtypes}


def _disable(path: str, dtype: torch.dtype, exc: BaseException) -> None:
    _FAST[(path, dtype)] = False
    log.info("fast path %s for %s switched off: %s", path, dtype, exc)


def _probe(path: str, dtype: torch.dtype) -> bool:
    """Run the path once on a tiny input and compare it with plain PyTorch; any error or mismatch -> False."""
    if not torch.backends.mkldnn.is_available():
        return False
    if dtype == torch.bfloat16 and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return False  # no bf16 instructions oneDNN can use (AVX2-only CPUs): bf16 would be emulated or refused
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 8, 6, 6, generator=g).to(dtype).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(8, 8, 3, 3, generator=g).to(dtype), torch.randn(8, generator=g).to(dtype)
    other = torch.randn(1, 8, 6, 6, generator=g).to(dtype).contiguous(memory_format=torch.channels_last)
    try:
        with torch.no_grad():
            ref = F.conv2d(x.float(), w.float(), b.float(), padding=1)
            if path == PACKED_CONV:
                out = _packed_call({}, x, w, b, 1, None)
            else:
                out, ref = _add_call(x, w, b, other, 1), ref + other.float()
    except (RuntimeError, AttributeError, NotImplementedError) as exc:
        log.info("fast path %s for %s unavailable: %s", path, dtype, exc)
        return False
    tol = 1e-4 if dtype == torch.float32 else 0.05
    return bool(out.shape == ref.shape and (out.float() - ref).abs().max() <= tol * (1 + ref.abs().max()))


def _onednn_applies(x: torch.Tensor, path: str) -> bool:
    """Whether the oneDNN-specific ``path`` serves ``x``: inference on a CPU, channels_last, a dtype it runs."""
    return (not getattr(_PLAIN, "on", False) and x.device.type == "cpu" and not torch.is_grad_enabled()
            and x.is_contiguous(memory_format=torch.channels_last) and fast_path_available(path, x.dtype))


WeightSource = torch.Tensor | Callable[[], torch.Tensor]  # a weight, or a function making it when needed


def _packed_call(cache: dict, x: torch.Tensor, weight: WeightSource, bias: torch.Tensor | None, padding: int,
                 leaky: float | None) -> torch.Tensor:
    key = (tuple(x.shape), padding)
    pad = [padding, padding]
    packed = cache.get(key)
    if packed is None:
        while len(cache) >= _PACKED_SHAPES:  # odd shapes come and go
            cache.pop(next(iter(cache)))
        packed = torch._C._nn.mkldnn_reorder_conv2d_weight(_resolved(weight).to_mkldnn(), pad, [1, 1], [1, 1], 1,
                                                           list(x.shape))
        cache[key] = packed
    attr, scalars = ("none", []) if leaky is None else ("leaky_relu", [leaky])
    return torch.ops.mkldnn._convolution_pointwise(x, packed, bias, pad, [1, 1], [1, 1], 1, attr, scalars, "")


def _add_call(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, other: torch.Tensor,
              padding: int) -> torch.Tensor:
    pad = [padding, padding]
    return torch.ops.mkldnn._convolution_pointwise.binary(x, other, weight, bias, pad, [1, 1], [1, 1], 1, "add",
                                                          None, None, [], None)


def _resolved(weight: WeightSource) -> torch.Tensor:
    return weight() if callable(weight) else weight


def conv2d_packed(cache: dict, x: torch.Tensor, weight: WeightSource,
                  bias: torch.Tensor | None = None, padding: int = 0, leaky: float | None = None) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=padding)`` with the weight reordered into oneDNN's blocked layout once
    per input shape and kept in ``cache`` (which must die with ``weight``; ``weight`` may be a function making
    it, called only when the reordered copy is made: the plain weight need not be kept). Eager CPU convolutions
    reorder their weights on every call, which is most of the time of a convolution of a small image with 512
    channels.
    ``leaky``: a leaky ReLU of that slope applied by the convolution itself (no extra pass over the output).
    Falls back to ``F.conv2d`` where this path does not run for ``x``'s dtype."""
    if _onednn_applies(x, PACKED_CONV):
        try:
            return _packed_call(cache, x, weight, bias, padding, leaky)
        except (RuntimeError, AttributeError, NotImplementedError) as exc:
            cache.clear()
            _disable(PACKED_CONV, x.dtype, exc)
    out = F.conv2d(x, _resolved(weight), bias, padding=padding)
    return out if leaky is None else F.leaky_relu_(out, leaky)


def conv2d_add(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, other: torch.Tensor,
               padding: int = 0) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=padding) + other``; on a CPU in bf16 the sum is done by the convolution
    (in float32, rounded once) instead of by a second pass over the output."""
    if (x.dtype == torch.bfloat16 and other.dtype == x.dtype
            and other.is_contiguous(memory_format=torch.channels_last)
            and other.shape == (x.shape[0], weight.shape[0], *x.shape[2:]) and _onednn_applies(x, CONV_ADD)):
        try:
            return _add_call(x, weight, bias, other, padding)
        except (RuntimeError, AttributeError, NotImplementedError) as exc:
            _disable(CONV_ADD, x.dtype, exc)
    out = F.conv2d(x, weight, bias, padding=padding)
    return out.add_(other) if out.shape == other.shape else out + other


# -- stride-2 transposed 3x3 convolution as one ordinary convolution (polyphase) ------------------------------
# Output row 2m of ``conv_transpose2d(x, W, stride=2)`` is x[m] W[0] + x[m-1] W[2], row 2m+1 is x[m] W[1]: each
# output phase is a 2-tap filter of the input. So the four (row, column) phases are one 2x2 convolution of the
# input padded by 1, with 4*Cout outputs, whose results are interleaved. It spends 16 instead of 9 multiply-adds
# per tap and output channel, but ordinary convolutions run ~4x faster than transposed ones on bf16 matrix units.
_PHASE_TAPS = ((2, 0), (None, 1))  # per axis and phase: kernel index seen by filter taps 0 and 1


def polyphase_weight(w: torch.Tensor) -> torch.Tensor:
    """(Cout, Cin, 3, 3) weight of the transposed convolution (as ``conv_transpose2d(x, w.transpose(0, 1))``)
    -> (4*Cout, Cin, 2, 2), output channels ordered (row phase, column phase, Cout)."""
    cout, cin = w.shape[:2]
    k = w.new_zeros(2, 2, cout, cin, 2, 2)
    for a, row_taps in enumerate(_PHASE_TAPS):
        for b, col_taps in enumerate(_PHASE_TAPS):
            for th, kh in enumerate(row_taps):
                for tw, kw in enumerate(col_taps):
                    if kh is not None and kw is not None:
                        k[a, b, :, :, th, tw] = w[:, :, kh, kw]
    return k.reshape(4 * cout, cin, 2, 2)


def conv_transpose3x3_s2(x: torch.Tensor, poly: torch.Tensor, packed: dict | None = None) -> torch.Tensor:
    """``conv_transpose2d(x, w.transpose(0, 1), stride=2)`` ((B, Cout, 2H+1, 2W+1), channels_last) from
    ``poly = polyphase_weight(w)`` (rows may be pre-scaled per output channel); ``packed``: a cache for
    :func:`conv2d_packed` when ``poly`` is a long-lived tensor."""
    b, _, h, w = x.shape
    cout = poly.shape[0] // 4
    # (B, 4*Cout, H+1, W+1); the last odd row/column is past the edge
    y = F.conv2d(x, poly, padding=1) if packed is None else conv2d_packed(packed, x, poly, padding=1)
    ym = y.permute(0, 2, 3, 1).reshape(b, h + 1, w + 1, 2, 2, cout)
    out = y.new_empty(b, 2 * h + 1, 2 * w + 1, cout)
    out[:, 0::2, 0::2] = ym[:, :, :, 0, 0]
    out[:, 0::2, 1::2] = ym[:, :, :w, 0, 1]
    out[:, 1::2, 0::2] = ym[:, :h, :, 1, 0]
    out[:, 1::2, 1::2] = ym[:, :h, :w, 1, 1]
    return out.permute(0, 3, 1, 2)


class _Derived(tuple):
    """(key, value, parameters) of a :func:`derived` cache. A deep copy of the module (a preview copy in another
    dtype) starts without it: the copy's parameters are new, and reordered oneDNN tensors cannot be copied."""

    def __deepcopy__(self, memo):
        return None


def derived(module: nn.Module, slot: str, params, build, *extra):
    """Tensors computed from parameters once and reused until a parameter is replaced (``.to()``, loading into
    a new tensor) or modified in place (its version counter moves). ``extra`` joins the cache key (a dtype).
    With gradients enabled (training) nothing is cached: gradients must flow through what ``build`` computes."""
    if torch.is_grad_enabled():
        return build()
    params = tuple(params)
    key = tuple((id(p), p._version, p.dtype, p.device) for p in params) + extra
    cached = module.__dict__.get(slot)
    if cached is None or cached[0] != key:
        with torch.no_grad():
            cached = _Derived((key, build(), params))  # holding the parameters keeps their ids from being reused
        module.__dict__[slot] = cached
    return cached[1]


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None, slope: float = 0.2) -> torch.Tensor:
    if bias is not None:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        x = x + bias.view(shape).to(x.dtype)
    return F.leaky_relu(x, slope) * SQRT2


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class ScaledLeakyReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, 0.2) * SQRT2


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)


class Blur(nn.Module):
    def __init__(self, taps: list[float], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        kernel = make_kernel(taps)
        if upsample_factor > 1:
            kernel = kernel * upsample_factor**2
        self.register_buffer("kernel", kernel)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    def __init__(self, taps: list[float], factor: int = 2):
        super().__init__()
        self.factor = factor
        kernel = make_kernel(taps) * factor**2
        self.register_buffer("kernel", kernel)
        p = kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class EqualConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, bias: bool = True,
                 transpose: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale = 1.0 / math.sqrt(cin * k * k)
        self.stride, self.padding, self.transpose = stride, padding, transpose

    def scaled_weight(self) -> torch.Tensor:
        return self.weight * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.scaled_weight().to(x.dtype)
        b = None if self.bias is None else self.bias.to(x.dtype)
        if self.transpose:
            return F.conv_transpose2d(x, w.transpose(0, 1), bias=b, stride=self.stride, padding=self.padding)
        return F.conv2d(x, w, bias=b, stride=self.stride, padding=self.padding)


class EqualLinear(nn.Module):
    def __init__(self, din: int, dout: int, bias: bool = True, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dout, din) / lr_mul)
        self.bias = nn.Parameter(torch.full((dout,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(din)
        self.lr_mul = lr_mul
        self.activation = activation

    def effective(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(weight, bias) with the runtime scales applied."""
        b = None if self.bias is None else self.bias * self.lr_mul
        return self.weight * self.scale, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.effective()
        if self.activation:
            return fused_leaky_relu(F.linear(x, w), b)
        return F.linear(x, w, b)


class ConvLayer(nn.Sequential):
    """[Blur] -> EqualConv2d -> [Blur] -> [FusedLeakyReLU], indexed like the official ``ConvLayer``."""

    def __init__(self, cin: int, cout: int, k: int, downsample: bool = False, upsample: bool = False,
                 taps: tuple[float, ...] = (1, 3, 3, 1), bias: bool = True, activate: bool = True):
        layers: list[nn.Module] = []
        taps = list(taps)
        if downsample:
            p = (len(taps) - 2) + (k - 1)
            layers.append(Blur(taps, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        elif upsample:
            stride, padding = 2, 0
        else:
            stride, padding = 1, k // 2
        layers.append(EqualConv2d(cin, cout, k, stride, padding, bias=bias and not activate, transpose=upsample))
        if upsample:
            p = (len(taps) - 2) - (k - 1)
            layers.append(Blur(taps, pad=((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2))
        if activate:
            layers.append(FusedLeakyReLU(cout) if bias else ScaledLeakyReLU())
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """In inference the activation's sqrt(2) gain and bias are folded into the convolution
        (lrelu(s*y) = s*lrelu(y) for s > 0) and the activation runs in place: one pass over the output instead
        of three. Training runs the modules one by one."""
        act = self[-1]
        if (torch.is_grad_enabled() or not isinstance(act, FusedLeakyReLU | ScaledLeakyReLU)
                or getattr(_LITERAL, "on", False)):  # the literal baseline runs the official steps
            return super().forward(x)
        conv = next(m for m in self if isinstance(m, EqualConv2d))
        w, b, packed = derived(self, "_folded", list(self.parameters()), lambda: self._fold(conv, act, x.dtype),
                               x.dtype)
        if len(self) == 2 and conv.stride == 1:  # no blur: the convolution applies the activation itself
            return conv2d_packed(packed, x, w, b, padding=conv.padding, leaky=0.2)
        for m in list(self)[:-1]:
            if m is not conv:
                x = m(x)  # blur
            elif conv.transpose:  # the bias goes after the blur that follows
                x = F.conv_transpose2d(x, w.transpose(0, 1), stride=conv.stride, padding=conv.padding)
            else:
                x = F.conv2d(x, w, b, stride=conv.stride, padding=conv.padding)
        if conv.transpose and b is not None:
            x = x.add_(b.view(1, -1, 1, 1))
        return F.leaky_relu_(x, 0.2)

    @staticmethod
    def _fold(conv: EqualConv2d, act: nn.Module, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
        bias = getattr(act, "bias", None)
        w = (conv.weight.float() * (conv.scale * SQRT2)).to(dtype)
        return w, None if bias is None else (bias.float() * SQRT2).to(dtype), {}
