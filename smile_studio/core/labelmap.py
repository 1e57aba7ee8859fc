"""LabelMap: an (H, W) uint8 map of class ids and the region edits a painter needs.

Every edit changes the array in place and returns a :class:`MapAtom` of exactly the pixels it changed (None when
nothing changed), so the caller can group atoms per user action in :class:`History`. Coordinates are continuous
image coordinates: pixel (i, j) covers [j, j+1) x [i, i+1) and its centre is (j + 0.5, i + 0.5).

Class protection is a boolean table ``writable[19]``: a pixel may change only when its current class is writable
("paint only over skin and hair"); None means everything is writable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from .history import MapAtom
from .labels import MIRROR_LUT, NUM_CLASSES

Point = tuple[float, float]


def writable_table(only: Iterable[int] | None = None, locked: Iterable[int] = ()) -> np.ndarray | None:
    """Protection table from 'paint only over these classes' and/or 'never change these classes'."""
    if only is None and not list(locked):
        return None
    table = np.zeros(NUM_CLASSES, bool) if only is not None else np.ones(NUM_CLASSES, bool)
    if only is not None:
        table[list(only)] = True
    table[list(locked)] = False
    return table


def polygon_mask(pts: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]] | None:
    """Even-odd rasterisation sampling pixel centres: a pixel is inside when its centre is.

    (cv2.fillPoly also paints the boundary pixels, which makes a 40-px wide rectangle 41 px wide.)
    """
    h, w = shape
    r0 = max(int(np.floor(pts[:, 1].min())), 0)
    r1 = min(int(np.ceil(pts[:, 1].max())), h)
    if r0 >= r1:
        return None
    yc = np.arange(r0, r1, dtype=np.float64)[:, None] + 0.5
    p0, p1 = pts, np.roll(pts, -1, axis=0)
    x0, y0, x1, y1 = p0[:, 0], p0[:, 1], p1[:, 0], p1[:, 1]
    crosses = (y0 <= yc) != (y1 <= yc)  # (rows, edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = x0 + (yc - y0) * (x1 - x0) / (y1 - y0)
    rows, edges = np.nonzero(crosses)
    cols = np.clip(np.ceil(xs[rows, edges] - 0.5), 0, w).astype(np.int64)
    toggles = np.zeros((r1 - r0, w + 1), np.int32)
    np.add.at(toggles, (rows, cols), 1)
    mask = (np.cumsum(toggles, axis=1)[:, :w] & 1).astype(bool)
    return mask, (r0, 0)


def fill_polygon(shape: tuple[int, int], pts) -> np.ndarray:
    """The pixels a polygon (float points, rounded) covers, its outline included, as cv2.fillPoly paints them
    (for shapes drawn from landmarks, where a pixel more on the outline errs on the side of covering;
    :func:`polygon_mask` samples pixel centres instead)."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(pts, np.float64)).astype(np.int32)], 1)
    return mask.astype(bool)


