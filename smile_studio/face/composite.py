"""Putting an edit back into a photo at the photo's own resolution.

SMILE renders a 256² (or 512²) aligned crop, and a photo's face is often four to ten times larger. Warping the
render up and feathering it in (:func:`.paste.paste_back`, still used when the photo's face is not larger than the
render) leaves every new region with a fraction of the photo's detail, the render's 4-px pixel grid along its
edges and a wide blur where the new shape meets the photo. Here the edit is rebuilt at the photo's resolution:

* **shape**: the edited map is upsampled as smoothed signed distances (bilinear; each pixel takes the class it
  lies deepest inside), so a new region's outline is drawn at the photo's resolution, without the render's
  staircase;
* **shade**: each pixel takes the render's colour of *its own* class (normalised convolution over that class's
  pixels in the render), so a crisp outline does not carry a halo of the neighbouring class;
* **texture**: where the new class is one the photo has (hair for bangs, skin for baldness), the missing high
  frequencies come from the photo's own pixels of that class (overlapping patches of its detail layer, nearest
  sources first: the render decides shape and shade, the photo gives the texture); where it is new (hat, glasses,
  earrings), the photo's grain is added so it does not look pasted;
* **seam**: a wide feather only where the changed region continues into the same class of the photo (new hair
  meeting old hair, inpainted background meeting background), with the render's colours matched along it; a
  1-2 px antialiased edge where a new class meets another one. Outside the region the photo stays byte-identical.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..core.labelmap import disk
from ..core.labels import ClassId as C
from .align import alignment_at_side, photo_scale, translated
from .grown_hair import mirrored_hair, mirrored_scalp, over_hairline, strand_taper, under_hairline
from .outlines import class_colours, outline_field, smooth_labels
from .paste import FEATHER, GROW, changed_pixels, edit_region, paste_back
from .shading import WORN, Light, cast_shadow, light_from_skin
from .upscale import UPSCALE_MIN, Upsampler, enhanced_render, upsample_labels

EDGE_SIGMA = 0.7  # antialiasing of a new class's outline, in photo px (10-90 % rise about 1.8 px)
MIN_SOURCE = 400  # photo pixels of a class needed to borrow its texture
GRAIN_TILE = 128
CANDIDATES = 16  # random source patches per target patch, the nearest taken (hair keeps its local direction)



def paste_edit(original: np.ndarray, render: np.ndarray, alignment: np.ndarray, source_labels: np.ndarray | None,
               labels: np.ndarray, restyled: Sequence[int] = (), seed: int = 0, texture: bool = True,
               enhance: Upsampler | None = None) -> np.ndarray:
    """``render`` (aligned crop of ``labels``, at their side or another) put into ``original`` where the edit
    changed the face (classes that differ from ``source_labels``, or are ``restyled``); elsewhere ``original``
    unchanged, byte for byte. ``alignment``: the crop -> photo affine at the side of ``labels``. ``enhance``:
    a learned upsampling of the render for a face larger in the photo than the render (:mod:`.upscale`)
    ``seed`` fixes the choice of texture patches (the same edit composites the same way every time);
    ``texture=False`` leaves out the borrowed texture and the grain (video: patches chosen anew in every
    frame would flicker), keeping the outlines and the photo's own detail under the feather."""
    if original.ndim != 3 or original.shape[2] != 3 or render.ndim != 3 or render.shape[2] != 3:
        raise ValueError(f"expected RGB images, got a photo {original.shape} and a render {render.shape}")
    # full resolution or paste-back is decided by the render as it came: an enhanced render is as large as
    # the face in the photo, and must not send the edit back to paste-back
    full = source_labels is not None and \
        photo_scale(alignment_at_side(alignment, labels.shape[0], render.shape[0])) >= UPSCALE_MIN
    if enhance is not None and full:
        render = enhanced_render(render, alignment, labels.shape[0], enhance,
                                 edit_region(source_labels, labels, restyled))
    size = render.shape[0]
    if labels.shape[0] != size:  # a render at another side (SMILE_SYN 512) of the same aligned crop
        alignment = alignment_at_side(alignment, labels.shape[0], size)

    labels = upsample_labels(labels, size)
    source_labels = None if source_labels is None else upsample_labels(source_labels, size)
    if not full:
        return paste_back(original, render, alignment, edit_region(source_labels, labels, restyled))
    changed = changed_pixels(source_labels, labels, restyled)
    if not changed.any():
        return original.copy()
    return _Composite(original, render, alignment, source_labels, labels, changed, seed, texture).run()


