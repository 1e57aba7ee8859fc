"""AttNet: MobileNetV2 with 7 binary attribute heads (``metrics/attribute_model.py``), RGB version."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import load_state_dict_strict
from .parser import normalise_rgb

ATTNET_ATTRIBUTES = ("Male", "Female", "Eyeglasses", "Hair", "Bangs", "Earrings", "Hat")
_CFG = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _conv_bn(cin: int, cout: int, k: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU6(True))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = round(cin * expand)
        self.identity = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(True)]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                   nn.ReLU6(True), nn.Conv2d(hidden, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.identity else self.conv(x)


class FcBlock(nn.Module):
    def __init__(self, cin: int, cout: int, drop: float = 0.15):
        super().__init__()
        self.fc = nn.Linear(cin, cout)
        self.bn = nn.BatchNorm1d(cout)
        self.dropout = nn.Dropout(drop)

    def forward(self, x):
        return F.relu(self.dropout(self.bn(self.fc(x))))


class MobileNetV2(nn.Module):
    def __init__(self, color_dim: int = 3, num_attributes: int = 7):
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(color_dim, 32, 3, 2)]
        cin = 32
        for t, c, n, s in _CFG:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        self.features = nn.ModuleList(layers)
        self.conv = nn.Sequential(nn.Conv2d(cin, 1280, 1, 1, 0, bias=False), nn.BatchNorm2d(1280), nn.ReLU6(True))
        self.stem = FcBlock(1280, 512)
        self.num_attributes = num_attributes
        for i in range(num_attributes):
            setattr(self, f"classifier{i:02d}", nn.Sequential(FcBlock(512, 256), nn.Linear(256, 2)))

    def encode(self, x):
        for layer in self.features:
            x = layer(x)
        return x

    def predict(self, feat):
        x = self.stem(F.adaptive_avg_pool2d(self.conv(feat), 1).flatten(1))
        return torch.stack([getattr(self, f"classifier{i:02d}")(x) for i in range(self.num_attributes)], 1)


class AttNet(nn.Module):
    """RGB in [-1, 1] -> probabilities of the 7 attributes; ``one_hot`` turns them into the 12-d SEM label."""

    def __init__(self):
        super().__init__()
        self.model = MobileNetV2(3, len(ATTNET_ATTRIBUTES))
        self.eval()

    def features(self, rgb: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(rgb, (224, 224), mode="bilinear")
        return self.model.encode(normalise_rgb(((x + 1) / 2).clamp(0, 1)))

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model.predict(self.features(rgb))
        return logits, F.softmax(logits, dim=-1)[..., 1]

    @staticmethod
    def one_hot(probs: torch.Tensor) -> torch.Tensor:
        """Official rule: Male and Female thresholded independently; the other five as (1 - b, b) pairs. The
        result can have both or neither gender bit set; ``core.labels.attributes_from_vector`` refuses those."""
        g = (probs[:, :2] > 0.5).long()
        rest = (probs[:, 2:] > 0.5).long()
        pairs = torch.cat([torch.cat((1 - r, r), 1) for r in rest.chunk(rest.size(1), 1)], 1)
        return torch.cat([g, pairs], 1)

    def load_official(self, source) -> None:
        """The official file holds ``state_dict`` with keys prefixed ``module.`` or not, without ``model.``."""
        load_state_dict_strict(self.model, source, container="state_dict")
