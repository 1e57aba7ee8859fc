"""The building blocks of SMILE_SYN (official ``metrics/smileSYN.py``), with the official parameter names:
per-region style codes and their helpers, the SPADE modulation, the region-wise modulated convolution in its two
implementations (folded fast path and the literal official algorithm, see :mod:`smile_studio.nets.syn`), noise,
the styled convolution, ToRGB and the region encoder."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .layers import SQRT2, Blur, ConvLayer, EqualLinear, FusedLeakyReLU, Upsample, derived, layout_of, scaled_copy
from .onednn import conv2d_add, conv2d_packed, conv_transpose2d_packed, conv_transpose3x3_s2, polyphase_weight

NUM_LABELS = 19
CODE_DIM = 64
STYLE_DIM = NUM_LABELS * CODE_DIM  # 1216
TAPS = (1, 3, 3, 1)


def one_hot(labels: torch.Tensor, num_classes: int = NUM_LABELS) -> torch.Tensor:
    """(B, H, W) integer ids -> (B, C, H, W) float one-hot (the official ``scatterMask``)."""
    return F.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).float()


def resize_nearest(sem: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return sem if tuple(sem.shape[-2:]) == tuple(size) else F.interpolate(sem, size=size, mode="nearest")


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
        w = scaled_copy(conv.weight.float(), conv.scale * scale, act.dtype, layout_of(act))
        return F.conv2d(act, w, (conv.bias.float() * scale).to(act.dtype), padding=conv.padding)

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
        """Stacked region MLPs, the folded blend factor, caches of oneDNN-reordered weights. Recomputed when a
        parameter is replaced or modified in place (its version changes). Neither the scaled weight nor its
        square is kept (each a copy of every weight, ~60 MB): the gain is folded per call or only into the
        reordered copies, the square made per demodulation."""
        return derived(self, "_prep", list(self.parameters()), lambda: self._prepare(dtype), dtype)

    def _prepare(self, dtype: torch.dtype) -> dict:
        # oneDNN-reordered scaled weight (as a convolution, as a transposed one) / "poly", per input shape
        prep = {"packed": {}, "packed_t": {}, "packed_poly": {}}
        if not self.only_spade:
            a = torch.sigmoid(self.blending_gamma.float())
            conv = self.style_gamma[0]
            # region MLPs stay float32: 19 tiny matmuls are faster in float32 than in bf16 on a CPU
            prep["fc_w"] = torch.stack([m.weight.float() for m in self.fc_mu]) * self.fc_mu[0].scale
            prep["fc_b"] = torch.stack([m.bias.float() for m in self.fc_mu]) * self.fc_mu[0].lr_mul
            # (Cin*9, 64): folding the region codes into it is one small matmul
            prep["sg_w"] = (conv.weight.float() * conv.scale * a).permute(0, 2, 3, 1).reshape(-1, CODE_DIM)
            prep["sg_b"] = (conv.bias.float() * a).to(dtype)
        if self.upsample and dtype in (torch.bfloat16, torch.float16) and self.weight.device.type == "cpu":
            # CPU matrix units: see onednn.conv_transpose3x3_s2
            prep["poly"] = polyphase_weight(self.weight.float() * self.scale).to(dtype)
        return prep

    def scaled_weight(self, dtype: torch.dtype, out_scale: torch.Tensor | None = None,
                      memory_format: torch.memory_format = torch.channels_last) -> torch.Tensor:
        """The weight with its runtime scale (times ``out_scale`` (Cout,) per output channel) in ``dtype``, laid
        out as the fast path's inputs are (channels_last)."""
        factor = self.scale if out_scale is None else out_scale.float().view(-1, 1, 1, 1) * self.scale
        return scaled_copy(self.weight.float(), factor, dtype, memory_format)

    def upsample_conv(self, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Stride-2 transposed convolution + blur of the modulated input; ``scale`` (Cout,) multiplies the
        weights' output channels."""
        p = self.prepared(x.dtype)
        if "poly" in p:
            if scale is None:
                return self.blur(conv_transpose3x3_s2(x, p["poly"], p["packed_poly"]))
            return self.blur(conv_transpose3x3_s2(x, p["poly"] * scale.to(x.dtype).repeat(4).view(-1, 1, 1, 1)))
        if scale is None:  # the weights as they are (a coarse level, where weights outweigh the output)
            return self.blur(conv_transpose2d_packed(p["packed_t"], x, lambda: self.scaled_weight(
                x.dtype, memory_format=torch.contiguous_format).transpose(0, 1)))
        return self.blur(F.conv_transpose2d(x, self.scaled_weight(x.dtype, scale, torch.contiguous_format).transpose(
            0, 1), stride=2))

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
        return self.demod_from_sums(window_sums(g * g, self.k), g.shape[-2] * g.shape[-1], g.dtype)

    def demod_from_sums(self, sums: torch.Tensor, pixels: int, dtype: torch.dtype) -> torch.Tensor:
        """The demodulation from the window sums of g^2 (B, Cin, k, k) over an image of ``pixels`` pixels:
        rsqrt(sum W^2 sums * scale^2 / pixels). W^2 is made per call (~0.3 ms for a 512x512 layer) rather than
        kept: a copy of every weight, ~60 MB."""
        w = self.weight.float()
        w2, sums = w * w, sums.float()
        if not w2.is_contiguous():  # channels_last: match the taps' order instead of copying the weight
            w2, sums = w2.permute(0, 2, 3, 1), sums.permute(0, 2, 3, 1)
        energy = torch.matmul(sums.reshape(sums.shape[0], -1), w2.reshape(self.cout, -1).t())
        return torch.rsqrt(energy * (self.scale**2 / pixels) + 1e-8)

    def style_map_reference(self, style: torch.Tensor, sem: torch.Tensor) -> torch.Tensor:
        """The official per-region loop that paints fc_mu[j](style[j]) over region j."""
        b, _, h, w = sem.shape
        codes = torch.zeros((b, style.size(-1), h, w), dtype=style.dtype, device=style.device)
        for i in range(b):
            for j in range(sem.shape[1]):
                mask = sem.bool()[i, j]
                area = torch.sum(mask)
                if area > 0:
                    mu = self.fc_mu[j](style[i][j]).to(codes.dtype)
                    codes[i].masked_scatter_(mask, mu.view(style.size(-1), 1).expand(style.size(-1), area))
        return codes

    def style_map_dense(self, style: torch.Tensor, sem: torch.Tensor) -> torch.Tensor:
        """The same style map as one contraction with the one-hot map (exact: one non-zero term per pixel), with
        gradients: what training uses instead of the per-region loop."""
        u = torch.stack([fc(style[:, j]) for j, fc in enumerate(self.fc_mu)], 1)  # (B, 19, 64)
        return torch.einsum("bjd,bjhw->bdhw", u, sem.to(u.dtype))

    def forward(self, x: torch.Tensor, style: torch.Tensor, sem: torch.Tensor) -> torch.Tensor:
        """The official forward, literally: x (B, Cin, h, w); style (B, 19, 64); sem one-hot at (h, w). With
        gradients enabled (training) the style map is built densely (:meth:`style_map_dense`)."""
        h, w = x.shape[-2:]
        g = self.spade_gamma(sem)
        if not self.only_spade:
            a = torch.sigmoid(self.blending_gamma)
            painter = self.style_map_dense if torch.is_grad_enabled() else self.style_map_reference
            g = a * self.style_gamma(painter(style, sem)) + (1 - a) * g
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

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """``noise`` None: fresh N(0, 1) noise (training)."""
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, *x.shape[2:]).normal_()
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

    def forward_fast(self, x, style, sem, noise, spade_term, demod=None, used: dict | None = None):
        """The same maths with fewer passes over memory: demodulation and the activation gain sqrt(2) are folded
        into the convolution weights (lrelu(s*y) = s*lrelu(y) for s > 0), bias and noise are added in place.
        ``demod``: a given demodulation (a SPADE-only layer's depends on the map alone and is cached; a local
        update of a part of the image reuses the whole image's); ``used``: receives the one applied."""
        conv = self.conv
        g = conv.gamma_fast(style, sem, spade_term)
        if demod is None:
            demod = conv.demod_fast(g)
        if used is not None:
            used["demod"] = demod
        gain = demod * SQRT2  # (B, Cout)
        xg = x * g
        bias = (self.activate.bias * SQRT2).to(x.dtype)
        bsz = xg.shape[0]
        out_elems = conv.cout * xg.shape[-2] * xg.shape[-1] * (4 if conv.upsample else 1)
        if bsz == 1 and conv.weight.numel() < out_elems:  # fold the gain into the smaller of weights/output
            if conv.upsample:
                out = conv.upsample_conv(xg, gain[0])
                out.add_(bias.view(1, -1, 1, 1))
            else:
                out = F.conv2d(xg, conv.scaled_weight(x.dtype, gain[0]), bias=bias, padding=conv.padding)
        else:
            if conv.upsample:
                out = conv.upsample_conv(xg)
            else:
                out = conv2d_packed(conv.prepared(x.dtype)["packed"], xg, lambda: conv.scaled_weight(x.dtype),
                                    padding=conv.padding)
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
            out = F.conv2d(x * g, self.conv.scaled_weight(x.dtype)).float() + self.bias.float()
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