@dataclass
class _Box:
    """A rectangle of the photo and the crop -> rectangle affine."""
    x0: int
    y0: int
    x1: int
    y1: int
    affine: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    def sub(self, part: tuple[slice, slice]) -> _Box:
        """The part ``part`` (rows, columns of this box) as a box of its own."""
        ys, xs = part
        return _Box(self.x0 + xs.start, self.y0 + ys.start, self.x0 + xs.stop, self.y0 + ys.stop,
                    translated(self.affine, xs.start, ys.start))

    def warp(self, img: np.ndarray, flags: int = cv2.INTER_LINEAR, border: int = cv2.BORDER_REPLICATE):
        """Bilinear by default: OpenCV's bicubic warp moves a smooth field's level lines in step with the
        source grid (measured: a circle's outline keeps a 1.2-1.3x grid ripple; bilinear, 1.03)."""
        return cv2.warpAffine(img, self.affine, (self.x1 - self.x0, self.y1 - self.y0), flags=flags,
                              borderMode=border)


def _box(alignment: np.ndarray, mask: np.ndarray, pad: float, shape: tuple[int, int]) -> _Box | None:
    """The photo rectangle covering ``mask`` (crop space) plus ``pad`` crop px, clipped to the photo."""
    ys, xs = np.nonzero(mask)
    corners = np.array([[xs.min() - pad, ys.min() - pad], [xs.max() + 1 + pad, ys.min() - pad],
                        [xs.min() - pad, ys.max() + 1 + pad], [xs.max() + 1 + pad, ys.max() + 1 + pad]])
    pts = corners @ alignment[:, :2].T + alignment[:, 2]
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    return _Box(x0, y0, x1, y1, translated(alignment, x0, y0))


