"""Measures of edit quality shared by the tests and the benchmarks (locality, colour distance)."""

from __future__ import annotations

import cv2
import numpy as np

from ..core.labels import ATTRIBUTE_BY_KEY
from .colour_move import rgb_to_lab


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
    return rgb_to_lab(rgb)[mask].mean(0)


def delta_e(lab_a: np.ndarray, lab_b: np.ndarray) -> float:
    """CIE76 colour difference."""
    return float(np.linalg.norm(np.asarray(lab_a) - np.asarray(lab_b)))


def _gray(rgb: np.ndarray) -> np.ndarray:
    """The grey image as an 8-bit image would store it (rounded; the compositor's own measure,
    :func:`..face.composite.grey`, is unrounded): the bench's figures are read on the images as written."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)


def detail_level(rgb: np.ndarray, mask: np.ndarray, inset: int = 2) -> float:
    """Mean |Laplacian| of the grey image over ``mask`` shrunk by ``inset`` px (its outline is not texture);
    nan when nothing is left."""
    inner = cv2.erode(mask.astype(np.uint8), np.ones((2 * inset + 1,) * 2, np.uint8)).astype(bool)
    if inner.sum() < 50:
        return float("nan")
    return float(np.abs(cv2.Laplacian(_gray(rgb), cv2.CV_32F))[inner].mean())


def edge_rise_width(rgb: np.ndarray, mask: np.ndarray, reach: float = 3.5, min_contrast: float = 24.0) -> float:
    """Median 10-90 % rise width (px) of the grey level across the outline of ``mask``, sampled along the
    outline's normal at every third outline pixel where the two sides differ by ``min_contrast`` grey levels
    or more; nan when no such place exists. The two levels are read 1 px short of ``reach`` on either side: the
    outline's own step, not the shading of a rounded object or a shadow beyond it (an edge blurred wider than
    that reads as at least 4 px)."""
    m = mask.astype(np.uint8)
    outline = m.astype(bool) & ~cv2.erode(m, np.ones((3, 3), np.uint8)).astype(bool)
    ys, xs = np.nonzero(outline)
    if ys.size == 0:
        return float("nan")
    ys, xs = ys[::3], xs[::3]
    if ys.size > 20000:  # enough samples (and OpenCV's remap takes fewer than 32767 rows)
        keep = np.linspace(0, ys.size - 1, 20000).astype(int)
        ys, xs = ys[keep], xs[keep]
    soft = cv2.GaussianBlur(m.astype(np.float32), (0, 0), 2.0)
    gy, gx = np.gradient(soft)
    n = np.stack([gx[ys, xs], gy[ys, xs]], -1)
    norm = np.linalg.norm(n, axis=-1)
    keep = norm > 1e-3
    ys, xs, n = ys[keep], xs[keep], n[keep] / norm[keep, None]  # n points into the mask
    t = np.arange(-reach, reach + 1e-6, 0.25, dtype=np.float32)
    map_x = (xs[:, None] + n[:, :1] * t[None]).astype(np.float32)
    map_y = (ys[:, None] + n[:, 1:] * t[None]).astype(np.float32)
    prof = cv2.remap(_gray(rgb), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    ends = np.abs(t) > reach - 1
    lo, hi = prof[:, ends & (t < 0)].mean(1), prof[:, ends & (t > 0)].mean(1)
    strong = np.abs(hi - lo) >= min_contrast
    widths = []
    for p, a, b in zip(prof[strong], lo[strong], hi[strong], strict=True):
        q = np.maximum.accumulate((p - a) / (b - a))  # monotone envelope from the outside in
        widths.append(t[np.argmax(q >= 0.9)] - t[np.argmax(q >= 0.1)])
    return float(np.median(widths)) if widths else float("nan")


def staircase(rgb: np.ndarray, mask: np.ndarray, step: int = 4, oblique: bool = True,
              made: np.ndarray | None = None, rim: int = 2) -> float:
    """How much a render's pixel grid shows after upsampling by ``step``: the mean grey-level step between
    neighbours across the best-aligned grid phase divided by that across the other phases, over ``mask``
    and its one-pixel rim (1.0 = no grid; nan when too little is left). ``oblique``: leave out the stretches of
    the outline that run within 15 degrees of the grid's axes — a straight horizontal or vertical edge of the
    render falls on its grid whatever is done to it, and is not a staircase. ``made``: only these pixels (those
    an edit changed: the photo's own pixels around them carry its JPEG blocks, which fall on the same grid)."""
    m = mask.astype(np.uint8)
    band = cv2.dilate(m, np.ones((2 * rim + 1,) * 2, np.uint8)).astype(bool)
    if made is not None:
        band &= made
    if oblique:
        soft = cv2.GaussianBlur(m.astype(np.float32), (0, 0), 2.0)
        gy, gx = np.gradient(soft)
        norm = np.hypot(gx, gy)
        edge = norm > 0.02
        axis = np.minimum(np.abs(gx), np.abs(gy)) < np.sin(np.radians(15)) * norm
        band &= ~(edge & axis)
    g = _gray(rgb)
    dx, dy = np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0))
    mx, my = band[:, :-1] & band[:, 1:], band[:-1] & band[1:]
    phase = []
    for k in range(step):
        cx, cy = mx[:, k::step], my[k::step]
        count = cx.sum() + cy.sum()
        if count < 50:
            return float("nan")
        phase.append((dx[:, k::step][cx].sum() + dy[k::step][cy].sum()) / count)
    phase = np.array(phase)
    worst = int(np.argmax(phase))
    rest = np.delete(phase, worst).mean()
    if rest == 0:  # every step on the grid (a nearest-neighbour upsampling): as bad as it gets
        return float("inf") if phase[worst] > 0 else float("nan")
    return float(phase[worst] / rest)
