"""SMILE_SYN's fast inference maths, layer by layer, over the reference layers of :mod:`.syn_layers` (their
parameters, never their forward). Each function computes what a reference layer's ``forward`` computes, with
less work; ``tests/unit/nets/test_syn.py`` holds them equal (the reference forward against
:func:`.syn_fast.synthesize`, and the golden fixtures).

* **Folded style convolution.** The style branch convolves a map that is constant per region; that equals a
  convolution of the *one-hot* map with per-sample weights folded from the region codes (19 input channels
  instead of 64, no style map built).
* **Window-sum demodulation.** ``sum_hw conv(g^2, W^2)`` from border-exact window sums of ``g^2`` (the positions
  each kernel tap sees) instead of a second full convolution.
* **Banded SPADE.** In float32 on a CPU the SPADE branch's second convolution is a per-class constant inside
  regions: only pixels near region borders are convolved.
* **Prepared weights.** Stacked region MLPs, the folded blend factor and oneDNN-reordered weights, made once
  per parameter state; in bf16 on a CPU the stride-2 transposed convolutions run as one polyphase convolution.
* Demodulation and the activation gain folded into the convolution's weights or output; bias and noise added
  in place.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .layers import SQRT2, derived, layout_of, scaled_copy
from .onednn import conv2d_add, conv2d_packed, conv_transpose2d_packed, conv_transpose3x3_s2, polyphase_weight
from .syn_layers import CODE_DIM, NUM_LABELS, RegionModConv, SPADEMod, StyledConv, ToRGB


def window_sums(g2: torch.Tensor, k: int, edges: tuple[bool, bool, bool, bool] = (True, True, True, True),
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Border-exact window sums for a k x k 'same' convolution (zero padding k//2), k in (1, 3).

    S[b, c, i, j] = sum of ``g2`` over the input positions that kernel tap (i, j) touches across all output
    positions, so that ``sum_hw conv2d(g2, w, padding=k//2) = sum_{c,i,j} w[o, c, i, j] * S[b, c, i, j]``.
    Tap i = 0 (offset -1) never sees the last row, tap i = 2 never sees the first row; likewise for columns.
    ``g2`` may be a part of the image: ``edges`` says whether it holds the image's (first row, last row, first
    column, last column), and the result is that part's contribution (sums are additive over parts).
    """
    if g2.dtype in (torch.bfloat16, torch.float16):
        # a reduced-precision sum over H, W is ~5x slower than a matrix product with a ones vector
        b, c = g2.shape[:2]
        flat = g2.permute(0, 2, 3, 1).reshape(b, -1, c)
        total = torch.bmm(flat.new_ones(b, 1, flat.shape[1]), flat)[:, 0].to(dtype)
    else:
        total = g2.sum((2, 3), dtype=dtype)
    if k == 1:
        return total[:, :, None, None]
    if k != 3:
        raise ValueError("window sums are implemented for 1x1 and 3x3 kernels")
    first, last, left, right = edges
    rows = (g2[:, :, -1, :].sum(-1, dtype=dtype) if last else None, None,
            g2[:, :, 0, :].sum(-1, dtype=dtype) if first else None)  # the row tap i never sees
    cols = (g2[:, :, :, -1].sum(-1, dtype=dtype) if right else None, None,
            g2[:, :, :, 0].sum(-1, dtype=dtype) if left else None)  # the column tap j never sees
    corner = {(0, 0): (last and right, (-1, -1)), (0, 2): (last and left, (-1, 0)),
              (2, 0): (first and right, (0, -1)), (2, 2): (first and left, (0, 0))}
    out = []
    for i in range(3):
        row = []
        for j in range(3):
            v = total
            if rows[i] is not None:
                v = v - rows[i]
            if cols[j] is not None:
                v = v - cols[j]
            if (i, j) in corner and corner[(i, j)][0]:
                y, x = corner[(i, j)][1]
                v = v + g2[:, :, y, x].to(dtype)
            row.append(v)
        out.append(torch.stack(row, -1))
    return torch.stack(out, -2)