def grey(rgb: np.ndarray) -> np.ndarray:
    """The grey level (float32) of an RGB image, uint8 or float: what detail and edges are measured on."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2GRAY)


def fine_contrast(rgb: np.ndarray) -> np.ndarray:
    """|Laplacian| of the grey level: the fine contrast that texture has and a smooth upsampling lacks."""
    return np.abs(cv2.Laplacian(grey(rgb), cv2.CV_32F))


def _mean_fine_contrast(rgb: np.ndarray, where: np.ndarray) -> float:
    return cv2.mean(fine_contrast(rgb), mask=where.view(np.uint8))[0]


def detail_layer(img: np.ndarray, sigma: float) -> np.ndarray:
    """What a Gaussian blur of ``sigma`` removes from ``img`` (uint8): the fine detail (float32; a blur in
    uint8 would add its rounding as noise, as much as smooth skin's own detail)."""
    img = img.astype(np.float32)
    return img - cv2.GaussianBlur(img, (0, 0), sigma)


def _span(mask: np.ndarray, pad: int, shape: tuple[int, int]) -> tuple[slice, slice]:
    """The rows and columns of ``mask``'s bounding rectangle grown by ``pad``, within ``shape``."""
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    return (slice(max(y - pad, 0), min(y + h + pad, shape[0])), slice(max(x - pad, 0), min(x + w + pad, shape[1])))


class _Composite:
    def __init__(self, original, render, alignment, source_labels, labels, changed, seed, texture):
        self.original, self.render, self.alignment = original, render, np.asarray(alignment, np.float64)
        self.source, self.labels = source_labels, labels
        if texture:  # the hairline's own band is repainted with a fringe or a scalp (not in video: see run)
            self.under, self.over = under_hairline(source_labels, labels), over_hairline(source_labels, labels)
            changed = changed | self.under | self.over
        self.changed = changed
        self.size = render.shape[0]
        self.scale = photo_scale(alignment)
        self.rng = np.random.default_rng(seed)
        self.with_texture = texture

    def run(self) -> np.ndarray:
        grow = max(1, int(round(GROW * self.size)))
        feather = max(1.0, FEATHER * self.size / 4)
        box = _box(self.alignment, self.changed, grow + 3 * feather + 2, self.original.shape)
        if box is None:
            return self.original.copy()
        base = self.original[box.y0:box.y1, box.x0:box.x1]
        near = cv2.dilate(self.changed.astype(np.uint8), disk(grow + 3 * int(feather) + 2)).astype(bool)
        classes = sorted(set(np.unique(self.labels[near]).tolist()) | set(np.unique(self.source[near]).tolist()))
        new_full = smooth_labels(self.labels, classes, box.shape, box.warp)
        field = outline_field(self.changed)
        changed_full = box.warp(field) > 0
        lost = self.changed & (field <= 0)  # specks the smoothing erased: kept, pixel for pixel
        if lost.any():
            changed_full |= box.warp(lost.astype(np.uint8), cv2.INTER_NEAREST, cv2.BORDER_CONSTANT) > 0
        if not changed_full.any():
            return self.original.copy()
        alpha, wide = self._alpha(box, new_full, changed_full, grow, feather)
        shares = self._memberships(new_full, alpha > 1e-4)
        shade = self._shade(box, shares, alpha)
        low = cv2.GaussianBlur(shade, (0, 0), 0.5 * self.scale)
        texture, borrowed = self._texture(box, base, shares, changed_full, low)
        # where the texture is the photo's, it replaces the render's own fine detail instead of adding to it
        painted = shade - (shade - low) * borrowed[..., None] + texture
        painted = self._match_seams(painted, base.astype(np.float32), shares, wide, alpha)
        if self.with_texture:  # video: a hairline read anew in every frame would make the mirror shimmer
            self._grow_hair(painted, alpha, box, new_full, changed_full)
            self._grow_scalp(painted, box, new_full, changed_full)
        mixed = base + (painted - base) * alpha[..., None]
        shadow = self._worn_shadow(new_full, changed_full)
        touched = alpha > 1e-4
        if shadow is not None:  # the shadow of a new hat or frame falls on the photo's own pixels too
            mixed *= 1 - shadow[..., None]
            touched |= shadow > 0.5 / 255
        mixed = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        out = self.original.copy()
        # exactly the photo outside the region
        out[box.y0:box.y1, box.x0:box.x1] = np.where(touched[..., None], mixed, base)
        return out

    def _grown(self, box: _Box, new_full, changed_full, cls: int, was: np.ndarray):
        """(the changed pixels now of ``cls`` that were ``was`` in the source, their rectangle, its box) or None."""
        grown = (new_full == cls) & changed_full & (box.warp(was.astype(np.float32)) > 0.5)
        if not grown.any():
            return None
        part = _span(grown, int(np.ceil(self.scale)) + 2, grown.shape)
        return grown, part, box.sub(part)

    def _grow_hair(self, painted, alpha, box: _Box, new_full, changed_full) -> None:
        """Hair new over the photo's skin (a fringe) is the photo's hair mirrored about the hairline
        (:mod:`.grown_hair`), blended in over half a render pixel where the mirror reaches the photo's hair, and
        its edge over the skin thins out into strand tips of seeded lengths."""
        found = self._grown(box, new_full, changed_full, C.HAIR, (self.source == C.SKIN) | self.over)
        if found is None:
            return
        grown, part, sub = found
        colours, on_hair = mirrored_hair(self.original, (sub.x0, sub.y0), sub.affine, sub.shape, self.source)
        # the hairline's fine hairs against skin are the busiest part of the hair: mirrored into a whole fringe
        # they would make it busier than the photo's hair is, so its fine contrast is brought down to that
        own = (new_full[part] == C.HAIR) & ~changed_full[part]
        mirrored = grown[part] & on_hair
        if own.sum() > 100 and mirrored.sum() > 100:
            wanted, made = _mean_fine_contrast(self.original[box.y0:box.y1, box.x0:box.x1][part], own), \
                _mean_fine_contrast(colours, mirrored)
            if made > wanted > 0:
                low = cv2.GaussianBlur(colours, (0, 0), 0.5 * self.scale)
                colours = low + (colours - low) * (wanted / made)
        weight = cv2.GaussianBlur(mirrored.astype(np.float32), (0, 0), 0.5 * self.scale)
        painted[part] += (colours - painted[part]) * weight[..., None]
        # the strands are the same for every seed
        alpha[part] *= 1 - weight * (1 - strand_taper(new_full[part] == C.HAIR, sub.affine, self.size,
                                                       self.scale, np.random.default_rng(0)))

    def _grow_scalp(self, painted, box: _Box, new_full, changed_full) -> None:
        """Skin new over the photo's hair (baldness) is the photo's forehead mirrored upwards (:mod:`.grown_hair`),
        blended in over half a render pixel where the mirror reaches the photo's skin."""
        found = self._grown(box, new_full, changed_full, C.SKIN, (self.source == C.HAIR) | self.under)
        if found is None:
            return
        grown, part, sub = found
        colours, use = mirrored_scalp(self.original, (sub.x0, sub.y0), sub.affine, sub.shape, self.source)
        weight = cv2.GaussianBlur(grown[part] * use, (0, 0), 0.5 * self.scale)
        painted[part] += (colours - painted[part]) * weight[..., None]

    def _worn_shadow(self, new_full, changed_full) -> np.ndarray | None:
        """The soft contact shadow that new worn objects (a hat, glasses, earrings) cast on what is beneath,
        by the face's own light (read from the render's skin, turned into the photo's frame)."""
        worn = [c for c in WORN if ((self.labels == c) & self.changed).any() and not (self.source == c).any()]
        if not worn:
            return None
        light = light_from_skin(self.render, self.source == C.SKIN)
        turn = self.alignment[:, :2] @ np.array([light.dx, light.dy])
        light = Light(*(turn / max(float(np.linalg.norm(turn)), 1e-6)), light.strength)
        shadow = np.zeros(new_full.shape, np.float32)
        reach = 1.5 * self.scale * self.size / 256  # a render pixel and a half, at 256
        for c in worn:
            mask = (new_full == c) & changed_full
            shadow = np.maximum(shadow, WORN[c].shadow * cast_shadow(mask, light, reach, 0.5 * reach))
        return shadow

    def _alpha(self, box: _Box, new_full, changed_full, grow: int, feather: float):
        """A crisp antialiased edge around the changed pixels, widened by a feather only into pixels of the
        same class (where the photo continues what the edit made)."""
        crisp = cv2.GaussianBlur(changed_full.astype(np.float32), (0, 0), EDGE_SIGMA)
        wide = np.zeros_like(crisp)
        for c in np.unique(self.labels[self.changed]):
            grown = cv2.dilate((self.changed & (self.labels == c)).astype(np.uint8), disk(grow))
            soft = box.warp(cv2.GaussianBlur(grown.astype(np.float32), (0, 0), feather))
            inside = cv2.GaussianBlur((new_full == c).astype(np.float32), (0, 0), EDGE_SIGMA)
            wide = np.maximum(wide, soft * inside)
        alpha = np.clip(np.maximum(crisp, wide), 0, 1)  # a warp's rounding can step past 1 (sqrt(1 - alpha))
        return alpha, wide

    def _memberships(self, new_full, active) -> dict[int, tuple[tuple[slice, slice], np.ndarray]]:
        """Per class of the active pixels, the rectangle it covers and its antialiased share of each pixel
        there (hard class switches between neighbouring pixels would draw the outline with jaggies)."""
        out = {}
        for c in np.unique(new_full[active]):
            part = _span(active & (new_full == c), 3, new_full.shape)
            out[int(c)] = part, cv2.GaussianBlur((new_full[part] == c).astype(np.float32), (0, 0), EDGE_SIGMA)
        return out

    def _shade(self, box: _Box, shares: dict, alpha) -> np.ndarray:
        """The render at photo resolution, each pixel coloured from its own class only."""
        plain = box.warp(self.render.astype(np.float32))
        out = np.zeros_like(plain)
        total = np.zeros(alpha.shape, np.float32)
        for c, (part, share) in shares.items():
            colours = box.sub(part).warp(class_colours(self.render, self.labels, c)) \
                if (self.labels == c).any() else plain[part]
            out[part] += colours * share[..., None]
            total[part] += share
        total = total[..., None]
        return np.where(total > 1e-3, out / np.maximum(total, 1e-3), plain)

    def _texture(self, box: _Box, base, shares: dict, changed_full, low) -> tuple[np.ndarray, np.ndarray]:
        """High frequencies the render cannot have: the photo's own where the photo is kept under the feather,
        borrowed from the photo's pixels of the same class where the class changed (as contrasted as the
        class is in the photo, counting what the render's coarse shading already has), grain on new classes;
        and the share of each pixel's texture that is the photo's."""
        sigma = 0.5 * self.scale
        inside = cv2.GaussianBlur(changed_full.astype(np.float32), (0, 0), EDGE_SIGMA)
        borrowed = 1 - inside
        if not self.with_texture:
            return detail_layer(base, sigma) * (1 - inside[..., None]), borrowed
        source = _SourceArea(self, box, sigma)
        own = source.detail[box.y0 - source.y0:box.y1 - source.y0, box.x0 - source.x0:box.x1 - source.x0]
        made = np.zeros_like(own)
        near = inside > 1e-3
        for c, (part, share) in shares.items():
            target = near[part] & (share > 1e-3)
            if not target.any():
                continue
            texture = source.texture(c, target, box.sub(part)) if c in source.classes else None
            if texture is None:
                texture = source.grain(target, self.rng)
            else:
                core = target & (share > 0.5)
                source.calm(c, low[part], core, share)
                texture *= source.gain(c, texture, low[part], core)
                borrowed[part] += share * inside[part]
            made[part] += texture * share[..., None]
        return own + (made - own) * inside[..., None], np.minimum(borrowed, 1)

    def _match_seams(self, painted, base, shares: dict, wide, alpha) -> np.ndarray:
        """Per class, shift the render by its mean difference from the photo where the feather runs through
        that class (both should agree there), fading the shift out towards the region's inside."""
        for part, share in shares.values():
            at = (wide[part] > 0.05) & (wide[part] < 0.6) & (share > 0.5)
            if at.sum() < 20:
                continue
            offset = (base[part][at] - painted[part][at]).mean(0)
            painted[part] += offset * (share * np.sqrt(np.maximum(1 - alpha[part], 0)))[..., None]
        return painted


class _SourceArea:
    """The photo around the change, its source map at photo resolution and its detail layer: where texture
    patches of a class are taken from (the nearest of a few random candidates, so hair keeps the direction
    it has near the change)."""

    def __init__(self, comp: _Composite, box: _Box, sigma: float):
        self.comp = comp
        self.patch = int(max(8, round(6 * comp.scale))) // 2 * 2
        self.margin = int(round(comp.scale))  # the map's outline is a render pixel uncertain
        h, w = comp.original.shape[:2]
        gy = gx = max(3 * self.patch, (box.y1 - box.y0 + box.x1 - box.x0) // 8)  # room for the nearest sources
        y0, y1, x0, x1 = max(box.y0 - gy, 0), min(box.y1 + gy, h), max(box.x0 - gx, 0), min(box.x1 + gx, w)
        self.y0, self.x0 = y0, x0
        affine = translated(comp.alignment, x0, y0)
        kept = 1 - cv2.dilate(comp.changed.astype(np.uint8), disk(2))
        size = (x1 - x0, y1 - y0)
        self.kept = cv2.warpAffine(kept, affine, size, flags=cv2.INTER_NEAREST, borderValue=0).astype(bool)
        self.map = cv2.warpAffine(comp.source, affine, size, flags=cv2.INTER_NEAREST, borderValue=255)
        self.classes = set(np.unique(self.map[self.kept]).tolist())
        self.detail = detail_layer(comp.original[y0:y1, x0:x1], sigma)
        self.box = box
        self._grain: np.ndarray | None = None  # a tile of the photo's grain, made when a class needs it
        self._wanted: dict[int, float] = {}

    @functools.cached_property
    def fine(self) -> np.ndarray:
        """The photo's fine contrast over the area (only borrowed texture needs it)."""
        return fine_contrast(self.comp.original[self.y0:self.y0 + self.map.shape[0],
                                                self.x0:self.x0 + self.map.shape[1]])

    def texture(self, c: int, target: np.ndarray, where: _Box) -> np.ndarray | None:
        """Overlapping patches of the photo's detail of class ``c`` covering ``target`` (a mask over the
        rectangle ``where``), blended with sine windows (squares summing to one keep the texture's contrast);
        None when the photo has too little of the class."""
        p, half = self.patch, self.patch // 2
        ok = (self.map == c) & self.kept
        if cv2.countNonZero(ok.view(np.uint8)) < MIN_SOURCE:
            return None
        reach = p + 2 * self.margin
        centres = cv2.erode(ok.astype(np.uint8), np.ones((reach, reach), np.uint8), borderType=cv2.BORDER_CONSTANT,
                            borderValue=0).astype(bool)
        ys, xs = np.nonzero(centres[::2, ::2])  # every other one is choice enough
        if ys.size == 0:
            return None
        ys, xs = 2 * ys, 2 * xs
        h, w = target.shape
        # the grid cells (top-left corners, half a patch apart) whose patch touches the target
        gy, gx = np.meshgrid(np.arange(-half, h, half), np.arange(-half, w, half), indexing="ij")
        area = cv2.integral(target.astype(np.uint8))
        y0, y1 = np.clip(gy, 0, h), np.clip(gy + p, 0, h)
        x0, x1 = np.clip(gx, 0, w), np.clip(gx + p, 0, w)
        touched = (area[y1, x1] - area[y0, x1] - area[y1, x0] + area[y0, x0]) > 0
        gy, gx = gy[touched], gx[touched]
        # for each, the nearest (in the photo) of a few random source patches
        pick = self.comp.rng.integers(0, ys.size, (gy.size, CANDIDATES))
        ty, tx = gy + half + where.y0 - self.y0, gx + half + where.x0 - self.x0
        best = pick[np.arange(gy.size), np.argmin((ys[pick] - ty[:, None]) ** 2 + (xs[pick] - tx[:, None]) ** 2, 1)]
        win = np.sin(np.pi * (np.arange(p) + 0.5) / p).astype(np.float32)
        win2 = (win[:, None] * win[None, :])[..., None]
        out = np.zeros((h + 2 * p, w + 2 * p, 3), np.float32)
        for y, x, sy, sx in zip(gy + p, gx + p, ys[best] - half, xs[best] - half, strict=True):
            out[y:y + p, x:x + p] += self.detail[sy:sy + p, sx:sx + p] * win2
        return out[p:p + h, p:p + w]

    def wanted(self, c: int) -> float:
        """The fine contrast (mean |Laplacian| of the grey level) of the photo's own pixels of class ``c``."""
        if c not in self._wanted:
            self._wanted[c] = cv2.mean(self.fine, mask=((self.map == c) & self.kept).view(np.uint8))[0]
        return self._wanted[c]

    def calm(self, c: int, low: np.ndarray, core: np.ndarray, share: np.ndarray) -> None:
        """Smooth the coarse shading ``low`` (in place, weighted by the class's ``share``) where it alone is
        busier than the photo's class (a render's inpainted background over a photo's out-of-focus one)."""
        if not core.any():
            return
        has = _mean_fine_contrast(low, core)
        if has > 1.2 * self.wanted(c):
            # within the class only (a blur across its outline would carry the neighbour's colour in)
            weight = cv2.GaussianBlur(share, (0, 0), self.comp.scale)[..., None]
            calmer = cv2.GaussianBlur(low * share[..., None], (0, 0), self.comp.scale) / np.maximum(weight, 1e-3)
            low += (calmer - low) * share[..., None]

    def gain(self, c: int, texture: np.ndarray, low: np.ndarray, core: np.ndarray) -> float:
        """The factor that gives borrowed ``texture`` over the coarse shading ``low`` the fine contrast (mean
        |Laplacian|) of the photo's own pixels of class ``c`` — the nearest sources may be the class's busiest
        or smoothest part, and the shading has some of its own (independent parts add in quadrature)."""
        if not core.any():
            return 1.0
        want = self.wanted(c)
        has_low, has_tex = _mean_fine_contrast(low, core), _mean_fine_contrast(texture, core)
        if has_tex <= 0:
            return 1.0
        return float(np.clip(np.sqrt(max(want ** 2 - has_low ** 2, 0.0)) / has_tex, 0.25, 2.0))

    def grain(self, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Noise at the photo's own grain level (robust deviation of its detail layer where it is kept) over
        ``target``'s bounding box, mostly in luminance as a sensor's is (a tile of it repeated: at a grain's
        scale a 128-px period does not show)."""
        if self._grain is None:
            kept = np.abs(self.detail[::3, ::3].mean(-1))[self.kept[::3, ::3]]
            level = float(1.4826 * np.median(kept)) if kept.size else 0.0
            luma = rng.standard_normal((GRAIN_TILE, GRAIN_TILE, 1), dtype=np.float32)
            chroma = rng.standard_normal((GRAIN_TILE, GRAIN_TILE, 3), dtype=np.float32)
            self._grain = level * (luma + 0.3 * chroma)
        tile = self._grain
        out = np.zeros((*target.shape, 3), np.float32)
        x, y, w, h = cv2.boundingRect(target.astype(np.uint8))
        shift = rng.integers(0, GRAIN_TILE, 2)
        reps = ((h + GRAIN_TILE) // GRAIN_TILE + 1, (w + GRAIN_TILE) // GRAIN_TILE + 1, 1)
        out[y:y + h, x:x + w] = np.tile(tile, reps)[shift[0]:shift[0] + h, shift[1]:shift[1] + w]
        return out
