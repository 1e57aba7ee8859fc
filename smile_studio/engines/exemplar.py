"""Offline renderer: exemplar-based region synthesis from the source photo and references (no learned weights).

For every class of the target map the renderer picks an *exemplar* (the same class in the source photo, in a
reference, or in the bundled sample photo) and:

* keeps source pixels wherever the map and the style are unchanged, so an edit only touches its neighbourhood;
* fills pixels whose class is new there with texture copied from the exemplar at the same image position, mirrored
  around the exemplar's bounding box where the region extends beyond it (holes inside the box are filled by a
  push-pull pyramid and given the exemplar's grain), so texture and shading come from real pixels;
* moves a region's colour statistics (mean and spread in Lab) to the reference's for reference styles, and to a
  seeded colour from a plausible range for the class for random styles;
* blends region borders with a narrow feather.
Classes with no exemplar anywhere (a hat on a bare-headed sample) get a seeded procedural texture.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..core.document import StyleSource
from ..core.labels import CLASSES, SKIN_TONED
from ..core.labels import ClassId as C
from ..face.shading import FRONTAL, light_from_skin
from .base import OFFLINE_INFO, RenderRequest
from .cache import array_digest, lru_get
from .colour_move import carry_to_neighbours, lab_stats, move_colours, rgb_to_lab
from .texture import GrowthSource, push_pull_fill
from .worn import WORN, shade_worn

MIN_EXEMPLAR_PIXELS = 24
CACHE_BYTES = 128 * 2**20  # exemplars kept between renders

#: Plausible colours (RGB) per class key for random styles: a seed picks one anchor and jitters it.
PLAUSIBLE_COLOURS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "skin": ((255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 56, 28)),
    "hair": ((20, 16, 14), (59, 40, 28), (106, 78, 50), (167, 133, 90), (220, 190, 130), (150, 60, 30),
             (170, 170, 170)),
    "u_lip": ((190, 90, 90), (160, 60, 70), (210, 120, 110), (130, 50, 60)),
    "l_lip": ((190, 90, 90), (160, 60, 70), (210, 120, 110), (130, 50, 60)),
    "l_brow": ((30, 22, 18), (70, 50, 35), (120, 90, 60)),
    "r_brow": ((30, 22, 18), (70, 50, 35), (120, 90, 60)),
    "eye_g": ((25, 25, 28), (90, 60, 40), (180, 160, 120), (150, 150, 160)),
    "hat": ((30, 30, 35), (120, 20, 30), (30, 50, 110), (200, 190, 170), (60, 90, 50), (140, 100, 60)),
    "ear_r": ((212, 175, 55), (192, 192, 200), (230, 190, 140)),
    "neck_l": ((212, 175, 55), (192, 192, 200), (240, 240, 235)),
    "cloth": ((30, 30, 35), (230, 230, 230), (40, 60, 120), (120, 30, 40), (70, 90, 60), (150, 120, 90)),
    "background": ((235, 235, 235), (120, 140, 160), (60, 70, 60), (200, 190, 170), (30, 30, 30)),
}


def reflect_fill(img: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill invalid pixels with the texture mirrored through the nearest valid pixel (p -> 2 q - p), so a hole
    continues the class's real texture outward from its border; pixels whose mirror image is not valid stay NaN."""
    out = img.astype(np.float32).copy()
    holes = ~valid
    if not holes.any():
        return out
    h, w = valid.shape
    _, nearest = cv2.distanceTransformWithLabels(holes.astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    vy, vx = np.nonzero(valid)
    lut_y = np.zeros(int(nearest.max()) + 1, np.int64)
    lut_x = np.zeros_like(lut_y)
    lut_y[nearest[vy, vx]] = vy
    lut_x[nearest[vy, vx]] = vx
    hy, hx = np.nonzero(holes)
    qy, qx = lut_y[nearest[hy, hx]], lut_x[nearest[hy, hx]]
    ry, rx = 2 * qy - hy, 2 * qx - hx
    inside = (ry >= 0) & (ry < h) & (rx >= 0) & (rx < w)
    ok = np.zeros_like(inside)
    ok[inside] = valid[ry[inside], rx[inside]]
    out[hy[ok], hx[ok]] = img[ry[ok], rx[ok]]
    out[hy[~ok], hx[~ok]] = np.nan
    return out


def _mirror(idx: np.ndarray, lo: int, n: int) -> np.ndarray:
    """Map coordinates onto [lo, lo + n) by mirror tiling (continuous texture at the seams)."""
    period = 2 * n
    r = np.mod(idx - lo, period)
    return lo + np.where(r < n, r, period - 1 - r)


@dataclass
class Exemplar:
    """A class's texture source: an image filled inside the class's bounding box, and its Lab statistics."""

    tile: np.ndarray  # (h, w, 3) float32, the box of the class with holes filled
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in exemplar image coordinates
    scale: float  # exemplar pixels per target pixel
    mean: np.ndarray  # Lab mean (3,)
    std: np.ndarray  # Lab std (3,)
    procedural: bool = False  # drawn, not taken from any photo: worn objects get light and shadow

    @classmethod
    def build(cls, rgb: np.ndarray, mask: np.ndarray, target_size: int, seed: int = 0,
              smooth: bool = False) -> Exemplar:
        """``smooth``: fill the holes by inpainting from their border instead of mirroring texture into them
        (a background behind removed hair is smooth; mirrored, it shows stripes)."""
        ys, xs = np.nonzero(mask)
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        crop = rgb[y0:y1, x0:x1].astype(np.float32)
        valid = mask[y0:y1, x0:x1]
        if smooth and not valid.all():
            filled = crop.copy()
            holes = ~valid
            inpainted = cv2.inpaint(np.clip(crop + 0.5, 0, 255).astype(np.uint8), holes.astype(np.uint8), 5,
                                    cv2.INPAINT_TELEA).astype(np.float32)
            filled[holes] = inpainted[holes]
            valid = np.ones_like(valid)
        else:
            filled = reflect_fill(crop, valid)
        if not valid.all():  # holes far from the class (no reflected pixel) get the smooth fill plus grain
            rest = ~valid & np.isnan(filled[..., 0])
            if rest.any():
                smooth = push_pull_fill(crop, valid)
                grain = crop - cv2.GaussianBlur(crop, (0, 0), 1.5)
                g = grain[valid]
                rng = np.random.default_rng(seed)
                filled[rest] = smooth[rest] + g[rng.integers(0, len(g), size=int(rest.sum()))]
        inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        own = inner if inner.sum() >= MIN_EXEMPLAR_PIXELS else mask  # edge pixels are mixed with a neighbour
        return cls(np.clip(filled, 0, 255), (x0, y0, x1, y1), rgb.shape[0] / target_size,
                   *lab_stats(rgb[own]))

    def sample(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Texture at target pixel positions: the same place in the exemplar, mirrored around its box."""
        x0, y0, x1, y1 = self.box
        sx = np.round(xs * self.scale).astype(np.int64)
        sy = np.round(ys * self.scale).astype(np.int64)
        sx = _mirror(sx, x0, x1 - x0) - x0
        sy = _mirror(sy, y0, y1 - y0) - y0
        return self.tile[sy, sx]


def procedural_exemplar(class_id: int, size: int, seed: int | None) -> Exemplar:
    """A texture for a class nobody shows: shaded base colour with fine grain; the class's most typical colour
    when ``seed`` is None, a seeded plausible one otherwise."""
    rng = np.random.default_rng([seed or 0, class_id])
    anchors = PLAUSIBLE_COLOURS.get(CLASSES[class_id].key, ((128, 128, 128),))
    base = np.array(anchors[0 if seed is None else int(rng.integers(len(anchors)))], np.float32)
    yy = np.linspace(-1, 1, size, dtype=np.float32)[:, None, None]
    shade = 1.0 - 0.18 * yy
    grain = cv2.GaussianBlur(rng.normal(0, 8, (size, size)).astype(np.float32), (0, 0), 0.8)[..., None]
    tile = np.clip(base[None, None] * shade + grain, 0, 255).astype(np.float32)
    return Exemplar(tile, (0, 0, size, size), 1.0, *lab_stats(tile.reshape(-1, 3)), procedural=True)


def random_style_stats(class_id: int, seed: int, base: Exemplar) -> tuple[np.ndarray, np.ndarray]:
    """Target Lab statistics for a random style: a plausible colour for the class, the exemplar's spread."""
    rng = np.random.default_rng([seed, 7919, class_id])
    anchors = PLAUSIBLE_COLOURS.get(CLASSES[class_id].key)
    if anchors:
        rgb = np.array(anchors[int(rng.integers(len(anchors)))], np.float32)
        rgb = np.clip(rgb + rng.normal(0, 10, 3), 0, 255)
    else:
        rgb = rng.uniform(30, 225, 3)
    mean = rgb_to_lab(rgb.reshape(1, 1, 3).astype(np.float32)).reshape(3)
    std = base.std * float(rng.uniform(0.8, 1.2))
    return mean, std


class ExemplarRenderEngine:
    """Exemplar-based region rendering (no learned weights)."""

    name = "offline"
    info = OFFLINE_INFO
    description = "Offline renderer: exemplar-based region texture synthesis from the photo and references (not SMILE)"
    large_side = None  # renders at the map's side; the compositor brings the photo's detail

    def __init__(self, sample: tuple[np.ndarray, np.ndarray] | None = None, cache_size: int = 64):
        # the bundled sample (rgb, labels): exemplars when a map has no photo
        self.sample = _Source.of(*sample) if sample is not None else None
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size

    # -- exemplars ---------------------------------------------------------------------------------------------
    def _exemplar(self, src: _Source, class_id: int, size: int) -> Exemplar | None:
        rgb, labels = src.rgb, src.labels
        mask = labels == class_id
        if mask.sum() < MIN_EXEMPLAR_PIXELS:
            return None
        return lru_get(self._cache, self._cache_size, (src.key, class_id, size),
                       lambda: Exemplar.build(rgb, mask, size, seed=class_id, smooth=class_id == C.BACKGROUND),
                       max_bytes=CACHE_BYTES)

    def _stats(self, src: _Source, class_id: int, size: int):
        ex = self._exemplar(src, class_id, size)
        return None if ex is None else (ex.mean, ex.std)

    def _growth(self, src: _Source, class_id: int, size: int) -> GrowthSource | None:
        return lru_get(self._cache, self._cache_size, (src.key, class_id, size, "growth"),
                       lambda: GrowthSource.build(src.rgb, src.labels == class_id), max_bytes=CACHE_BYTES)

    def _base_exemplar(self, req: RenderRequest, source: _Source | None, c: int, size: int) -> Exemplar:
        for src in (source, self.sample):
            if src is not None:
                ex = self._exemplar(src, c, size)
                if ex is not None:
                    return ex
        return procedural_exemplar(c, size, seed=req.styles[c].seed if req.styles[c].kind == "seed" else None)

    # -- rendering ---------------------------------------------------------------------------------------------
    def render(self, req: RenderRequest) -> np.ndarray:
        if req.stroke:  # while a stroke is drawn: half the pixels, a quarter of the work
            req = replace(req.halved(), stroke=False)
        labels = np.asarray(req.labels, np.uint8)
        size = labels.shape[0]
        photo, src_labels = _fit(req.photo, size, cv2.INTER_AREA), _fit(req.source_labels, size, cv2.INTER_NEAREST)
        if photo is not None and src_labels is None:
            src_labels = labels
        styles: tuple[StyleSource, ...] = tuple(req.styles)
        out = photo.astype(np.float32) if photo is not None else np.zeros((size, size, 3), np.float32)
        keep = np.zeros(labels.shape, bool)
        if photo is not None:
            same = labels == src_labels
            source_styled = np.array([s.kind == "source" for s in styles])
            keep = same & source_styled[labels]
        synth_mask = ~keep
        source = _Source.of(photo, src_labels) if photo is not None else None
        refs: dict = {}  # reference id -> its _Source at this size, digested once per render
        drawn = np.zeros(labels.shape, bool)  # worn objects drawn procedurally: lit and shadowed below
        moves: dict = {}  # class -> its colour move (the photo's stats, their target), read by its neighbours
        # and, for the skin, by the SKIN_TONED classes that follow its style: the nose keeps its shade to the cheek
        for c in sorted((int(c) for c in np.unique(labels[synth_mask])), key=lambda c: c != C.SKIN):
            region = synth_mask & (labels == c)
            ys, xs = np.nonzero(region)
            style = styles[c]
            base = self._base_exemplar(req, source, c, size)
            target = None
            if style.kind == "reference":
                ref = req.reference(style.ref)
                if ref is not None and ref.labels is not None:
                    if ref.id not in refs:
                        refs[ref.id] = _Source.of(_fit(ref.rgb, size, cv2.INTER_AREA),
                                                  _fit(ref.labels, size, cv2.INTER_NEAREST))
                    ref_ex = self._exemplar(refs[ref.id], c, size)
                    if ref_ex is not None:
                        target = (ref_ex.mean, ref_ex.std)
                        if photo is None or src_labels is None or not (src_labels == c).any():
                            base = ref_ex  # the reference also supplies texture for classes the photo lacks
            elif style.kind == "seed":
                target = random_style_stats(c, style.seed, base)
            # pixels whose class is unchanged keep the photo's structure; new pixels take exemplar texture
            if photo is not None:
                unchanged = same[ys, xs]
                fill = base.sample(ys, xs)
                if c != C.BACKGROUND and not unchanged.all() and (src_labels == c).any():
                    # where the class is new, grow its texture (no mirrored eyes or lips in a scalp)
                    growth = self._growth(source, c, size)
                    if growth is not None:
                        new = region & ~same
                        grown = growth.grow(new, seed=style.seed if style.kind == "seed" else c)
                        wgt = growth.far_weight(new)[:, None]
                        fill[~unchanged] = fill[~unchanged] * (1 - wgt) + grown * wgt
                colours = np.where(unchanged[:, None], photo[ys, xs].astype(np.float32), fill)
            else:
                colours = base.sample(ys, xs)
            stats = (base.mean, base.std)
            own = source is not None and base is self._exemplar(source, c, size)  # the photo's own colours
            if c in SKIN_TONED and style == styles[C.SKIN] and C.SKIN in moves and own:
                stats, target = moves[C.SKIN]
            if target is not None:
                colours = move_colours(colours, stats, target)
                if own:
                    moves[c] = (stats, target)
            out[ys, xs] = colours
            if base.procedural and c in WORN:
                drawn |= region
        if moves:
            carry_to_neighbours(out, photo, labels, keep, moves, lambda c: self._stats(source, c, size))
        if drawn.any():
            light = light_from_skin(photo, src_labels == C.SKIN) if photo is not None else FRONTAL
            out = shade_worn(out, labels, drawn, light, seed=int(drawn.sum()))
        if photo is not None and synth_mask.any():
            out = self._blend(out, synth_mask)
        out = self._soften_borders(out, labels, synth_mask)
        img = np.clip(out + 0.5, 0, 255).astype(np.uint8)
        if req.size and req.size != size:
            img = cv2.resize(img, (req.size, req.size), interpolation=cv2.INTER_AREA if req.size < size
                             else cv2.INTER_CUBIC)
        return img

    @staticmethod
    def _blend(out: np.ndarray, synth_mask: np.ndarray) -> np.ndarray:
        """Feather the synthesized pixels along kept ones: each takes the mean of its neighbourhood, new and
        kept (the kept pixels stay the photo's). Blended with the photo's own pixel there instead, a restyled
        region drew an outline of its old colour around every kept neighbour (a lighter ring round the brows of
        a darker skin)."""
        kept = (~synth_mask).astype(np.uint8)
        return _softened(out, synth_mask & cv2.dilate(kept, np.ones((3, 3), np.uint8)).astype(bool))

    @staticmethod
    def _soften_borders(out: np.ndarray, labels: np.ndarray, synth_mask: np.ndarray) -> np.ndarray:
        """Smooth class borders inside synthesized areas (seams between two synthesized regions)."""
        edges = cv2.morphologyEx(labels, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        return _softened(out, edges & synth_mask)


def _softened(out: np.ndarray, band: np.ndarray) -> np.ndarray:
    """``out`` with the pixels of ``band`` replaced by its 5x5 Gaussian mean (sigma 1: about 2 px)."""
    if not band.any():
        return out
    return np.where(band[..., None], cv2.GaussianBlur(out, (5, 5), 1.0), out)


def _fit(arr: np.ndarray | None, size: int, interp: int) -> np.ndarray | None:
    if arr is None or arr.shape[0] == size:
        return arr
    return cv2.resize(arr, (size, size), interpolation=interp)


@dataclass(frozen=True)
class _Source:
    """An exemplar image with its map and the content key its exemplars are cached under."""

    rgb: np.ndarray
    labels: np.ndarray
    key: bytes

    @classmethod
    def of(cls, rgb: np.ndarray, labels: np.ndarray) -> _Source:
        return cls(rgb, labels, array_digest(rgb, labels))