def disk(radius: int) -> np.ndarray:
    """A round structuring element of ``radius`` px (for growing and shrinking regions alike in every
    direction)."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)


def inpaint_labels(labels: np.ndarray, mask: np.ndarray, exclude: tuple[int, ...] = (),
                   only: tuple[int, ...] | None = None) -> np.ndarray:
    """Give every masked pixel the class of the nearest unmasked pixel whose class is allowed (in ``only`` when
    given, and not in ``exclude``)."""
    out = labels.copy()
    if not mask.any():
        return out
    src = ~mask & ~np.isin(labels, exclude)
    if only is not None:
        src &= np.isin(labels, only)
    if not src.any():
        out[mask] = 0
        return out
    _, nearest = cv2.distanceTransformWithLabels((~src).astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    lut = np.zeros(int(nearest.max()) + 1, np.uint8)
    lut[nearest[src]] = labels[src]
    out[mask] = lut[nearest[mask]]
    return out


class LabelMap:
    def __init__(self, labels: np.ndarray):
        arr = np.array(labels, dtype=np.uint8, copy=True)
        if arr.ndim != 2:
            raise ValueError(f"a label map is 2-D, got shape {arr.shape}")
        if arr.size and int(arr.max()) >= NUM_CLASSES:
            raise ValueError(f"label map holds id {int(arr.max())}, outside 0..{NUM_CLASSES - 1}")
        self.labels = arr

    @classmethod
    def blank(cls, size: int = 256, fill: int = 0) -> LabelMap:
        return cls(np.full((size, size), fill, np.uint8))

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape  # type: ignore[return-value]

    def copy(self) -> LabelMap:
        return LabelMap(self.labels)

    # -- core primitive ----------------------------------------------------------------------------------------
    def _write(self, flat_idx: np.ndarray, value: int | np.ndarray, writable: np.ndarray | None) -> MapAtom | None:
        """Set pixels (flat indices) to ``value`` where allowed and different; the atom of what changed."""
        flat = self.labels.reshape(-1)
        old = flat[flat_idx]
        new = np.broadcast_to(np.asarray(value, np.uint8), old.shape)
        keep = old != new
        if writable is not None:
            keep &= writable[old]
        if not keep.any():
            return None
        idx = flat_idx[keep].astype(np.int32)
        old, new = old[keep], np.array(new[keep])
        flat[idx] = new
        return MapAtom(idx, old, new)

    def _write_mask(self, mask: np.ndarray, value: int | np.ndarray, writable: np.ndarray | None,
                    origin: tuple[int, int] = (0, 0)) -> MapAtom | None:
        """Write ``value`` (one class, or one per set pixel in row-major order) where a (sub-)mask is set;
        ``origin`` is the mask's (row, col) offset in the map."""
        rows, cols = np.nonzero(mask)
        if rows.size == 0:
            return None
        flat_idx = (rows + origin[0]) * self.shape[1] + (cols + origin[1])
        return self._write(flat_idx, value, writable)

    # -- brush -------------------------------------------------------------------------------------------------
    def _capsule_mask(self, p0: Point, p1: Point, radius: float) -> tuple[np.ndarray, tuple[int, int]] | None:
        h, w = self.shape
        r = max(radius, 0.5)
        x0, y0 = p0
        x1, y1 = p1
        c0, c1 = int(np.floor(min(x0, x1) - r)), int(np.ceil(max(x0, x1) + r))
        r0, r1 = int(np.floor(min(y0, y1) - r)), int(np.ceil(max(y0, y1) + r))
        c0, r0 = max(c0, 0), max(r0, 0)
        c1, r1 = min(c1, w), min(r1, h)
        if c0 >= c1 or r0 >= r1:
            return None
        ys = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
        xs = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5
        dx, dy = x1 - x0, y1 - y0
        seg2 = dx * dx + dy * dy
        if seg2 > 0:
            t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / seg2, 0.0, 1.0)
        else:
            t = np.zeros((1, 1), np.float32)
        ex = xs - (x0 + t * dx)
        ey = ys - (y0 + t * dy)
        mask = ex * ex + ey * ey <= r * r
        # The pixels under the end points are always painted, so a 1-px brush never misses.
        for px, py in (p0, p1):
            ix, iy = int(np.floor(px)) - c0, int(np.floor(py)) - r0
            if 0 <= iy < mask.shape[0] and 0 <= ix < mask.shape[1]:
                mask[iy, ix] = True
        return mask, (r0, c0)

    def stroke_segment(self, p0: Point, p1: Point, cls: int, size: float,
                       writable: np.ndarray | None = None) -> MapAtom | None:
        """Paint a round brush of diameter ``size`` swept from p0 to p1 (p0 == p1 stamps one disc)."""
        found = self._capsule_mask(p0, p1, size / 2.0)
        if found is None:
            return None
        mask, origin = found
        return self._write_mask(mask, cls, writable, origin)

    def restore_segment(self, p0: Point, p1: Point, source: np.ndarray, size: float,
                        writable: np.ndarray | None = None) -> MapAtom | None:
        """The eraser: under a round brush swept from p0 to p1, the classes of ``source`` (the map as the face
        was opened) come back."""
        found = self._capsule_mask(p0, p1, size / 2.0)
        if found is None:
            return None
        mask, (r, c) = found
        under = np.asarray(source, np.uint8)[r:r + mask.shape[0], c:c + mask.shape[1]][mask]  # nonzero(mask)'s order
        return self._write_mask(mask, under, writable, (r, c))

    def stroke(self, points: Sequence[Point], cls: int, size: float,
               writable: np.ndarray | None = None) -> list[MapAtom]:
        """A whole polyline stroke; a single point stamps. Returns the atoms of every segment."""
        pts = list(points)
        if not pts:
            return []
        if len(pts) == 1:
            pts = pts * 2
        atoms = [self.stroke_segment(a, b, cls, size, writable) for a, b in zip(pts[:-1], pts[1:], strict=True)]
        return [a for a in atoms if a is not None]

    # -- fills -------------------------------------------------------------------------------------------------
    def region_at(self, x: float, y: float, contiguous: bool = True) -> np.ndarray | None:
        """Boolean mask of the pixels of the clicked class (4-connected component, or all of them)."""
        h, w = self.shape
        col, row = int(np.floor(x)), int(np.floor(y))
        if not (0 <= row < h and 0 <= col < w):
            return None
        seed_cls = self.labels[row, col]
        if not contiguous:
            return self.labels == seed_cls
        ff_mask = np.zeros((h + 2, w + 2), np.uint8)
        flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
        cv2.floodFill(self.labels, ff_mask, (col, row), 0, 0, 0, flags)
        return ff_mask[1:-1, 1:-1].view(bool)

    def fill(self, x: float, y: float, cls: int, contiguous: bool = True,
             writable: np.ndarray | None = None) -> MapAtom | None:
        """Flood fill: only pixels of the clicked class change, so classes enclosed in it are kept."""
        region = self.region_at(x, y, contiguous)
        if region is None:
            return None
        return self._write(np.flatnonzero(region), cls, writable)

    def polygon(self, points: Sequence[Point], cls: int, writable: np.ndarray | None = None) -> MapAtom | None:
        """Fill a closed polygon (vertices in image coordinates)."""
        if len(points) < 3:
            return None
        found = polygon_mask(np.asarray(points, np.float64), self.shape)
        if found is None:
            return None
        mask, origin = found
        return self._write_mask(mask, cls, writable, origin)

    def replace(self, src: int, dst: int, writable: np.ndarray | None = None) -> MapAtom | None:
        """Every pixel of class ``src`` becomes ``dst``."""
        return self._write(np.flatnonzero(self.labels == src), dst, writable)

    def set_all(self, new_labels: np.ndarray, writable: np.ndarray | None = None) -> MapAtom | None:
        """Replace the map by another of the same shape (attribute edits, imports), as one atom."""
        new = np.asarray(new_labels, np.uint8)
        if new.shape != self.shape:
            raise ValueError(f"new map has shape {new.shape}, expected {self.shape}")
        diff = np.flatnonzero(new.reshape(-1) != self.labels.reshape(-1))
        return self._write(diff, new.reshape(-1)[diff], writable)

    def mirrored(self) -> np.ndarray:
        """The map flipped left-right with left/right classes swapped (a face stays anatomically right)."""
        return MIRROR_LUT[self.labels[:, ::-1]]

    def mirror(self, writable: np.ndarray | None = None) -> MapAtom | None:
        return self.set_all(self.mirrored(), writable)

    def island_mask(self, min_area: int) -> np.ndarray:
        """Pixels of 8-connected single-class components smaller than ``min_area`` (specks left by painting)."""
        small = np.zeros(self.shape, bool)
        for cls in np.unique(self.labels):
            n, comp, stats, _ = cv2.connectedComponentsWithStats((self.labels == cls).astype(np.uint8), connectivity=8)
            tiny = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < min_area) + 1
            if tiny.size:
                small |= np.isin(comp, tiny)
        return small

    def remove_islands(self, min_area: int = 16, writable: np.ndarray | None = None) -> MapAtom | None:
        """Give every island smaller than ``min_area`` the class of its nearest surroundings."""
        small = self.island_mask(min_area)
        if not small.any():
            return None
        filled = inpaint_labels(self.labels, small)
        return self.set_all(filled, writable)

    def class_at(self, x: float, y: float) -> int | None:
        """Eyedropper."""
        h, w = self.shape
        col, row = int(np.floor(x)), int(np.floor(y))
        if 0 <= row < h and 0 <= col < w:
            return int(self.labels[row, col])
        return None

    def counts(self) -> np.ndarray:
        return np.bincount(self.labels.reshape(-1), minlength=NUM_CLASSES)