# -- SPADE ---------------------------------------------------------------------------------------------------------
def spade_scaled(spade: SPADEMod, sem: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
    """``spade(sem)`` times ``scale`` (a scalar) folded into the last convolution's weights."""
    act = spade.mlp_shared(sem)
    if scale is None:
        return spade.mlp_gamma(act)
    conv = spade.mlp_gamma[0]
    scale = scale.float()
    w = scaled_copy(conv.weight.float(), conv.scale * scale, act.dtype, layout_of(act))
    return F.conv2d(act, w, (conv.bias.float() * scale).to(act.dtype), padding=conv.padding)


def spade_banded(spade: SPADEMod, sem: torch.Tensor, band: np.ndarray, labels: np.ndarray) -> torch.Tensor:
    """``spade(sem)``, computing the second convolution only near region borders (batch 1).

    Away from borders the first layer's output is constant per class (a_c = lrelu(sum_k W1[:, c, k] + b1)),
    so the second convolution there is a per-class constant g_c = sum_k W2[:, :, k] a_c + b2. ``band`` marks
    the pixels whose 5x5 neighbourhood is not one class or that lie within 2 px of the image edge; only they
    are convolved (as a gather of 3x3 patches and one matrix product). Exact up to summation order.
    """
    h, w = labels.shape
    act = spade.mlp_shared(sem)  # (1, 128, h, w)
    c1, c2 = spade.mlp_shared[0], spade.mlp_gamma[0]
    w1 = c1.weight.float() * c1.scale  # (128, 19, 3, 3)
    w2 = c2.weight.float() * c2.scale  # (C, 128, 3, 3)
    a = F.leaky_relu(w1.sum((2, 3)).t() + spade.mlp_shared[1].bias.float(), 0.2) * SQRT2  # (19, 128)
    g = a @ w2.sum((2, 3)).t() + c2.bias.float()  # (19, C)
    dtype = act.dtype
    dev = act.device
    out = g.to(dev, dtype)[torch.from_numpy(labels.reshape(-1).astype(np.int64)).to(dev)]  # (h*w, C)
    idx = torch.from_numpy(np.flatnonzero(band)).to(dev)
    if idx.numel():
        cin = act.shape[1]
        padded = F.pad(act, (1, 1, 1, 1)).permute(0, 2, 3, 1).reshape(-1, cin)  # ((h+2)*(w+2), 128)
        centre = (idx // w + 1) * (w + 2) + (idx % w + 1)
        taps = torch.tensor([dy * (w + 2) + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)], device=dev)
        patches = padded[centre[:, None] + taps[None, :]].reshape(idx.numel(), -1)  # one gather, (N, 9*128)
        wm = w2.permute(0, 2, 3, 1).reshape(w2.shape[0], -1).to(dtype)  # (C, 9*128), taps in (dy, dx) order
        out[idx] = torch.addmm(c2.bias.to(dtype), patches, wm.t())
    return out.view(1, h, w, -1).permute(0, 3, 1, 2)  # channels_last, no copy


def border_band(labels: np.ndarray, radius: int = 2) -> np.ndarray:
    """Pixels whose (2r+1)^2 neighbourhood holds more than one class, or within r of the image edge."""
    import cv2

    k = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    band = cv2.dilate(labels, k) != cv2.erode(labels, k)
    band[:radius] = band[-radius:] = True
    band[:, :radius] = band[:, -radius:] = True
    return band


# -- the region-wise modulated convolution ---------------------------------------------------------------------
def prepared(conv: RegionModConv, dtype: torch.dtype) -> dict:
    """Stacked region MLPs, the folded blend factor, caches of oneDNN-reordered weights (the per-call
    preprocessing was ~30 % of a render). Recomputed when a parameter is replaced or modified in place (its
    version changes). Neither the scaled weight nor its square is kept (each a copy of every weight, ~60 MB):
    the gain is folded per call or only into the reordered copies, the square made per demodulation."""
    return derived(conv, "_prep", list(conv.parameters()), lambda: _prepare(conv, dtype), dtype)


def _prepare(conv: RegionModConv, dtype: torch.dtype) -> dict:
    # oneDNN-reordered scaled weight (as a convolution, as a transposed one) / "poly", per input shape
    prep = {"packed": {}, "packed_t": {}, "packed_poly": {}}
    if not conv.only_spade:
        a = torch.sigmoid(conv.blending_gamma.float())
        sg = conv.style_gamma[0]
        # region MLPs stay float32: 19 tiny matmuls are faster in float32 than in bf16 on a CPU
        prep["fc_w"] = torch.stack([m.weight.float() for m in conv.fc_mu]) * conv.fc_mu[0].scale
        prep["fc_b"] = torch.stack([m.bias.float() for m in conv.fc_mu]) * conv.fc_mu[0].lr_mul
        # (Cin*9, 64): folding the region codes into it is one small matmul
        prep["sg_w"] = (sg.weight.float() * sg.scale * a).permute(0, 2, 3, 1).reshape(-1, CODE_DIM)
        prep["sg_b"] = (sg.bias.float() * a).to(dtype)
    if conv.upsample and dtype in (torch.bfloat16, torch.float16) and conv.weight.device.type == "cpu":
        # CPU matrix units: see onednn.conv_transpose3x3_s2
        prep["poly"] = polyphase_weight(conv.weight.float() * conv.scale).to(dtype)
    return prep


def scaled_weight(conv: RegionModConv, dtype: torch.dtype, out_scale: torch.Tensor | None = None,
                  memory_format: torch.memory_format = torch.channels_last) -> torch.Tensor:
    """The weight with its runtime scale (times ``out_scale`` (Cout,) per output channel) in ``dtype``, laid
    out as the fast path's inputs are (channels_last)."""
    factor = conv.scale if out_scale is None else out_scale.float().view(-1, 1, 1, 1) * conv.scale
    return scaled_copy(conv.weight.float(), factor, dtype, memory_format)


def upsample_conv(conv: RegionModConv, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
    """Stride-2 transposed convolution + blur of the modulated input; ``scale`` (Cout,) multiplies the weights'
    output channels."""
    p = prepared(conv, x.dtype)
    if "poly" in p:
        if scale is None:
            return conv.blur(conv_transpose3x3_s2(x, p["poly"], p["packed_poly"]))
        return conv.blur(conv_transpose3x3_s2(x, p["poly"] * scale.to(x.dtype).repeat(4).view(-1, 1, 1, 1)))
    if scale is None:  # the weights as they are (a coarse level, where weights outweigh the output)
        return conv.blur(conv_transpose2d_packed(p["packed_t"], x, lambda: scaled_weight(
            conv, x.dtype, memory_format=torch.contiguous_format).transpose(0, 1)))
    return conv.blur(F.conv_transpose2d(x, scaled_weight(conv, x.dtype, scale, torch.contiguous_format).transpose(
        0, 1), stride=2))


def region_vectors(conv: RegionModConv, style: torch.Tensor) -> torch.Tensor:
    """fc_mu[j](style[:, j]) for every region j at once: (B, 19, 64)."""
    p = prepared(conv, style.dtype)
    return torch.einsum("jed,bjd->bje", p["fc_w"], style.float()) + p["fc_b"]


def style_gamma(conv: RegionModConv, style: torch.Tensor, sem: torch.Tensor, plus: torch.Tensor) -> torch.Tensor:
    """sigmoid(b) * style_gamma(style map) + ``plus``, as a convolution of the one-hot map with code-folded
    weights: a 3x3 convolution of a map that is constant per region j (value u_j) equals a convolution of the
    one-hot map with weights W'[c, j] = sum_d W[c, d] u_j[d]."""
    p = prepared(conv, sem.dtype)
    u = region_vectors(conv, style)  # (B, 19, 64) float32
    bsz, h, wd = u.shape[0], sem.shape[-2], sem.shape[-1]
    w = torch.matmul(p["sg_w"], u.transpose(1, 2))  # (B, Cin*9, 19)
    w = w.view(bsz, conv.cin, 3, 3, NUM_LABELS).permute(0, 1, 4, 2, 3).to(sem.dtype)
    bias = p["sg_b"]
    if bsz == 1:
        return conv2d_add(sem, w[0], bias, plus, padding=1)
    if sem.shape[0] == 1:
        out = F.conv2d(sem, w.reshape(bsz * conv.cin, NUM_LABELS, 3, 3), padding=1)
    else:
        out = F.conv2d(sem.reshape(1, bsz * NUM_LABELS, h, wd), w.reshape(bsz * conv.cin, NUM_LABELS, 3, 3),
                       padding=1, groups=bsz)
    return (out.reshape(bsz, conv.cin, h, wd) + bias.view(1, -1, 1, 1)).add_(plus)


def spade_term(conv: RegionModConv, sem: torch.Tensor, band: tuple | None = None) -> torch.Tensor:
    """The map-only part of gamma: (1 - sigmoid(b)) * SPADE(map), or SPADE(map) on SPADE-only layers.
    ``band`` = (border band, labels) switches to the banded computation."""
    scale = None if conv.only_spade else 1 - torch.sigmoid(conv.blending_gamma)
    if band is None:
        return spade_scaled(conv.spade_gamma, sem, scale)
    spade = spade_banded(conv.spade_gamma, sem, *band)
    return spade if scale is None else spade * scale.to(spade.dtype)


def gamma(conv: RegionModConv, style: torch.Tensor, sem: torch.Tensor, spade: torch.Tensor) -> torch.Tensor:
    """The modulation: the SPADE term alone on SPADE-only layers, plus the style branch elsewhere."""
    return spade if conv.only_spade else style_gamma(conv, style, sem, spade)


def demodulation(conv: RegionModConv, g: torch.Tensor) -> torch.Tensor:
    """rsqrt(sum_hw conv(g^2, W^2) / HW + 1e-8) from window sums of g^2: (B, Cout) float32."""
    return demod_from_sums(conv, window_sums(g * g, conv.k), g.shape[-2] * g.shape[-1], g.dtype)


def demod_from_sums(conv: RegionModConv, sums: torch.Tensor, pixels: int, dtype: torch.dtype) -> torch.Tensor:
    """The demodulation from the window sums of g^2 (B, Cin, k, k) over an image of ``pixels`` pixels:
    rsqrt(sum W^2 sums * scale^2 / pixels). W^2 is made per call (~0.3 ms for a 512x512 layer) rather than
    kept: a copy of every weight, ~60 MB."""
    w = conv.weight.float()
    w2, sums = w * w, sums.float()
    if not w2.is_contiguous():  # channels_last: match the taps' order instead of copying the weight
        w2, sums = w2.permute(0, 2, 3, 1), sums.permute(0, 2, 3, 1)
    energy = torch.matmul(sums.reshape(sums.shape[0], -1), w2.reshape(conv.cout, -1).t())
    return torch.rsqrt(energy * (conv.scale**2 / pixels) + 1e-8)


# -- whole layers --------------------------------------------------------------------------------------------------
def styled_conv(layer: StyledConv, x: torch.Tensor, style: torch.Tensor, sem: torch.Tensor, noise: torch.Tensor,
                spade: torch.Tensor, demod: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``layer(x, style, sem, noise)`` with fewer passes over memory: (its output, the demodulation applied).
    Demodulation and the activation gain sqrt(2) are folded into the convolution (lrelu(s*y) = s*lrelu(y) for
    s > 0), bias and noise added in place. ``demod``: a given demodulation (a SPADE-only layer's depends on the
    map alone and is cached; a local update of a part of the image reuses the whole image's)."""
    conv = layer.conv
    g = gamma(conv, style, sem, spade)
    if demod is None:
        demod = demodulation(conv, g)
    gain = demod * SQRT2  # (B, Cout)
    xg = x * g
    bias = (layer.activate.bias * SQRT2).to(x.dtype)
    bsz = xg.shape[0]
    out_elems = conv.cout * xg.shape[-2] * xg.shape[-1] * (4 if conv.upsample else 1)
    if bsz == 1 and conv.weight.numel() < out_elems:  # fold the gain into the smaller of weights/output
        if conv.upsample:
            out = upsample_conv(conv, xg, gain[0])
            out.add_(bias.view(1, -1, 1, 1))
        else:
            out = F.conv2d(xg, scaled_weight(conv, x.dtype, gain[0]), bias=bias, padding=conv.padding)
    else:
        if conv.upsample:
            out = upsample_conv(conv, xg)
        else:
            out = conv2d_packed(prepared(conv, x.dtype)["packed"], xg, lambda: scaled_weight(conv, x.dtype),
                                padding=conv.padding)
        out.mul_(gain.to(x.dtype)[:, :, None, None]).add_(bias.view(1, -1, 1, 1))
    out.add_(noise.to(x.dtype) * (layer.noise.weight * SQRT2).to(x.dtype))
    return F.leaky_relu_(out, 0.2), demod


def to_rgb(layer: ToRGB, x: torch.Tensor, style: torch.Tensor, sem: torch.Tensor, skip: torch.Tensor | None,
           spade: torch.Tensor) -> torch.Tensor:
    """``layer(x, style, sem, skip)``. The image is accumulated in float32 whatever the compute dtype: it is a
    sum over levels whose rounding in bf16 (8 bits) would cost ~1e-2 on values of a few units."""
    g = gamma(layer.conv, style, sem, spade)
    out = F.conv2d(x * g, scaled_weight(layer.conv, x.dtype)).float() + layer.bias.float()
    if skip is not None:
        out = out + layer.upsample(skip)
    return out


def run_layer(layer: StyledConv | ToRGB, x: torch.Tensor, skip: torch.Tensor | None, style: torch.Tensor,
              sem: torch.Tensor, spade: torch.Tensor, noise: torch.Tensor | None, demod: torch.Tensor | None
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One layer of the generator: (its output, the demodulation it applied; None for a ToRGB)."""
    if isinstance(layer, ToRGB):
        return to_rgb(layer, x, style, sem, skip, spade), None
    return styled_conv(layer, x, style, sem, noise, spade, demod)
