"""Measures of edit quality shared by the tests and the benchmarks (locality, colour distance)."""

from __future__ import annotations

import cv2
import numpy as np

from ..core.labels import ATTRIBUTE_BY_KEY


def distance_from(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (px) of every pixel from the nearest pixel of ``mask`` (inf when the mask is empty)."""
    if not mask.any():
        return np.full(mask.shape, np.inf, np.float32)
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)


def attribute_locality(before: np.ndarray, after: np.ndarray, keys, radius: float = 16) -> float:
    """Fraction of pixels farther than ``radius`` from the attributes' regions (before or after) that kept
    their class; 1.0 when no pixel is that far."""
    classes = sorted({c for k in keys for c in ATTRIBUTE_BY_KEY[k].regions})
    region = np.isin(before, classes) | np.isin(after, classes)
    far = distance_from(region) > radius
    if not far.any():
        return 1.0
    return float((before[far] == after[far]).mean())


def render_locality(render_a: np.ndarray, render_b: np.ndarray, changed: np.ndarray, radius: float = 8) -> float:
    """Largest colour difference (0-255) between two renders over pixels farther than ``radius`` from
    ``changed`` map pixels."""
    far = distance_from(changed) > radius
    if not far.any():
        return 0.0
    diff = np.abs(render_a.astype(np.int16) - render_b.astype(np.int16)).max(-1)
    return float(diff[far].max())


def mean_lab(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return lab[mask].mean(0)


def delta_e(lab_a: np.ndarray, lab_b: np.ndarray) -> float:
    """CIE76 colour difference."""
    return float(np.linalg.norm(np.asarray(lab_a) - np.asarray(lab_b)))
