"""Paste an edited aligned face back into the original photo."""

from __future__ import annotations

import cv2
import numpy as np


def paste_back(original: np.ndarray, render: np.ndarray, labels: np.ndarray, alignment: np.ndarray,
               feather: float = 0.03) -> np.ndarray:
    """Warp ``render`` (aligned crop) into ``original`` with ``alignment`` (crop -> original affine) and blend it
    over the face and hair (every non-background class), feathered at the edge."""
    h, w = original.shape[:2]
    size = render.shape[0]
    if labels.shape[0] != size:
        labels = cv2.resize(labels, (size, size), interpolation=cv2.INTER_NEAREST)
    mask = (labels != 0).astype(np.float32)
    k = max(3, int(size * feather) | 1)
    mask = cv2.GaussianBlur(cv2.erode(mask, np.ones((3, 3), np.uint8)), (k, k), 0)
    warped = cv2.warpAffine(render, alignment, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    alpha = cv2.warpAffine(mask, alignment, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
    out = original.astype(np.float32) * (1 - alpha) + warped.astype(np.float32) * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
