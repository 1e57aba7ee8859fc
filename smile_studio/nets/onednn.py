"""oneDNN fast paths for CPU inference: convolutions whose weights are reordered once and kept, a convolution
that adds its output to another tensor, and the stride-2 transposed convolution as one ordinary convolution.

Each (path, dtype) pair is probed once per process on a tiny input against plain PyTorch; a failure (bf16 on a CPU
with AVX2 only, say, or an operator this build lacks) switches off only that pair and every call falls back to the
plain operation. ``plain_convolutions()`` switches them all off for a block (FLOP counting, crops seldom seen twice).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .runtime import onednn_bf16_supported

# -- convolutions with weights reordered once ----------------------------------------------------------------
# The oneDNN-specific calls below are fast paths: each (path, dtype) pair is probed once per process on a tiny
# input against the plain PyTorch operation, and a failure (bf16 on a CPU with AVX2 only, say) switches off only
# that pair; every other pair, float32 included, keeps its fast path.
PACKED_CONV = "packed convolution"
PACKED_CONV_T = "packed transposed convolution"
CONV_ADD = "convolution with fused sum"
_FAST: dict[tuple[str, torch.dtype], bool] = {}
_PLAIN = threading.local()
_PACKED_SHAPES = 4  # reordered copies kept per weight (one per input shape seen lately, any batch size)
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
    """Whether ``path`` (PACKED_CONV, PACKED_CONV_T or CONV_ADD) runs for ``dtype`` in this process (probed on
    first use)."""
    key = (path, dtype)
    if key not in _FAST:
        _FAST[key] = _probe(path, dtype)
    return _FAST[key]


def fast_paths_report() -> dict[str, bool]:
    """{'packed convolution float32': True, ...} for every path and dtype the networks use."""
    return {f"{path} {str(dtype).removeprefix('torch.')}": fast_path_available(path, dtype)
            for path, dtypes in ((PACKED_CONV, (torch.float32, torch.bfloat16)), (PACKED_CONV_T, (torch.float32,)),
                                 (CONV_ADD, (torch.bfloat16,)))
            for dtype in dtypes}


def _disable(path: str, dtype: torch.dtype, exc: BaseException) -> None:
    _FAST[(path, dtype)] = False
    log.info("fast path %s for %s switched off: %s", path, dtype, exc)


def _probe(path: str, dtype: torch.dtype) -> bool:
    """Run the path once on a tiny input and compare it with plain PyTorch; any error or mismatch -> False."""
    if not torch.backends.mkldnn.is_available():
        return False
    if dtype == torch.bfloat16 and not onednn_bf16_supported():
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
            elif path == PACKED_CONV_T:
                ref = F.conv_transpose2d(x.float(), w.float(), stride=2)
                out = _packed_t_call({}, x, w)
            else:
                out, ref = _add_call(x, w, b, other, 1), ref + other.float()
    except (RuntimeError, AttributeError, NotImplementedError) as exc:
        log.info("fast path %s for %s unavailable: %s", path, dtype, exc)
        return False
    tol = 1e-4 if dtype == torch.float32 else 0.05
    return bool(out.shape == ref.shape and (out.float() - ref).abs().max() <= tol * (1 + ref.abs().max()))


def packed_path_applies(x: torch.Tensor) -> bool:
    """Whether :func:`conv2d_packed` would use its reordered weights for ``x`` (else it runs ``F.conv2d``)."""
    return _onednn_applies(x, PACKED_CONV)


def _onednn_applies(x: torch.Tensor, path: str) -> bool:
    """Whether the oneDNN-specific ``path`` serves ``x``: inference on a CPU, channels_last, a dtype it runs."""
    return (not getattr(_PLAIN, "on", False) and x.device.type == "cpu" and not torch.is_grad_enabled()
            and x.is_contiguous(memory_format=torch.channels_last) and fast_path_available(path, x.dtype))


WeightSource = torch.Tensor | Callable[[], torch.Tensor]  # a weight, or a function making it when needed


def _packed_call(cache: dict, x: torch.Tensor, weight: WeightSource, bias: torch.Tensor | None, padding: int,
                 leaky: float | None, stride: int = 1) -> torch.Tensor:
    key = (tuple(x.shape[1:]), padding, stride)  # one copy serves every batch size (oneDNN reorders if it must)
    pad, step = [padding, padding], [stride, stride]
    packed = cache.get(key)
    if packed is None:
        while len(cache) >= _PACKED_SHAPES:  # odd shapes come and go
            cache.pop(next(iter(cache)))
        packed = torch._C._nn.mkldnn_reorder_conv2d_weight(_resolved(weight).to_mkldnn(), pad, step, [1, 1], 1,
                                                           [1, *x.shape[1:]])
        cache[key] = packed
    attr, scalars = ("none", []) if leaky is None else ("leaky_relu", [leaky])
    return torch.ops.mkldnn._convolution_pointwise(x, packed, bias, pad, step, [1, 1], 1, attr, scalars, "")


def _packed_t_call(cache: dict, x: torch.Tensor, weight: WeightSource) -> torch.Tensor:
    key = tuple(x.shape[1:])
    packed = cache.get(key)
    if packed is None:
        while len(cache) >= _PACKED_SHAPES:
            cache.pop(next(iter(cache)))
        packed = cache[key] = torch.ops.mkldnn._reorder_convolution_transpose_weight(
            _resolved(weight).contiguous(), [0, 0], [0, 0], [2, 2], [1, 1], 1, [1, *x.shape[1:]])
    return torch.ops.mkldnn._convolution_transpose_pointwise(x, packed, None, [0, 0], [0, 0], [2, 2], [1, 1], 1,
                                                             "none", [], "")


def conv_transpose2d_packed(cache: dict, x: torch.Tensor, weight: WeightSource) -> torch.Tensor:
    """``F.conv_transpose2d(x, weight, stride=2)`` (``weight`` (Cin, Cout, k, k), or a function making it) with the
    weight reordered once per input shape (any batch size) and kept in ``cache``: eager transposed convolutions
    reorder their weights on every call, ~4x the time of the convolution itself for a 512-channel 8x8 input."""
    if _onednn_applies(x, PACKED_CONV_T):
        try:
            return _packed_t_call(cache, x, weight)
        except (RuntimeError, AttributeError, NotImplementedError) as exc:
            cache.clear()
            _disable(PACKED_CONV_T, x.dtype, exc)
    return F.conv_transpose2d(x, _resolved(weight), stride=2)


def _add_call(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, other: torch.Tensor,
              padding: int) -> torch.Tensor:
    pad = [padding, padding]
    return torch.ops.mkldnn._convolution_pointwise.binary(x, other, weight, bias, pad, [1, 1], [1, 1], 1, "add",
                                                          None, None, [], None)


def _resolved(weight: WeightSource) -> torch.Tensor:
    return weight() if callable(weight) else weight


def conv2d_packed(cache: dict, x: torch.Tensor, weight: WeightSource, bias: torch.Tensor | None = None,
                  padding: int = 0, leaky: float | None = None, stride: int = 1) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride, padding)`` with the weight reordered into oneDNN's blocked layout once
    per input shape (any batch size) and kept in ``cache`` (which must die with ``weight``; ``weight`` may be a
    function making it, called only when the reordered copy is made: the plain weight need not be kept). Eager
    CPU convolutions reorder their weights on every call, which is most of the time of a convolution of a small
    image with 512 channels.
    ``leaky``: a leaky ReLU of that slope applied by the convolution itself (no extra pass over the output).
    Falls back to ``F.conv2d`` where this path does not run for ``x``'s dtype."""
    if _onednn_applies(x, PACKED_CONV):
        try:
            return _packed_call(cache, x, weight, bias, padding, leaky, stride)
        except (RuntimeError, AttributeError, NotImplementedError) as exc:
            cache.clear()
            _disable(PACKED_CONV, x.dtype, exc)
    out = F.conv2d(x, _resolved(weight), bias, stride=stride, padding=padding)
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
_PHASE_TAPS = (((2,), (0,)), ((), (1,)))  # per axis and phase: kernel indices summed into filter taps 0 and 1


