"""The LPIPS linear heads of the official evaluation (``metrics/lpips.py``, StarGAN v2's ``lpips_weights.ckpt``):
one 1x1 convolution (after dropout) per AlexNet feature level, weighting the normalised feature differences.
AlexNet itself is torchvision's ImageNet model."""

from __future__ import annotations

from torch import nn

ALEXNET_CHANNELS = (64, 192, 384, 256, 256)


class Conv1x1(nn.Module):
    def __init__(self, cin: int, cout: int = 1):
        super().__init__()
        self.main = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(cin, cout, 1, 1, 0, bias=False))


def lpips_heads() -> nn.ModuleList:
    """The heads as the official file stores them (keys ``0.main.1.weight`` ... ``4.main.1.weight``)."""
    return nn.ModuleList(Conv1x1(c) for c in ALEXNET_CHANNELS)
