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
