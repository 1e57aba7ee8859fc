"""The discriminator SMILE_SYN is trained against (the official code never released one): StyleGAN2's residual
discriminator, conditioned on the layout by reading the one-hot map beside the image (3 + 19 input channels, as
SPADE's and SEAN's discriminators do), returning its intermediate features for the feature-matching loss."""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import ConvLayer, EqualLinear
from .sem import check_size
from .syn_layers import NUM_LABELS

CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32}


class ResBlock(nn.Module):
    """conv3 -> conv3 with 2x down-sampling, plus a 1x1 down-sampled skip, over sqrt(2)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = ConvLayer(cin, cin, 3)
        self.conv2 = ConvLayer(cin, cout, 3, downsample=True)
        self.skip = ConvLayer(cin, cout, 1, downsample=True, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class SynDiscriminator(nn.Module):
    def __init__(self, size: int = 256, width: float = 1.0):
        super().__init__()
        check_size(size, "the SMILE_SYN discriminator")
        self.architecture = {"size": size, "width": width}
        ch = {k: max(int(v * width), 8) for k, v in CHANNELS.items()}
        self.stem = ConvLayer(3 + NUM_LABELS, ch[size], 1)
        blocks, res = [], size
        while res > 4:
            blocks.append(ResBlock(ch[res], ch[res // 2]))
            res //= 2
        self.blocks = nn.ModuleList(blocks)
        self.final_conv = ConvLayer(ch[4], ch[4], 3)
        self.final = nn.Sequential(EqualLinear(ch[4] * 16, ch[4], activation=True), EqualLinear(ch[4], 1))

    def forward(self, rgb: torch.Tensor, sem: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(real/fake logit (B,), the features after the stem and every block)."""
        x = self.stem(torch.cat([rgb, sem.to(rgb.dtype)], 1))
        feats = [x]
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        x = self.final_conv(x)
        return self.final(x.flatten(1)).squeeze(1), feats
