"""SMILE_SYN: semantic image synthesis with region-wise adaptive convolutions (official ``metrics/smileSYN.py``).

State-dict keys and shapes equal the official ``smileSYN_{256,512}.pth["g_ema"]``. Two implementations of the
same maths share the parameters:

* ``impl="fast"`` (default). The region style map is never built: the style branch's 3x3 convolution of a map
  that is constant per region equals a convolution of the *one-hot* map with per-sample weights folded from the
  region codes (19 input channels instead of 64). The demodulation ``sum_hw conv(g^2, W^2)`` is computed from
  border-exact window sums of ``g^2`` (sum over the positions each kernel tap sees), not from a second full
  convolution. Everything that depends only on the map (the semantic stem, every SPADE branch and the
  demodulation of the SPADE-only level, the resized one-hot maps) is computed once by
  :meth:`SynGenerator.map_features` and reused while only styles change; in float32 on a CPU the SPADE branch's
  second convolution is evaluated only near region borders (it is a per-class constant inside regions).
  On a CPU, weights that do not change per render are reordered for oneDNN once (``layers.conv2d_packed``);
  in bf16 the stride-2 transposed convolutions run as one polyphase convolution
  (``layers.conv_transpose3x3_s2``) and the style branch's convolution adds the cached SPADE term itself.
* ``impl="reference"``: the official algorithm literally (per-region Python loops with ``masked_scatter_``, a full
  convolution for the demodulation); kept as the baseline for tests and benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .layers import (
    SQRT2,
    Blur,
    ConvLayer,
    EqualLinear,
    FusedLeakyReLU,
    PixelNorm,
    Upsample,
    conv2d_add,
    conv2d_packed,
    conv_transpose3x3_s2,
    derived,
    literal_upfirdn2d,
    polyphase_weight,
)

NUM_LABELS = 19
CODE_DIM = 64
STYLE_DIM = NUM_LABELS * CODE_DIM  # 1216
TAPS = (1, 3, 3, 1)


def one_hot(labels: torch.Tensor, num_classes: int = NUM_LABELS) -> torch.Tensor:
    """(B, H, W) integer ids -> (B, C, H, W) float one-hot (the official ``scatterMask``)."""
    return F.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).float()


def resize_nearest(sem: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return sem if tuple(sem.shape[-2:]) == tuple(size) else F.interpolate(sem, size=size, mode="nearest")


def window_sums(g2: torch.Tensor, k: int) -> torch.Tensor:
    """Border-exact window sums for a k x k 'same' convolution (zero padding k//2), k in (1, 3).

    S[b, c, i, j] = sum of ``g2`` over the input positions that kernel tap (i, j) touches across all output
    positions, so that ``sum_hw conv2d(g2, w, padding=k//2) = sum_{c,i,j} w[o, c, i, j] * S[b, c, i, j]``.
    Tap i = 0 (offset -1) never sees the last row, tap i = 2 never sees the first row; likewise for columns.
    """
    if g2.dtype in (torch.bfloat16, torch.float16):
        # a reduced-precision sum over H, W is ~5x slower than a matrix product with a ones vector
        b, c = g2.shape[:2]
        flat = g2.permute(0, 2, 3, 1).reshape(b, -1, c)
        total = torch.bmm(flat.new_ones(b, 1, flat.shape[1]), flat)[:, 0].float()
    else:
        total = g2.sum((2, 3), dtype=torch.float32)
    if k == 1:
        return total[:, :, None, None]
    if k != 3:
        raise ValueError("window sums are implemented for 1x1 and 3x3 kernels")
    first_row, last_row = g2[:, :, 0, :].sum(-1, dtype=torch.float32), g2[:, :, -1, :].sum(-1, dtype=torch.float32)
    first_col, last_col = g2[:, :, :, 0].sum(-1, dtype=torch.float32), g2[:, :, :, -1].sum(-1, dtype=torch.float32)
    rows = (last_row, None, first_row)  # row excluded by tap i
    cols = (last_col, None, first_col)  # column excluded by tap j
    corner = {(0, 0): g2[:, :, -1, -1], (0, 2): g2[:, :, -1, 0], (2, 0): g2[:, :, 0, -1], (2, 2): g2[:, :, 0, 0]}
    out = []
    for i in range(3):
        row = []
        for j in range(3):
            v = total
            if rows[i] is not None:
                v = v - rows[i]
            if cols[j] is not None:
                v = v - cols[j]
            if (i, j) in corner:
                v = v + corner[(i, j)].float()
            row.append(v)
        out.append(torch.stack(row, -1))
    return torch.stack(out, -2)


def fill_missing_codes(codes: torch.Tensor, present: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Regions absent from the photo take the whole 64-d row of ``fill`` (e.g. a random mapped style).

    The official ``extract_style`` replaces every *element* equal to 0; absent rows are all zero, so the result
    is the same except where a present region's code holds an exact 0, which we keep.
    """
    fill = fill.reshape(codes.shape).to(codes.dtype)
    return torch.where(present.reshape(codes.shape[:2])[..., None], codes, fill)


def apply_region_codes(style: torch.Tensor, ref_codes: torch.Tensor, classes, layout_present: torch.Tensor
                       ) -> torch.Tensor:
    """``style`` with the rows of ``classes`` taken from ``ref_codes`` where the class is in the layout and the
    reference has a code for it (the official reference path of ``replace_sem_with_w(domain=...)``)."""
    out = style.clone()
    ref = ref_codes.reshape(style.shape).to(style.dtype)
    for j in classes:
        take = layout_present[:, j] & (ref[:, j] != 0).any(-1)
        out[:, j] = torch.where(take[:, None], ref[:, j], out[:, j])
    return out


def mix_styles(sources: list[torch.Tensor], choice) -> torch.Tensor:
    """Per-region style mixing: region j takes the whole 64-d code of ``sources[choice[j]]``.

    Copies full rows. (The official helper, given a flattened (B, 1216) style, copies one broadcast scalar per
    region instead of its 64-d code; that bug is deliberately not reproduced.)
    """
    stack = torch.stack([s.reshape(s.shape[0], NUM_LABELS, CODE_DIM) for s in sources])  # (K, B, 19, 64)
    idx = torch.as_tensor(list(choice), dtype=torch.long)
    if idx.shape != (NUM_LABELS,) or int(idx.min()) < 0 or int(idx.max()) >= len(sources):
        raise ValueError(f"choice needs {NUM_LABELS} indices into {len(sources)} sources")
    return stack[idx, :, torch.arange(NUM_LABELS)].permute(1, 0, 2).contiguous()


class SPADEMod(nn.Module):
    """gamma from the layout alone: conv3x3(19->128) + lrelu, conv3x3(128->C)."""

    def __init__(self, channels: int, labels: int = NUM_LABELS):
        super().__init__()
        self.mlp_shared = ConvLayer(labels, 128, 3, activate=True)
        self.mlp_gamma = ConvLayer(128, channels, 3, activate=False)

    def forward(self, sem: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """gamma, times ``scale`` (a scalar) folded into the last convolution's weights."""
        act = self.mlp_shared(sem)
        if scale is None:
            return self.mlp_gamma(act)
        conv = self.mlp_gamma[0]
        scale = scale.float()
        w, b = conv.weight.float() * conv.scale * scale, conv.bias.float() * scale
        return F.conv2d(act, w.to(act.dtype), b.to(act.dtype), padding=conv.padding)

    def forward_banded(self, sem: torch.Tensor, band: np.ndarray, labels: np.ndarray) -> torch.Tensor:
        """The same gamma, computing the second convolution only near region borders (batch 1).

        Away from borders the first layer's output is constant per class (a_c = lrelu(sum_k W1[:, c, k] + b1)),
        so the second convolution there is a per-class constant g_c = sum_k W2[:, :, k] a_c + b2. ``band`` marks
        the pixels whose 5x5 neighbourhood is not one class or that lie within 2 px of the image edge; only they
        are convolved (as a gather of 3x3 patches and one matrix product). Exact up to summation order.
        """
        h, w = labels.shape
        act = self.mlp_shared(sem)  # (1, 128, h, w)
        c1, c2 = self.mlp_shared[0], self.mlp_gamma[0]
        w1 = c1.weight.float() * c1.scale  # (128, 19, 3, 3)
        w2 = c2.weight.float() * c2.scale  # (C, 128, 3, 3)
        a = F.leaky_relu(w1.sum((2, 3)).t() + self.mlp_shared[1].bias.float(), 0.2) * SQRT2  # (19, 128)
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


class RegionModConv(nn.Module):
    """``ModulatedConv2d_SEAN``: the input is modulated by gamma = a*style_gamma(region codes) + (1-a)*SPADE(map)."""

    def __init__(self, cin: int, cout: int, k: int, demodulate: bool = True, upsample: bool = False,
                 only_spade: bool = False):
        super().__init__()
        self.cin, self.cout, self.k = cin, cout, k
        self.demodulate, self.upsample, self.only_spade = demodulate, upsample, only_spade
        self.blending_gamma = nn.Parameter(torch.zeros(1))
        self.spade_gamma = SPADEMod(cin)
        if not only_spade:
            self.fc_mu = nn.ModuleList(EqualLinear(CODE_DIM, CODE_DIM, bias_init=1) for _ in range(NUM_LABELS))
            self.style_gamma = ConvLayer(CODE_DIM, cin, 3, activate=False)
        if upsample:
            p = (len(TAPS) - 2) - (k - 1)
            self.blur = Blur(list(TAPS), pad=((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)
        self.scale = 1.0 / math.sqrt(cin * k * k)
        self.padding = k // 2
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))

    # -- weights prepared once per parameter state (the fast path's per-call preprocessing was ~30 % of a render)
    def prepared(self, dtype: torch.dtype) -> dict:
        """Scaled weights in ``dtype``, squared weights for the demodulation, stacked region MLPs, the folded
        blend factor. Recomputed when a parameter is replaced or modified in place (its version changes)."""
        return derived(self, "_prep", list(self.parameters()), lambda: self._prepare(dtype), dtype)

    def _prepare(self, dtype: torch.dtype) -> dict:
        w = self.weight.float() * self.scale
        prep = {"w": w.to(dtype),
                "w2": (w**2).reshape(self.cout, -1),  # (Cout, Cin*k*k): the demodulation is one matvec
                "packed": {}, "packed_poly": {}}  # oneDNN-reordered "w" / "poly" per input shape
        if not self.only_spade:
            a = torch.sigmoid(self.blending_gamma.float())
            conv = self.style_gamma[0]
            # region MLPs stay float32: 19 tiny matmuls are faster in float32 than in bf16 on a CPU
            prep["fc_w"] = torch.stack([m.weight.float() for m in self.fc_mu]) * self.fc_mu[0].scale
            prep["fc_b"] = torch.stack([m.bias.float() for m in self.fc_mu]) * self.fc_mu[0].lr_mul
            # (Cin*9, 64): folding the region codes into it is one small matmul
            prep["sg_w"] = (conv.weight.float() * conv.scale * a).permute(0, 2, 3, 1).reshape(-1, CODE_DIM)
            prep["sg_b"] = (conv.bias.float() * a).to(dtype)
        if self.upsample and dtype in (torch.bfloat16, torch.float16) and w.device.type == "cpu":
            prep["poly"] = polyphase_weight(w).to(dtype)  # CPU matrix units: see layers.conv_transpose3x3_s2
        return prep

    def upsample_conv(self, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Stride-2 transposed convolution + blur of the modulated input; ``scale`` (Cout,) multiplies the
        weights' output channels."""
        p = self.prepared(x.dtype)
        if "poly" in p:
            if scale is None:
                return self.blur(conv_transpose3x3_s2(x, p["poly"], p["packed_poly"]))
            return self.blur(conv_transpose3x3_s2(x, p["poly"] * scale.repeat(4).view(-1, 1, 1, 1)))
        w = p["w"] if scale is None else p["w"] * scale.view(-1, 1, 1, 1)
        return self.blur(F.conv_transpose2d(x, w.transpose(0, 1), stride=2))

    # -- style branch ------------------------------------------------------------------------------------------
    def region_vectors(self, style: torch.Tensor) -> torch.Tensor:
        """fc_mu[j](style[:, j]) for every region j at once: (B, 19, 64)."""
        p = self.prepared(style.dtype)
        return torch.einsum("jed,bjd->bje", p["fc_w"], style.float()) + p["fc_b"]

    def style_gamma_fast(self, style: torch.Tensor, sem: torch.Tensor, plus: torch.Tensor) -> torch.Tensor:
        """sigmoid(b) * style_gamma(style map) + ``plus``, as a convolution of the one-hot map with code-folded
        weights.

        A 3x3 convolution of a map that is constant per region j (value u_j) equals a convolution of the one-hot
        map with weights W'[c, j] = sum_d W[c, d] u_j[d]: 19 input channels instead of 64, no style map built.
        """
        p = self.prepared(sem.dtype)
        u = self.region_vectors(style)  # (B, 19, 64) float32
        bsz, h, wd = u.shape[0], sem.shape[-2], sem.shape[-1]
        w = torch.matmul(p["sg_w"], u.transpose(1, 2))  # (B, Cin*9, 19)
        w = w.view(bsz, self.cin, 3, 3, NUM_LABELS).permute(0, 1, 4, 2, 3).to(sem.dtype)
        bias = p["sg_b"]
        if bsz == 1:
            return conv2d_add(sem, w[0], bias, plus, padding=1)
        if sem.shape[0] == 1:
            out = F.conv2d(sem, w.reshape(bsz * self.cin, NUM_LABELS, 3, 3), padding=1)
        else:
            out = F.conv2d(sem.reshape(1, bsz * NUM_LABELS, h, wd), w.reshape(bsz * self.cin, NUM_LABELS, 3, 3),
                           padding=1, groups=bsz)
        return (out.reshape(bsz, self.cin, h, wd) + bias.view(1, -1, 1, 1)).add_(plus)

    def spade_term(self, sem: torch.Tensor, band: tuple | None = None) -> torch.Tensor:
        """The map-only part of gamma: (1 - sigmoid(b)) * SPADE(map), or SPADE(map) on SPADE-only layers.
        ``band`` = (border band, labels) switches to the banded computation."""
        scale = None if self.only_spade else 1 - torch.sigmoid(self.blending_gamma)
        if band is None:
            return self.spade_gamma(sem, scale)
        spade = self.spade_gamma.forward_banded(sem, *band)
        return spade if scale is None else spade * scale.to(spade.dtype)

    def gamma_fast(self, style: torch.Tensor, sem: torch.Tensor, spade_term: torch.Tensor) -> torch.Tensor:
        if self.only_spade:
            return spade_term
        return self.style_gamma_fast(style, sem, spade_term)

    def demod_fast(self, g: torch.Tensor) -> torch.Tensor:
        """rsqrt(sum_hw conv(g^2, W^2) / HW + 1e-8) from window sums of g^2: (B, Cout) float32."""
        h, w = g.shape[-2:]
        s = window_sums(g * g, self.k)  # (B, Cin, k, k)
        d = torch.matmul(s.reshape(s.shape[0], -1), self.prepared(g.dtype)["w2"].t()) / (h * w)
        return torch.rsqrt(d + 1e-8)

    def style_map_reference(self, style: torch.Tensor, sem: torch.Tensor) -> torch.Tensor:
        """The official per-region loop that paints fc_mu[j](style[j]) over region j."""
        b, _, h, w = sem.shape
        codes = torch.zeros((b, style.size(-1), h, w), dtype=style.dtype, device=style.device)
        for i in range(b):
            for j in range(sem.shape[1]):
                mask = sem.bool()[i, j]
                area = torch.sum(mask)
                if area > 0:
                    mu = self.fc_mu[j](style[i][j])
                    codes[i].masked_scatter_(mask, mu.view(style.size(-1), 1).expand(style.size(-1), area))
        return codes

    def forward(self, x: torch.Tensor, style: torch.Tensor, sem: torch.Tensor) -> torch.Tensor:
        """The official forward, literally: x (B, Cin, h, w); style (B, 19, 64); sem one-hot at (h, w)."""
        h, w = x.shape[-2:]
        g = self.spade_gamma(sem)
        if not self.only_spade:
            a = torch.sigmoid(self.blending_gamma)
            g = a * self.style_gamma(self.style_map_reference(style, sem)) + (1 - a) * g
        weight = self.weight * self.scale
        xg = g * x
        if self.upsample:
            out = self.blur(F.conv_transpose2d(xg, weight.transpose(0, 1), padding=0, stride=2))
        else:
            out = F.conv2d(xg, weight, padding=self.padding)
        if self.demodulate:
            demod = F.conv2d(g**2, weight**2, padding=self.padding).sum([2, 3]) / (h * w)
            out = out * torch.rsqrt(demod + 1e-8)[:, :, None, None]
        return out


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.weight.to(x.dtype) * noise.to(x.dtype)


class StyledConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, upsample: bool = False, only_spade: bool = False):
        super().__init__()
        self.conv = RegionModConv(cin, cout, k, upsample=upsample, only_spade=only_spade)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(cout)

    def forward(self, x, style, sem, noise, spade=None, fast=False, demod=None):
        if fast:
            return self.forward_fast(x, style, sem, noise, spade, demod)
        return self.activate(self.noise(self.conv(x, style, sem), noise))

    def forward_fast(self, x, style, sem, noise, spade_term, demod=None):
        """The same maths with fewer passes over memory: demodulation and the activation gain sqrt(2) are folded
        into the convolution weights (lrelu(s*y) = s*lrelu(y) for s > 0), bias and noise are added in place.
        ``demod``: the demodulation of a SPADE-only layer, which depends on the map alone (cached)."""
        conv = self.conv
        g = conv.gamma_fast(style, sem, spade_term)
        prep = conv.prepared(x.dtype)
        weight = prep["w"]
        gain = (demod if demod is not None else conv.demod_fast(g)) * SQRT2  # (B, Cout)
        xg = x * g
        bias = (self.activate.bias * SQRT2).to(x.dtype)
        bsz = xg.shape[0]
        out_elems = conv.cout * xg.shape[-2] * xg.shape[-1] * (4 if conv.upsample else 1)
        if bsz == 1 and weight.numel() < out_elems:  # fold the gain into whichever of weights/output is smaller
            scale = gain[0].to(x.dtype)
            if conv.upsample:
                out = conv.upsample_conv(xg, scale)
                out.add_(bias.view(1, -1, 1, 1))
            else:
                out = F.conv2d(xg, weight * scale.view(-1, 1, 1, 1), bias=bias, padding=conv.padding)
        else:
            if conv.upsample:
                out = conv.upsample_conv(xg)
            else:
                out = conv2d_packed(prep["packed"], xg, weight, padding=conv.padding)
            out.mul_(gain.to(x.dtype)[:, :, None, None]).add_(bias.view(1, -1, 1, 1))
        out.add_(noise.to(x.dtype) * (self.noise.weight * SQRT2).to(x.dtype))
        return F.leaky_relu_(out, 0.2)


class ToRGB(nn.Module):
    def __init__(self, cin: int, upsample: bool = True, only_spade: bool = False):
        super().__init__()
        if upsample:
            self.upsample = Upsample(list(TAPS))
        self.conv = RegionModConv(cin, 3, 1, demodulate=False, only_spade=only_spade)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, sem, skip=None, spade=None, fast=False):
        if fast:
            # The image is accumulated in float32 whatever the compute dtype: it is a sum over levels whose
            # rounding in bf16 (8 bits) would cost ~1e-2 on values of a few units.
            g = self.conv.gamma_fast(style, sem, spade)
            out = F.conv2d(x * g, self.conv.prepared(x.dtype)["w"]).float() + self.bias.float()
        else:
            out = self.conv(x, style, sem) + self.bias.to(x.dtype)
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class RegionEncoder(nn.Module):
    """The official ``Zencoder``: a 64-channel code map at 64x64, mean-pooled per region."""

    def __init__(self, size: int, ngf: int = 32):
        super().__init__()
        n_down = 3 if size == 512 else 2
        layers: list[nn.Module] = [ConvLayer(3, ngf, 3)]
        for i in range(n_down):
            layers.append(ConvLayer(ngf * 2**i, ngf * 2 ** (i + 1), 3, downsample=True))
        mult = 2**n_down
        layers.append(ConvLayer(ngf * mult, ngf * mult * 2, 3, upsample=True))
        layers.append(ConvLayer(ngf * mult * 2, CODE_DIM, 3, downsample=True))
        self.model = nn.Sequential(*layers)

    def forward(self, rgb: torch.Tensor, sem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(codes (B, 19, 64), present (B, 19) bool). Rows of absent regions are exactly 0."""
        codes = self.model(rgb).float()
        sem = resize_nearest(sem, codes.shape[-2:]).float()
        counts = sem.sum((2, 3))
        sums = torch.einsum("bjhw,bdhw->bjd", sem, codes)
        present = counts > 0
        out = torch.where(present[..., None], sums / counts.clamp_min(1)[..., None], torch.zeros_like(sums))
        return out, present


@dataclass
class MapFeatures:
    """Everything the generator computes from the layout alone (valid for one map, any style)."""

    sem: torch.Tensor  # (B, 19, S, S) one-hot
    stem: torch.Tensor  # (B, 512, 8, 8)
    sems: dict = field(default_factory=dict)  # resolution -> one-hot at that resolution
    spade: dict = field(default_factory=dict)  # layer name -> SPADE gamma
    demod: dict = field(default_factory=dict)  # SPADE-only layer name -> its demodulation (B, Cout)


class SynGenerator(nn.Module):
    """SMILE_SYN generator (``Generator(size, input_seg=64, encoder=True)``) with mapping network and encoder."""

    def __init__(self, size: int = 256, impl: str = "fast"):
        super().__init__()
        if size not in (256, 512):
            raise ValueError(f"SMILE_SYN exists for sizes 256 and 512, not {size}")
        self.size = size
        self.impl = impl
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(STYLE_DIM, STYLE_DIM, lr_mul=0.01, activation=True)
                                                  for _ in range(8)])
        self.encoder = RegionEncoder(size)
        channels = {4: 512, 8: 512, 16: 512, 32: 256, 64: 256, 128: 128, 256: 64, 512: 32}
        self.input_sem_size = 64
        self.input = nn.Sequential(
            ConvLayer(NUM_LABELS, 256, 3), ConvLayer(256, 256, 3, downsample=True),
            ConvLayer(256, 256, 3, downsample=True), ConvLayer(256, channels[4], 3, downsample=True))
        self.log_size = int(math.log2(size)) - 3 + 2  # stem output is 8x8
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.conv1 = StyledConv(channels[4], channels[4], 3)
        self.to_rgb1 = ToRGB(channels[4], upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for layer_idx in range(self.num_layers):
            res = (layer_idx + 8) // 2
            self.noises.register_buffer(f"noise_{layer_idx}", torch.randn(1, 1, 2**res, 2**res))
        cin = channels[4]
        for i in range(3, self.log_size + 1):
            cout = channels[2**i]
            last = i == self.log_size  # the last level is SPADE-only ("drop_last_sean")
            self.convs.append(StyledConv(cin, cout, 3, upsample=True, only_spade=last))
            self.convs.append(StyledConv(cout, cout, 3, only_spade=last))
            self.to_rgbs.append(ToRGB(cout, only_spade=last))
            cin = cout
        self.n_latent = self.log_size * 2 - 2

    # -- official-compatible loading ---------------------------------------------------------------------------
    def load_official(self, source) -> None:
        """Load an official checkpoint (path or dict, ``g_ema`` container or plain state_dict), strict."""
        from .checkpoint import load_state_dict_strict

        load_state_dict_strict(self, source, container="g_ema")

    # -- styles ------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, rgb: torch.Tensor, sem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Region codes of a photo: rgb (B, 3, S, S) in [-1, 1], sem one-hot -> ((B, 19, 64), present (B, 19))."""
        return self.encoder(rgb, sem)

    @torch.no_grad()
    def map_style(self, z: torch.Tensor) -> torch.Tensor:
        """Random per-region styles: z (B, 1216) ~ N(0, I) -> (B, 19, 64)."""
        return self.style(z).view(-1, NUM_LABELS, CODE_DIM)

    def random_z(self, seed: int, batch: int = 1) -> torch.Tensor:
        g = torch.Generator().manual_seed(int(seed))
        return torch.randn(batch, STYLE_DIM, generator=g)

    def make_noise(self, seed: int = 0, device: torch.device | str = "cpu") -> list[torch.Tensor]:
        """The official ``make_noise``: same values, from a local generator (the process RNG is untouched)."""
        g = torch.Generator().manual_seed(seed)
        noises = [torch.randn(1, 1, 8, 8, generator=g)]
        for layer_idx in range(self.num_layers):
            res = (layer_idx + 8) // 2
            noises.append(torch.randn(1, 1, 2**res, 2**res, generator=g))
        return [n.to(device) for n in noises[: self.num_layers + 1]]

    # -- synthesis ---------------------------------------------------------------------------------------------
    def _layers(self, upto: int | None = None):
        """(name, StyledConv/ToRGB module, resolution of its input) in forward order, up to the ToRGB whose image
        has side ``upto`` (all layers by default)."""
        yield "conv1", self.conv1, 8
        yield "to_rgb1", self.to_rgb1, 8
        res = 8
        for li in range(len(self.to_rgbs)):
            if upto is not None and res >= upto:
                return
            yield f"convs.{2 * li}", self.convs[2 * li], res
            res *= 2
            yield f"convs.{2 * li + 1}", self.convs[2 * li + 1], res
            yield f"to_rgbs.{li}", self.to_rgbs[li], res

    def levels(self) -> tuple[int, ...]:
        """The image sides the generator passes through (8, 16, ..., size): the ``upto`` values that exist."""
        return tuple(2**i for i in range(3, self.size.bit_length()))

    @torch.no_grad()
    def map_features(self, sem: torch.Tensor, dtype: torch.dtype | None = None, upto: int | None = None
                     ) -> MapFeatures:
        """Everything that depends only on the layout; reuse it for every style of the same map. ``upto``: only
        what an image of that side needs (see :meth:`synthesize`)."""
        dtype = dtype or sem.dtype
        bands: dict = {}

        def spade_term(name: str, layer: nn.Module, s: torch.Tensor, res: int) -> torch.Tensor:
            if res not in bands:
                bands[res] = None
                # float32 on a CPU: skipping region interiors pays; bf16 matrix units or a GPU convolve faster
                # than the gather costs
                if s.shape[0] == 1 and res >= 64 and dtype == torch.float32 and s.device.type == "cpu":
                    lab = s[0].argmax(0).to(torch.uint8).cpu().numpy()
                    band = border_band(lab)
                    bands[res] = (band, lab) if band.mean() < 0.7 else None
            return layer.conv.spade_term(s, bands[res])

        return self._features(sem, dtype, self._layers(upto), spade_term)

    @torch.no_grad()
    def map_features_update(self, old: MapFeatures, sem: torch.Tensor, box: tuple[int, int, int, int]
                            ) -> MapFeatures:
        """``map_features(sem)`` from the features of a map that differs from ``sem`` only inside ``box`` =
        (y0, x0, y1, x1) at the map's resolution, ends exclusive (a brush stroke): each SPADE term is recomputed
        on the box grown by its receptive field and pasted into a copy of the old one; the stem, the resized maps
        and the SPADE-only demodulations are small or global and recomputed whole. Batch 1."""
        size = sem.shape[-1]
        y0, x0, y1, x1 = box

        def spade_term(name: str, layer: nn.Module, s: torch.Tensor, res: int) -> torch.Tensor:
            f = res / size
            # pixels at this resolution whose source pixel may lie in the box (1 for rounding), grown by the 2 px
            # the two 3x3 convolutions of the SPADE branch see
            r0, c0 = max(int(y0 * f) - 3, 0), max(int(x0 * f) - 3, 0)
            r1, c1 = min(math.ceil(y1 * f) + 3, res), min(math.ceil(x1 * f) + 3, res)
            # their inputs, with 2 px of context where the image has it (at the image's edge the crop's zero
            # padding is the image's own)
            i0, j0, i1, j1 = max(r0 - 2, 0), max(c0 - 2, 0), min(r1 + 2, res), min(c1 + 2, res)
            part = layer.conv.spade_term(s[:, :, i0:i1, j0:j1].contiguous(memory_format=torch.channels_last))
            spade = old.spade[name].clone()
            spade[:, :, r0:r1, c0:c1] = part[:, :, r0 - i0:r1 - i0, c0 - j0:c1 - j0]
            return spade

        layers = (item for item in self._layers() if item[0] in old.spade)  # old may stop at a level (``upto``)
        return self._features(sem, old.stem.dtype, layers, spade_term)

    def _features(self, sem: torch.Tensor, dtype: torch.dtype, layers, spade_term) -> MapFeatures:
        """The stem, the map at every resolution, each layer's SPADE term (``spade_term(name, layer, map at its
        resolution, resolution)``) and the demodulation of the SPADE-only layers."""
        sem = sem.to(dtype).contiguous(memory_format=torch.channels_last)
        feats = MapFeatures(sem=sem, stem=self.input(resize_nearest(sem, (self.input_sem_size,) * 2)))
        for name, layer, res in layers:
            s = feats.sems.get(res)
            if s is None:
                s = feats.sems[res] = resize_nearest(sem, (res, res)).contiguous(memory_format=torch.channels_last)
            feats.spade[name] = spade_term(name, layer, s, res)
            if layer.conv.only_spade and layer.conv.demodulate:
                feats.demod[name] = layer.conv.demod_fast(feats.spade[name])
        return feats

    @torch.no_grad()
    def synthesize(self, sem: torch.Tensor, style: torch.Tensor, noise: list[torch.Tensor] | None = None,
                   features: MapFeatures | None = None, upto: int | None = None) -> torch.Tensor:
        """Render: sem one-hot (B or 1, 19, S, S), style (B, 19, 64) or (B, 1216) -> image (B, 3, S, S).

        The output is the raw network output (official range, roughly [-1, 1], no tanh); ``noise`` defaults to
        ``make_noise(0)`` as the official wrapper uses. ``upto`` (one of :meth:`levels`) stops at the image the
        skip connections have summed at that side: the coarse image the finer levels add detail to, for quick
        previews (a 128 preview at 256 skips the most expensive level). ``sem`` may then be given at that side.
        """
        style = style.reshape(style.shape[0], NUM_LABELS, CODE_DIM)
        if noise is None:
            noise = self.make_noise(0, sem.device)
        fast = self.impl == "fast"
        if not fast:
            return self._forward_reference(sem, style.float(), noise)
        if upto is not None and upto not in self.levels():
            raise ValueError(f"upto must be one of {self.levels()}, not {upto}")
        if features is None:
            features = self.map_features(sem, dtype=style.dtype, upto=upto)
        dt = features.stem.dtype
        style = style.to(dt)
        out = features.stem
        if out.shape[0] != style.shape[0]:
            out = out.expand(style.shape[0], -1, -1, -1)
        skip = None
        ni = 0
        for name, layer, res in self._layers(upto):
            args = (style, features.sems[res])
            if isinstance(layer, ToRGB):
                skip = layer(out, *args, skip, spade=features.spade[name], fast=True)
            else:
                out = layer(out, *args, noise[ni], spade=features.spade[name], fast=True,
                            demod=features.demod.get(name))
                ni += 1
        return skip.float()

    def _forward_reference(self, sem: torch.Tensor, style: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        """The official forward, step by step (nearest-resizing the map inside every layer)."""
        with literal_upfirdn2d():
            return self._forward_literal(sem, style, noise)

    def _forward_literal(self, sem: torch.Tensor, style: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        out = self.input(F.interpolate(sem, (self.input_sem_size, self.input_sem_size), mode="nearest"))
        skip = None
        ni = 0
        for _name, layer, _res in self._layers():
            s = F.interpolate(sem, out.shape[-2:], mode="nearest")
            if isinstance(layer, ToRGB):
                skip = layer(out, style, s, skip, fast=False)
            else:
                out = layer(out, style, s, noise[ni], fast=False)
                ni += 1
        return skip