def _phase_weight(w: torch.Tensor, taps) -> torch.Tensor:
    """(Cout, Cin, 3, 3) -> (4*Cout, Cin, 2, 2): per (row phase, column phase), filter tap (i, j) is the sum of
    the kernel entries ``taps`` lists for it (none: zero); output channels ordered (row phase, column phase, Cout)."""
    cout, cin = w.shape[:2]
    k = w.new_zeros(2, 2, cout, cin, 2, 2)
    for a, row_taps in enumerate(taps):
        for b, col_taps in enumerate(taps):
            for th, rows in enumerate(row_taps):
                for tw, cols in enumerate(col_taps):
                    if rows and cols:
                        k[a, b, :, :, th, tw] = w[:, :, list(rows)][:, :, :, list(cols)].sum((2, 3))
    return k.reshape(4 * cout, cin, 2, 2)


def polyphase_weight(w: torch.Tensor) -> torch.Tensor:
    """(Cout, Cin, 3, 3) weight of the transposed convolution (as ``conv_transpose2d(x, w.transpose(0, 1))``)
    -> (4*Cout, Cin, 2, 2), output channels ordered (row phase, column phase, Cout)."""
    return _phase_weight(w, _PHASE_TAPS)


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


# -- nearest x2 upsampling followed by a 3x3 convolution, as one 2x2 convolution of the small input (polyphase) --
# Output row 2m of conv3x3(upsample2x(x)) sees input rows m-1 (kernel row 0) and m (rows 1 + 2); row 2m+1 sees
# rows m (rows 0 + 1) and m+1 (row 2); columns likewise. So the four output phases are 2x2 filters of the input:
# 16 multiply-adds per output pixel and channel pair instead of 36, and no upsampled copy of the input is made.
_NEAREST_TAPS = (((0,), (1, 2)), ((0, 1), (2,)))  # per phase: kernel indices summed into filter taps 0 and 1


