"""HopeNet (``metrics/pose_model.py`` of the official code, from deep-head-pose): a ResNet-50 with three 66-bin
heads for yaw, pitch and roll; an angle is the softmax-weighted bin index times 3, minus 99 degrees. The official
file is ``hopenet_robust_alpha1.pkl`` (a plain state_dict, torchvision's ResNet parameter names)."""

from __future__ import annotations

import torch
from torch import nn

BINS = 66


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class HopeNet(nn.Module):
    def __init__(self, layers: tuple[int, ...] = (3, 4, 6, 3)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (blocks, width) in enumerate(zip(layers, (64, 128, 256, 512), strict=True)):
            stride = 1 if i == 0 else 2
            down = nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4))
            mods = [Bottleneck(cin, width, stride, down)] + [Bottleneck(width * 4, width) for _ in range(blocks - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*mods))
            cin = width * 4
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc_yaw, self.fc_pitch, self.fc_roll = (nn.Linear(cin, BINS) for _ in range(3))
        self.fc_finetune = nn.Linear(cin + 3, 3)  # in the official file, unused by the scores

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits over the 66 bins for yaw, pitch and roll."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x).flatten(1)
        return self.fc_yaw(x), self.fc_pitch(x), self.fc_roll(x)

    @staticmethod
    def degrees(logits: torch.Tensor) -> torch.Tensor:
        idx = torch.arange(BINS, dtype=logits.dtype, device=logits.device)
        return (torch.softmax(logits, 1) * idx).sum(1) * 3 - 99

    def load_official(self, source) -> None:
        from .checkpoint import load_state_dict_strict

        load_state_dict_strict(self, source)
