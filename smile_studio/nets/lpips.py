"""LPIPS as the official evaluation computes it (``metrics/lpips.py``, after StarGAN v2): AlexNet's five ReLU
feature levels of both images (inputs in [-1, 1], shifted and scaled as LPIPS does), each unit-normalised over
channels, squared differences weighted by one 1x1 convolution per level (``lpips_weights.ckpt``), averaged over
the image and summed over levels. AlexNet's weights are torchvision's ImageNet file (``alexnet-owt-*.pth``)."""

from __future__ import annotations

import torch
from torch import nn

from .checkpoint import load_state_dict_strict

ALEXNET_CHANNELS = (64, 192, 384, 256, 256)
TAPS = (1, 4, 7, 9, 11)  # indices of the ReLUs in ``features`` whose outputs LPIPS compares
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


class Conv1x1(nn.Module):
    def __init__(self, cin: int, cout: int = 1):
        super().__init__()
        self.main = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(cin, cout, 1, 1, 0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


def lpips_heads() -> nn.ModuleList:
    """The heads as the official file stores them (keys ``0.main.1.weight`` ... ``4.main.1.weight``)."""
    return nn.ModuleList(Conv1x1(c) for c in ALEXNET_CHANNELS)


class AlexNetFeatures(nn.Module):
    """torchvision's ``alexnet().features`` (same keys, ``features.N``); the classifier is not needed."""

    def __init__(self):
        super().__init__()
        r = lambda: nn.ReLU(inplace=False)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), r(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), r(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), r(), nn.Conv2d(384, 256, 3, padding=1), r(),
            nn.Conv2d(256, 256, 3, padding=1), r(), nn.MaxPool2d(3, 2))

    def levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in TAPS:
                out.append(x)
            if i == TAPS[-1]:
                break
        return out


class LPIPS(nn.Module):
    def __init__(self):
        super().__init__()
        self.alexnet = AlexNetFeatures()
        self.heads = lpips_heads()
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_files(cls, alexnet, heads) -> LPIPS:
        net = cls()
        load_state_dict_strict(net.alexnet, alexnet, ignore_extra=True)  # the file also holds the classifier
        load_state_dict_strict(net.heads, heads)
        return net.eval()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distance per pair: a, b (B, 3, H, W) in [-1, 1] -> (B,)."""
        fa = self.alexnet.levels((a - self.shift) / self.scale)
        fb = self.alexnet.levels((b - self.shift) / self.scale)
        total = 0
        for head, x, y in zip(self.heads, fa, fb, strict=True):
            x = x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            y = y / (y.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + head((x - y) ** 2).mean((2, 3))
        return total.view(-1)
