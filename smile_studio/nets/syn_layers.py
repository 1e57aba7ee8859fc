"""The building blocks of SMILE_SYN (official ``metrics/smileSYN.py``) with the official parameter names, each
with the official ``forward``: per-region style codes and their helpers, the SPADE modulation, the region-wise
modulated convolution, noise, the styled convolution, ToRGB and the region encoder. The fast inference maths
over these parameters is :mod:`.syn_fast_layers`."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Blur, ConvLayer, EqualLinear, FusedLeakyReLU, Upsample

NUM_LABELS = 19
CODE_DIM = 64
STYLE_DIM = NUM_LABELS * CODE_DIM  # 1216
TAPS = (1, 3, 3, 1)


def one_hot(labels: torch.Tensor, num_classes: int = NUM_LABELS) -> torch.Tensor:
    """(B, H, W) integer ids -> (B, C, H, W) float one-hot (the official ``scatterMask``)."""
    return F.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).float()


def resize_nearest(sem: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return sem if tuple(sem.shape[-2:]) == tuple(size) else F.interpolate(sem, size=size, mode="nearest")


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

    def forward(self, sem: torch.Tensor) -> torch.Tensor:
        return self.mlp_gamma(self.mlp_shared(sem))


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

    def style_map_loop(self, style: torch.Tensor, sem: torch.Tensor) -> torch.Tensor:
        """The official per-region loop that paints fc_mu[j](style[j]) over region j (``style_map`` paints the
        same map in one contraction; a test holds them equal)."""
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

    def style_map(self, style: torch.Tensor, sem: torch.Tensor) -> torch.Tensor:
        """fc_mu[j](style[j]) painted over region j: one contraction with the one-hot map (one non-zero term per
        pixel), differentiable, instead of the official loop over regions (:meth:`style_map_loop`)."""
        u = torch.stack([fc(style[:, j]) for j, fc in enumerate(self.fc_mu)], 1)  # (B, 19, 64)
        return torch.einsum("bjd,bjhw->bdhw", u, sem.to(u.dtype))

    def forward(self, x: torch.Tensor, style: torch.Tensor, sem: torch.Tensor) -> torch.Tensor:
        """The official forward: x (B, Cin, h, w); style (B, 19, 64); sem one-hot at (h, w)."""
        h, w = x.shape[-2:]
        g = self.spade_gamma(sem)
        if not self.only_spade:
            a = torch.sigmoid(self.blending_gamma)
            g = a * self.style_gamma(self.style_map(style, sem)) + (1 - a) * g
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

    def forward(self, x: torch.Tensor, style: torch.Tensor, sem: torch.Tensor, noise: torch.Tensor | None
                ) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style, sem), noise))


class ToRGB(nn.Module):
    def __init__(self, cin: int, upsample: bool = True, only_spade: bool = False):
        super().__init__()
        if upsample:
            self.upsample = Upsample(list(TAPS))
        self.conv = RegionModConv(cin, 3, 1, demodulate=False, only_spade=only_spade)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, sem: torch.Tensor, skip: torch.Tensor | None = None
                ) -> torch.Tensor:
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
