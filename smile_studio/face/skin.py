"""A skin-colour model read off the photo itself: pixels whose chroma is that of a sample of the face's own skin
(the cheeks), whatever their lightness — shading and highlights change lightness, not the skin's chroma."""

from __future__ import annotations

import cv2
import numpy as np


def chroma_like(crop: np.ndarray, sample) -> np.ndarray:
    """Pixels of ``crop`` (RGB) whose chroma (YCrCb's Cr, Cb) lies within 3 standard deviations (Mahalanobis) of
    the pixels ``sample`` selects (a mask or slices), the spread widened by 2 levels so that a flat sample does
    not shrink to a point; none for a sample of fewer than 4 pixels."""
    ycc = cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb).astype(np.float32)[..., 1:]
    samples = ycc[sample].reshape(-1, 2)
    if len(samples) < 4:
        return np.zeros(crop.shape[:2], bool)
    diff = ycc - samples.mean(0)
    inv = np.linalg.inv(np.cov(samples.T) + np.eye(2) * 4.0)
    return np.einsum("...i,ij,...j->...", diff, inv, diff) < 9.0
