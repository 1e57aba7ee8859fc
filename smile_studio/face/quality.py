"""How well a parsed map agrees with a reference map: the figures the parser benchmark and its test share."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core.labels import CLASSES, NUM_CLASSES


@dataclass(frozen=True)
class ParseScore:
    pixel_accuracy: float
    iou: dict[str, float]  # class key -> IoU, for the classes present in either map

    @property
    def mean_iou(self) -> float:
        return float(np.mean(list(self.iou.values()))) if self.iou else 0.0


def score_parse(pred: np.ndarray, ref: np.ndarray) -> ParseScore:
    """Pixel accuracy and per-class IoU of ``pred`` against ``ref`` (same shape, class ids)."""
    if pred.shape != ref.shape:
        raise ValueError(f"maps differ in shape: {pred.shape} vs {ref.shape}")
    iou = {}
    for c in range(NUM_CLASSES):
        a, b = pred == c, ref == c
        union = int((a | b).sum())
        if union:
            iou[CLASSES[c].key] = float((a & b).sum() / union)
    return ParseScore(float((pred == ref).mean()), iou)


def reference_in_crop(ref: np.ndarray, back: np.ndarray, size: int, photo_shape: tuple[int, ...]) -> np.ndarray:
    """A reference map of the original photo (any resolution of it), warped into the aligned crop (``back``:
    crop -> original photo coordinates)."""
    h, w = photo_shape[:2]
    if ref.shape != (h, w):
        ref = cv2.resize(ref, (w, h), interpolation=cv2.INTER_NEAREST)
    to_crop = cv2.invertAffineTransform(back)
    return cv2.warpAffine(ref, to_crop, (size, size), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)


# The regions an editable map must get right, left/right (upper/lower) classes pooled but each matched to itself.
FEATURE_GROUPS = {"skin": ("skin",), "nose": ("nose",), "eyes": ("l_eye", "r_eye"), "brows": ("l_brow", "r_brow"),
                  "lips": ("u_lip", "l_lip"), "hair": ("hair",)}


def feature_iou(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """IoU per feature group (pixel-weighted over the group's classes), for the groups present in either map."""
    from ..core.labels import CLASS_BY_KEY

    out = {}
    for name, keys in FEATURE_GROUPS.items():
        ids = [CLASS_BY_KEY[k].id for k in keys]
        inter = sum(int(((pred == i) & (ref == i)).sum()) for i in ids)
        union = sum(int(((pred == i) | (ref == i)).sum()) for i in ids)
        if union:
            out[name] = inter / union
    return out
