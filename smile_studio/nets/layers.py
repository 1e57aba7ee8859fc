"""Building blocks shared by the networks, with the official parameter names and runtime scales.

Equalised-learning-rate layers store *unscaled* weights (as the official checkpoints do) and apply
``1/sqrt(fan_in)`` (times ``lr_mul``) in forward. ``upfirdn2d`` is the plain-PyTorch version of the StyleGAN2
up-sample / FIR-filter / down-sample op; no compiled extension is needed.
"""

from __future__ import annotations

import contextlib
import math
import threading

import torch
import torch.nn.functional as F
from torch import nn

from .onednn import conv2d_packed

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
    before, _LITERAL.on = getattr(_LITERAL, "on", False), True
    try:
        yield
    finally:
        _LITERAL.on = before


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


def scaled_copy(weight: torch.Tensor, factor, dtype: torch.dtype,
                memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """``(weight * factor).to(dtype)`` made directly in ``memory_format`` (one pass). A convolution of a
    channels_last input with a weight in the plain layout copies the weight into channels_last on every call
    (~2 ms for 512x512x3x3), or small inputs fall back to PyTorch's slow kernel."""
    if torch.is_grad_enabled():
        return (weight * factor).to(dtype=dtype, memory_format=memory_format)
    return torch.mul(weight, factor, out=torch.empty(weight.shape, dtype=dtype, device=weight.device,
                                                     memory_format=memory_format))


def layout_of(x: torch.Tensor) -> torch.memory_format:
    """channels_last for a 4-d tensor laid out so (and not also plainly contiguous), else the plain layout."""
    cl = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if cl else torch.contiguous_format


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
        b = None if self.bias is None else self.bias.to(x.dtype)
        if self.transpose:
            w = self.scaled_weight().to(x.dtype)
            return F.conv_transpose2d(x, w.transpose(0, 1), bias=b, stride=self.stride, padding=self.padding)
        w = scaled_copy(self.weight, self.scale, x.dtype, layout_of(x))
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
