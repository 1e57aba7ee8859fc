"""The landmark-heatmap network SMILE_SEM uses for its high-pass skips (StarGAN v2's FAN, ``wing.ckpt`` layout),
and the heatmap post-processing that turns 98 landmark heatmaps into the two face masks the generator reads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import load_state_dict_strict


class AddCoords(nn.Module):
    """Appends normalised row/column coordinates (and their radius) as channels."""

    def __init__(self, height: int, width: int, with_r: bool):
        super().__init__()
        xs = torch.arange(height).unsqueeze(1).expand(height, width).float() / (height - 1) * 2 - 1
        ys = torch.arange(width).unsqueeze(0).expand(height, width).float() / (width - 1) * 2 - 1
        coords = [xs, ys]
        if with_r:
            rr = torch.sqrt(xs**2 + ys**2)
            coords.append(rr / rr.max())
        self.coords = torch.stack(coords)[None]  # not a buffer: absent from the checkpoint

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.coords.to(x).expand(x.size(0), -1, -1, -1)], 1)


class CoordConv(nn.Module):
    def __init__(self, height: int, width: int, with_r: bool, in_channels: int, **conv):
        super().__init__()
        self.addcoords = AddCoords(height, width, with_r)
        self.conv = nn.Conv2d(in_channels + 2 + int(with_r), **conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.addcoords(x))


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout // 2, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout // 2)
        self.conv2 = nn.Conv2d(cout // 2, cout // 4, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout // 4)
        self.conv3 = nn.Conv2d(cout // 4, cout // 4, 3, 1, 1, bias=False)
        self.downsample = None
        if cin != cout:
            self.downsample = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(True), nn.Conv2d(cin, cout, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o1 = self.conv1(F.relu(self.bn1(x)))
        o2 = self.conv2(F.relu(self.bn2(o1)))
        o3 = self.conv3(F.relu(self.bn3(o2)))
        res = self.downsample(x) if self.downsample is not None else x
        return torch.cat([o1, o2, o3], 1) + res


class HourGlass(nn.Module):
    def __init__(self, depth: int = 4):
        super().__init__()
        self.depth = depth
        self.coordconv = CoordConv(64, 64, True, 256, out_channels=256, kernel_size=1, stride=1, padding=0)
        self._build(depth)

    def _build(self, level: int) -> None:
        self.add_module(f"b1_{level}", ConvBlock(256, 256))
        self.add_module(f"b2_{level}", ConvBlock(256, 256))
        if level > 1:
            self._build(level - 1)
        else:
            self.add_module(f"b2_plus_{level}", ConvBlock(256, 256))
        self.add_module(f"b3_{level}", ConvBlock(256, 256))

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        up1 = self._modules[f"b1_{level}"](x)
        low = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        low = self._level(level - 1, low) if level > 1 else self._modules[f"b2_plus_{level}"](low)
        low = self._modules[f"b3_{level}"](low)
        return up1 + F.interpolate(low, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._level(self.depth, self.coordconv(x))


class FAN(nn.Module):
    """98-landmark heatmaps (64x64, plus a boundary channel) from an RGB face in [0, 1] at 256x256."""

    def __init__(self, num_landmarks: int = 98):
        super().__init__()
        self.conv1 = CoordConv(256, 256, True, 3, out_channels=64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = ConvBlock(64, 128)
        self.conv3 = ConvBlock(128, 128)
        self.conv4 = ConvBlock(128, 256)
        self.m0 = HourGlass(4)
        self.top_m_0 = ConvBlock(256, 256)
        self.conv_last0 = nn.Conv2d(256, 256, 1, 1, 0)
        self.bn_end0 = nn.BatchNorm2d(256)
        self.l0 = nn.Conv2d(256, num_landmarks + 1, 1, 1, 0)
        self.eval()

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        """Raw heatmaps (B, 99, 64, 64)."""
        x = F.relu(self.bn1(self.conv1(x01)))
        x = F.avg_pool2d(self.conv2(x), 2, stride=2)
        x = self.conv4(self.conv3(x))
        ll = self.top_m_0(self.m0(x))
        ll = F.relu(self.bn_end0(self.conv_last0(ll)))
        return self.l0(ll)

    @torch.no_grad()
    def get_heatmap(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """RGB in [-1, 1] -> the two (B, 1, 256, 256) face masks of the generator's skips."""
        x = F.interpolate(rgb, size=256, mode="bilinear")
        heat = self(x * 0.5 + 0.5)[:, :-1].contiguous()  # (the masks are summed over channels: plain layout)
        heat = F.interpolate(heat, scale_factor=x.size(2) // heat.size(2), mode="bilinear", align_corners=True)
        return preprocess(heat)

    def load_official(self, source) -> None:
        """``wing.ckpt``: the network lives under ``state_dict``; extra keys there are ignored, as officially."""
        load_state_dict_strict(self, source, container="state_dict", ignore_extra=True)


# -- post-processing ---------------------------------------------------------------------------------------------
# Landmark groups of the 98-point layout: (start, end) index ranges.
CHIN, EYEBROWS, NOSE, NOSTRILS, EYES = (8, 25), (33, 51), (51, 55), (55, 60), (60, 76)
LIPEDGES, LIPUPPER, LIPLOWER, LIPINNER = (76, 83), (77, 82), (83, 88), (88, 96)


def _normalise(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    n, c, h, w = x.shape
    flat = x.contiguous().view(n * c, -1)
    lo, hi = torch.aminmax(flat, dim=1, keepdim=True)
    return ((flat - lo) / (hi - lo + eps)).view(n, c, h, w)


def _shift(x: torch.Tensor, n: int) -> torch.Tensor:
    """Roll rows: n > 0 moves content up by n, n < 0 down (the official row permutation)."""
    h = x.size(2)
    if n >= 0:
        perm = torch.cat([torch.arange(h - n) + n, torch.arange(n)])
    else:
        m = -n
        perm = torch.cat([torch.arange(m) + (h - m), torch.arange(h - m)])
    return x[:, :, perm.to(x.device), :]


def preprocess(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Official ``misc/wing.py:preprocess(general_attr=False)``: truncate below 0.1, min-max normalise, move and
    sharpen landmark groups, then sum to a face mask and to a second mask without jaw, lips and brows.
    Moving rows commutes with powers and with summing channels, so each group is raised to its power and summed
    first and only its one-channel sum is moved (the official code moves every channel of the 256x256 maps)."""
    sw = x.size(2) // 256
    used = x[:, CHIN[0]:]  # channels below the chin are unused
    y = _normalise(used.masked_fill(used < 0.1, 0.0))

    def part(start: int, end: int, shift: int = 0, power: int = 1) -> torch.Tensor:
        g = y[:, start - CHIN[0]:end - CHIN[0]]
        total = (g if power == 1 else g**power).sum(1, keepdim=True)
        return _shift(total, shift) if shift else total

    s, e = NOSE
    inner = (part(s, s + 1) + part(s + 1, e, 4 * sw) + part(*NOSTRILS, 8 * sw, 4) + part(*EYES, -8, 3)
             + part(*EYES, -24) + part(LIPINNER[1], x.size(1)))
    lips = (part(LIPEDGES[0], LIPUPPER[0]) + part(*LIPUPPER, -8 * sw, 4) + part(LIPUPPER[1], LIPEDGES[1])
            + part(*LIPLOWER, 8 * sw, 4) + part(*LIPINNER, -2 * sw, 3))
    m1 = torch.nan_to_num(inner + part(*CHIN, 0, 3) + part(*EYEBROWS, -7 * sw, 2) + lips, nan=0.0)
    # (the official NaN clean-up of the second mask tests the first: a no-op)
    return m1.clamp_(0, 1), inner.clamp_(0, 1)
