"""Worn objects the offline renderer has no photo of (a hat, glasses, earrings, a necklace on a face that had
none): shaded as volumes by the face's own light, hats given fabric folds, glossy things a glint, and a soft
contact shadow on what lies beneath — instead of a flat patch of colour.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..face.shading import WORN, Light, cast_shadow, lambert


def _folds(mask: np.ndarray, seed: int) -> np.ndarray:
    """Soft fabric folds running from the crown to the brim: noise stretched along the vertical, around 0."""
    rng = np.random.default_rng([seed, 31])
    size = mask.shape[0]
    noise = cv2.GaussianBlur(rng.normal(0, 1, mask.shape).astype(np.float32), (0, 0),
                             sigmaX=size / 110, sigmaY=size / 25)
    return noise / max(float(noise[mask].std()), 1e-6) if mask.any() else noise


def shade_worn(image: np.ndarray, labels: np.ndarray, new: np.ndarray, light: Light, seed: int = 0) -> np.ndarray:
    """``image`` (float32 RGB) with every worn class's ``new`` pixels shaded as a volume and its shadow cast
    on the pixels around it that are not new."""
    out = image.copy()
    shadow = np.zeros(labels.shape, np.float32)
    for cid, mat in WORN.items():
        mask = new & (labels == cid)
        if mask.sum() < 4:
            continue
        half_width = float(cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5).max())
        diffuse, glint = lambert(mask, light, max(1.0, mat.depth * half_width), mat.gloss)
        factor = diffuse
        if mat.folds:
            factor = factor * (1 + mat.folds * _folds(mask, seed))
        out[mask] = out[mask] * factor[mask, None] + 255 * mat.glint * glint[mask, None]
        reach = max(1.0, labels.shape[0] / 128)
        shadow = np.maximum(shadow, mat.shadow * cast_shadow(mask, light, reach, 0.5 * reach))
    shadow[new] = 0
    return np.clip(out * (1 - shadow[..., None]), 0, 255)
