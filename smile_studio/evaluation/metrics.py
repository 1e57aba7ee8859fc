"""The measures, each from a well-kept implementation where one exists: PSNR and SSIM (torchmetrics, the
Gaussian-window SSIM of Wang et al.), the Fréchet distance (torchmetrics) over FID's own Inception features,
average precision (torchmetrics). LPIPS, pose error and map agreement follow the official evaluation's
definitions (docs/training.md says where ours differ). Images are (B, 3, H, W) float tensors in [0, 1]."""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics.functional.classification import binary_average_precision, binary_precision_recall_curve
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure
from torchmetrics.image.fid import FrechetInceptionDistance


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image, in dB (data range 1)."""
    return peak_signal_noise_ratio(a, b, data_range=1.0, reduction="none", dim=(1, 2, 3))


SSIM_WINDOW = 11


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03 (the SSIM paper's settings), averaged over
    the pixels whose window lies inside the image (as the paper's reference code and scikit-image do;
    torchmetrics' own mean also counts the 5-px border it reflects the image into)."""
    _, full = structural_similarity_index_measure(a, b, data_range=1.0, kernel_size=SSIM_WINDOW, sigma=1.5,
                                                  reduction="none", return_full_image=True)
    r = SSIM_WINDOW // 2
    return full[..., r:-r, r:-r].mean((1, 2, 3))


def rmse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image, on the 0-255 scale (as the reconstruction tables report it)."""
    return ((a - b) * 255).pow(2).mean((1, 2, 3)).sqrt()


class _Given(nn.Module):
    """Features computed beforehand pass through unchanged: torchmetrics' FID then only accumulates them."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class FID:
    """Accumulates two sets' Inception features; :meth:`score` is their Fréchet distance (torchmetrics). A real
    image shared by several sets (every target value it has) is run through Inception once: :meth:`features`,
    then :meth:`add_features` to each set."""

    def __init__(self, inception: nn.Module, device: torch.device | str = "cpu"):
        self.inception, self.device = inception, torch.device(device)
        self.metric = FrechetInceptionDistance(feature=_Given(inception.num_features)).to(self.device)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, num_features)."""
        return self.inception(images.to(self.device).float())

    def add_features(self, features: torch.Tensor, real: bool) -> None:
        self.metric.update(features.to(self.device), real=real)

    def add(self, images: torch.Tensor, real: bool) -> None:
        self.add_features(self.features(images), real)

    def score(self) -> float:
        return float(self.metric.compute())


def lpips_diversity(lpips: nn.Module, fakes: torch.Tensor) -> float:
    """Mean LPIPS over every pair of the fakes of one source (the official diversity score). Fakes in [0, 1]."""
    x = fakes * 2 - 1
    n = x.shape[0]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if not pairs:
        return float("nan")
    a = torch.stack([x[i] for i, _ in pairs])
    b = torch.stack([x[j] for _, j in pairs])
    return float(lpips(a, b).mean())


def ap_and_f1(scores: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    """Average precision and the best F1 over the precision-recall curve (the official ``compute_f1``)."""
    targets = targets.long()
    if targets.sum() == 0 or targets.sum() == len(targets):
        return float("nan"), float("nan")
    ap = float(binary_average_precision(scores, targets))
    precision, recall, _ = binary_precision_recall_curve(scores, targets)
    f1 = (2 * precision * recall / (precision + recall).clamp_min(1e-12)).max()
    return ap, float(f1)


def pixel_agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fraction of pixels with the same class: what the official "IoU" measures (a binary-pixel agreement)."""
    return float((a == b).float().mean())