def nearest_polyphase_weight(w: torch.Tensor) -> torch.Tensor:
    """(Cout, Cin, 3, 3) -> (4*Cout, Cin, 2, 2), output channels ordered (row phase, column phase, Cout)."""
    return _phase_weight(w, _NEAREST_TAPS)


def upsample_conv3x3(x: torch.Tensor, poly: WeightSource, scale: torch.Tensor | None = None,
                     packed: dict | None = None) -> torch.Tensor:
    """``F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, padding=1)`` (channels_last) from
    ``poly = nearest_polyphase_weight(w)`` (or a function making it, with ``packed``: a :func:`conv2d_packed`
    cache); ``scale`` (B, Cout) multiplies the output channels while the phases are interleaved."""
    b, _, h, w = x.shape
    y = F.conv2d(x, _resolved(poly), padding=1) if packed is None else conv2d_packed(packed, x, poly, padding=1)
    cout = y.shape[1] // 4
    ym = y.permute(0, 2, 3, 1).reshape(b, h + 1, w + 1, 2, 2, cout)  # (B, H+1, W+1, row phase, col phase, C)
    out = y.new_empty(b, h, 2, w, 2, cout)
    s = None if scale is None else scale.to(y.dtype)[:, None, None, :]
    for a in range(2):
        for c in range(2):
            phase = ym[:, a:a + h, c:c + w, a, c]
            if s is None:
                out[:, :, a, :, c] = phase
            else:
                torch.mul(phase, s, out=out[:, :, a, :, c])
    return out.view(b, 2 * h, 2 * w, cout).permute(0, 3, 1, 2)
