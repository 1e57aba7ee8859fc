"""Similarity transforms from two point pairs (eye centres): photo alignment and reference-map alignment."""

from __future__ import annotations

import numpy as np


def two_point_similarity(src, dst) -> np.ndarray:
    """2x3 rotation + uniform scale + translation mapping points ``src[0], src[1]`` onto ``dst[0], dst[1]``."""
    s = np.asarray(src, np.float64)
    d = np.asarray(dst, np.float64)
    vs, vd = s[1] - s[0], d[1] - d[0]
    scale = np.hypot(*vd) / max(np.hypot(*vs), 1e-6)
    ang = np.arctan2(vd[1], vd[0]) - np.arctan2(vs[1], vs[0])
    c, si = scale * np.cos(ang), scale * np.sin(ang)
    rot = np.array([[c, -si], [si, c]])
    return np.hstack([rot, (d[0] - rot @ s[0])[:, None]])


def translated(affine: np.ndarray, x0: float, y0: float) -> np.ndarray:
    """``affine`` (2x3, into a photo) followed by moving the origin to ``(x0, y0)``: into a box of the photo."""
    out = np.array(affine, np.float64)
    out[:, 2] -= (x0, y0)
    return out


def alignment_at_side(alignment: np.ndarray, side: int, new_side: int) -> np.ndarray:
    """The crop -> photo affine of the same aligned crop at another side. Pixel centres stay put: pixel j of
    the new crop is at (j + 0.5) * side / new_side - 0.5 of the old."""
    a = np.asarray(alignment, np.float64)
    k = side / new_side
    shift = a[:, 2] + a[:, :2] @ np.array([0.5 * k - 0.5, 0.5 * k - 0.5])
    return np.hstack([a[:, :2] * k, shift[:, None]])


def crop_at_side(original: np.ndarray, alignment: np.ndarray, side: int, new_side: int) -> np.ndarray:
    """The same aligned crop at another side, taken afresh from the original photo (not by resizing the crop:
    a 512 crop of a large face has detail the 256 one lost)."""
    import cv2

    # warpAffine has no area averaging: a face reduced more than 2x is warped at a whole multiple of the side
    # first (at most 4096 px) and then averaged down, so the crop does not alias
    reduction = photo_scale(alignment) * side / new_side
    big = new_side * int(min(max(1, np.floor(reduction + 1e-6)), max(1, 4096 // new_side)))
    crop = cv2.warpAffine(original, alignment_at_side(alignment, side, big), (big, big),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return crop if big == new_side else cv2.resize(crop, (new_side, new_side), interpolation=cv2.INTER_AREA)


def photo_scale(alignment: np.ndarray) -> float:
    """Photo pixels per render pixel of a crop -> photo affine."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(alignment, np.float64)[:, :2]))))
