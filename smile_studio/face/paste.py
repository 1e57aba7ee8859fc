"""Putting an edited aligned face back into the original photo at its full size.

Only what the edit changed goes back: the pixels whose class changed and the regions whose style changed, grown
by a margin and feathered; the render is shifted towards the photo's colours along the seam (so a render that is
slightly darker or warmer overall leaves no visible edge). Everywhere else the photo stays byte-identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..core.labelmap import disk
from .align import translated

GROW = 0.015  # margin around the changed pixels, in units of the crop side
FEATHER = 0.025


def changed_pixels(source_labels: np.ndarray | None, labels: np.ndarray, restyled: Sequence[int] = ()) -> np.ndarray:
    """Where the edit changed the face: class changes and restyled classes in either map (the whole face when
    there is no source map to compare with)."""
    changed = labels != 0 if source_labels is None else labels != source_labels  # no source: the whole face
    for cid in restyled:
        changed |= labels == cid
        if source_labels is not None:
            changed |= source_labels == cid
    return changed


def edit_region(source_labels: np.ndarray | None, labels: np.ndarray, restyled: Sequence[int] = ()) -> np.ndarray:
    """(S, S) float32 in [0, 1]: where the edit changed the face (:func:`changed_pixels`), grown and feathered;
    0 far from any change."""
    size = labels.shape[0]
    changed = changed_pixels(source_labels, labels, restyled)
    if not changed.any():
        return np.zeros(labels.shape, np.float32)
    grow = max(1, int(round(GROW * size)))
    mask = cv2.dilate(changed.astype(np.uint8), disk(grow))
    k = max(3, int(size * FEATHER) | 1)
    return cv2.GaussianBlur(mask.astype(np.float32), (k, k), 0)


def paste_back(original: np.ndarray, render: np.ndarray, alignment: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``render`` (aligned crop) warped into ``original`` by ``alignment`` (crop -> original affine) and blended
    where ``region`` (crop space, from :func:`edit_region`) says; elsewhere ``original`` unchanged, byte for byte."""
    h, w = original.shape[:2]
    size = render.shape[0]
    if region.shape[0] != size:
        region = cv2.resize(region, (size, size), interpolation=cv2.INTER_LINEAR)
    if not region.any():
        return original.copy()
    alpha = cv2.warpAffine(region, alignment, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    ys, xs = np.nonzero(alpha > 1e-4)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    # warp only the box the region covers (a 108-Mpx photo is never warped whole)
    box_affine = translated(alignment, x0, y0)
    flags = cv2.INTER_CUBIC if abs(alignment[0, 0]) + abs(alignment[0, 1]) > 1 else cv2.INTER_AREA
    warped = cv2.warpAffine(render, box_affine, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_REFLECT)
    a = alpha[y0:y1, x0:x1, None]
    base = original[y0:y1, x0:x1].astype(np.float32)
    warped = _match_seam(warped.astype(np.float32), base, a[..., 0])
    out = original.copy()
    out[y0:y1, x0:x1] = np.clip(base * (1 - a) + warped * a + 0.5, 0, 255).astype(np.uint8)
    keep = a[..., 0] <= 1e-4
    out[y0:y1, x0:x1][keep] = original[y0:y1, x0:x1][keep]  # exactly the photo outside the region
    return out


def _match_seam(warped: np.ndarray, base: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Shift the render's colours by its mean difference from the photo along the feathered seam (where both
    should agree), fading the shift out towards the inside of the region so new content keeps its colours."""
    seam = (alpha > 0.05) & (alpha < 0.6)
    if seam.sum() < 20:
        return warped
    offset = (base[seam] - warped[seam]).mean(0)
    return warped + offset[None, None, :] * (1 - alpha[..., None]) ** 0.5


def map_at_photo_size(labels: np.ndarray, alignment: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The edited map in the original photo's frame (nearest neighbour; background outside the crop)."""
    return cv2.warpAffine(labels, alignment, (shape[1], shape[0]), flags=cv2.INTER_NEAREST, borderValue=0)
