"""Learned upsampling of a render before it goes back into a large photo (Real-ESRGAN, Wang et al., ICCVW 2021):
the two generator layouts its published files hold, with the parameter names of those files, so that a file
loads as published (``params_ema`` or ``params`` inside).

- :class:`CompactSR` (``SRVGGNetCompact``, the *general* x4 v3 model): a plain stack of 3x3 convolutions and
  PReLUs at the input's size, a pixel shuffle to x4, added to the nearest-neighbour upsampled input — about one
  second for a 256² render on two cores.
- :class:`RRDBSR` (``RRDBNet``, ESRGAN's generator, Real-ESRGAN x4plus / x2plus): 23 residual-in-residual dense
  blocks, then two nearest x2 upsamplings each followed by a convolution. The x2 model folds the input with a
  pixel unshuffle first (4x the channels at half the size), so both files share one body.

The networks take and give RGB in [0, 1], NCHW."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CompactSR(nn.Module):
    """SRVGGNetCompact: ``convs`` 3x3 convolutions of ``features`` channels at the input's size."""

    def __init__(self, scale: int = 4, features: int = 64, convs: int = 32):
        super().__init__()
        self.scale = scale
        self.multiple = 1  # any input side
        layers: list[nn.Module] = [nn.Conv2d(3, features, 3, 1, 1), nn.PReLU(features)]
        for _ in range(convs):
            layers += [nn.Conv2d(features, features, 3, 1, 1), nn.PReLU(features)]
        layers.append(nn.Conv2d(features, 3 * scale * scale, 3, 1, 1))
        self.body = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        # the network learns the residual over the nearest-neighbour upsampled input
        return F.pixel_shuffle(out, self.scale) + F.interpolate(x, scale_factor=self.scale, mode="nearest")


class DenseBlock(nn.Module):
    """Five convolutions, each seeing the block's input and every earlier output; the result is scaled by 0.2
    and added to the input (ESRGAN's residual scaling keeps a deep body trainable without batch norm)."""

    def __init__(self, features: int = 64, growth: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(features, growth, 3, 1, 1)
        self.conv2 = nn.Conv2d(features + growth, growth, 3, 1, 1)
        self.conv3 = nn.Conv2d(features + 2 * growth, growth, 3, 1, 1)
        self.conv4 = nn.Conv2d(features + 3 * growth, growth, 3, 1, 1)
        self.conv5 = nn.Conv2d(features + 4 * growth, features, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            seen.append(F.leaky_relu(conv(torch.cat(seen, 1)), 0.2))
        return self.conv5(torch.cat(seen, 1)) * 0.2 + x


class RRDB(nn.Module):
    """Residual in residual: three dense blocks, their output scaled by 0.2 and added to the input."""

    def __init__(self, features: int = 64, growth: int = 32):
        super().__init__()
        self.rdb1 = DenseBlock(features, growth)
        self.rdb2 = DenseBlock(features, growth)
        self.rdb3 = DenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBSR(nn.Module):
    """RRDBNet at ``scale`` 4 (or 2: the input is pixel-unshuffled by 2 first, the body and x4 tail unchanged)."""

    def __init__(self, scale: int = 4, features: int = 64, blocks: int = 23, growth: int = 32):
        super().__init__()
        if scale not in (2, 4):
            raise ValueError(f"RRDBSR scales by 2 or 4, not {scale}")
        self.scale = scale
        self.multiple = 4 // scale  # input sides the pixel unshuffle can fold
        self.conv_first = nn.Conv2d(3 * (4 // scale) ** 2, features, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(features, growth) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_hr = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_last = nn.Conv2d(features, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 2:
            x = F.pixel_unshuffle(x, 2)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for conv in (self.conv_up1, self.conv_up2):
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))
