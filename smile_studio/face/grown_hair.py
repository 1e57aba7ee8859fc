"""Hair grown down over skin (a fringe over the forehead) drawn from the photo's own hair, as a reflection about
the hairline: each new pixel takes the photo's pixel as far above the hairline as it lies below it.

A fringe is hair combed forward from the hair just above the forehead, so that hair mirrored about the hairline
has the right colour, highlights and strands, continues the photo's hair without a seam, and its strands run
down across the forehead instead of in whatever direction a patch happened to have. The mirror is taken in the
aligned crop's frame (upright face) at the photo's resolution, so a tilted head's fringe falls along its face.
The hairline is the first skin pixel below the hair in each column of the source map, smoothed across columns.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..core.labels import ClassId as C

HAIRLINE_SIGMA = 5.0  # smoothing of the hairline across columns, in render px: a wavy line bends the mirror
STRETCH = 1.0  # source rows per target row below the hairline
BAND = 0.015  # of the crop side: the hairline's shadow and fine hairs under it, painted over by a bald scalp


def hairline(source_labels: np.ndarray) -> np.ndarray:
    """Per column of the source map, the row (float, render px) where hair above meets skin below: the first
    skin pixel under a hair pixel scanning down from the top; NaN where a column has no such step."""
    hair = source_labels == C.HAIR
    skin = source_labels == C.SKIN
    below_hair = np.zeros_like(skin)
    below_hair[1:] = skin[1:] & hair[:-1]
    rows = np.where(below_hair.any(0), below_hair.argmax(0), -1).astype(np.float64)
    rows[rows < 0] = np.nan
    known = ~np.isnan(rows)
    if known.sum() < 2:
        return rows
    filled = np.interp(np.arange(len(rows)), np.nonzero(known)[0], rows[known])
    sigma = HAIRLINE_SIGMA * len(rows) / 256  # render px at 256: maps brought to a larger side keep the shape
    smooth = cv2.GaussianBlur(filled[None].astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    out = smooth[0].astype(np.float64)
    out[~known] = np.nan
    return out


def mirrored_hair(original: np.ndarray, origin: tuple[int, int], crop_to_box: np.ndarray, box_shape: tuple[int, int],
                  source_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the photo mirrored about a line :data:`BAND` above the hairline, float32 RGB of ``box_shape``; where the
    mirror lands on the photo's hair) for the box at ``origin`` (x, y) in the photo whose pixels map to the
    aligned crop by the inverse of ``crop_to_box`` (crop px at the side of ``source_labels`` -> box px). Above
    the line itself the hair thins out towards the skin and is light: mirrored, it would draw a light stripe
    across the fringe."""
    line = hairline(source_labels) - BAND * source_labels.shape[0]  # above the thinning hair at the line
    hair = source_labels == C.HAIR
    tops = np.where(hair.any(0), hair.argmax(0), -1).astype(np.float64)  # the hair's top in each column
    depth = line - tops
    usable = ~np.isnan(line) & (tops >= 0)
    # hair shorter than the fringe: the mirror goes back and forth within it instead of into the background
    fold = 0.9 * float(np.median(depth[usable])) if usable.any() else None
    colours, mirror = _mirror(original, origin, crop_to_box, box_shape, line, fold if fold and fold > 2 else None)
    return colours, _lands_on(mirror, source_labels, C.HAIR, box_shape)


def mirrored_scalp(original: np.ndarray, origin: tuple[int, int], crop_to_box: np.ndarray,
                   box_shape: tuple[int, int], source_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a bald scalp: the photo's forehead mirrored upwards about a line :data:`BAND` below the hairline, folded
    back and forth within the forehead above the brows; how much of it to use: where the mirror lands on the
    photo's skin, above the brows' span, fading out over 4 % of the crop beside it) — the same
    skin, shading and grain continue over the head, and the hairline's shadow and fine hairs just under it are
    painted over too."""
    side = source_labels.shape[0]
    nothing = np.zeros((*box_shape, 3), np.float32), np.zeros(box_shape, np.float32)
    line = hairline(source_labels) + BAND * side
    brow = np.isin(source_labels, (C.L_BROW, C.R_BROW))
    brows = np.nonzero(brow.any(1))[0]
    if not brows.size or (~np.isnan(line)).sum() < 2:
        return nothing
    room = brows.min() - 0.03 * side - np.nanmedian(line)  # forehead between the line and the brows
    if room < 0.02 * side:
        return nothing
    colours, mirror = _mirror(original, origin, crop_to_box, box_shape, line, room)
    if mirror is None:
        return nothing
    # only above the forehead: beside it (the temples) the hairline runs down the face's side, and a vertical
    # mirror there would bring the face's edge and the eyes up into the scalp
    cols = np.nonzero(brow.any(0))[0]
    ramp = 0.04 * side
    qx = mirror[0]
    across = np.clip((qx - cols.min()) / ramp, 0, 1) * np.clip((cols.max() - qx) / ramp, 0, 1)
    return colours, _lands_on(mirror, source_labels, C.SKIN, box_shape) * across.astype(np.float32)


def _mirror(original: np.ndarray, origin: tuple[int, int], crop_to_box: np.ndarray, box_shape: tuple[int, int],
            line: np.ndarray, fold: float | None):
    """The photo sampled at each box pixel's mirror image about ``line`` (crop rows per crop column), in the
    crop's frame; ``fold``: the mirror image stays within that many rows of the line on the far side, going
    back and forth (a scalp taller than the forehead). Returns (colours, (crop x, crop y) of the images)."""
    h, w = box_shape
    known = ~np.isnan(line)
    if known.sum() < 2:
        return np.zeros((h, w, 3), np.float32), None
    qx, qy = _in_crop(crop_to_box, box_shape)
    # crop rows are pixel indices; the line lies between its hair and skin pixels
    at = np.interp(qx, np.nonzero(known)[0], line[known]).astype(np.float32) - 0.5
    reach = np.abs(qy - at) * STRETCH
    if fold is not None:  # a triangle wave: 0 .. fold .. 0 ..
        reach = fold - np.abs(np.mod(reach, 2 * fold) - fold)
    mirror_y = np.where(qy > at, at - reach, at + reach)
    px = crop_to_box[0, 0] * qx + crop_to_box[0, 1] * mirror_y + crop_to_box[0, 2] + origin[0]
    py = crop_to_box[1, 0] * qx + crop_to_box[1, 1] * mirror_y + crop_to_box[1, 2] + origin[1]
    colours = cv2.remap(original, px.astype(np.float32), py.astype(np.float32), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    return colours, (qx, mirror_y)


def _in_crop(crop_to_box: np.ndarray, box_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(crop x, crop y) of every pixel of a box whose pixels map to the crop by the inverse of ``crop_to_box``."""
    to_crop = cv2.invertAffineTransform(crop_to_box)
    ys, xs = np.mgrid[0:box_shape[0], 0:box_shape[1]].astype(np.float32)
    return (to_crop[0, 0] * xs + to_crop[0, 1] * ys + to_crop[0, 2],
            to_crop[1, 0] * xs + to_crop[1, 1] * ys + to_crop[1, 2])


def _lands_on(mirror, source_labels: np.ndarray, cls: int, box_shape: tuple[int, int]) -> np.ndarray:
    """Where the mirror images fall on pixels of ``cls`` in the source map."""
    if mirror is None:
        return np.zeros(box_shape, bool)
    qx, mirror_y = mirror
    side = source_labels.shape[0]
    ix = np.clip(np.round(qx).astype(int), 0, side - 1)
    iy = np.round(mirror_y).astype(int)
    inside = (iy >= 0) & (iy < side)
    out = np.zeros(qx.shape, bool)
    out[inside] = source_labels[iy[inside], ix[inside]] == cls
    return out


def strand_taper(hair: np.ndarray, crop_to_box: np.ndarray, side: int, scale: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Opacity (float32, 0-1) that thins ``hair`` out towards its edge over 1-4 render pixels, the length
    varying from strand to strand across the crop's columns (a fringe ends in tips, not in a cut line)."""
    reach = cv2.distanceTransform(hair.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    strands = cv2.GaussianBlur(rng.random((1, 4 * side)).astype(np.float32), (0, 0), 3.0 * side / 256,
                               borderType=cv2.BORDER_REFLECT)[0]
    strands = (strands - strands.min()) / max(float(np.ptp(strands)), 1e-6)
    qx, _ = _in_crop(crop_to_box, hair.shape)
    length = scale * side / 256 * (1.0 + 3.0 * strands[np.clip((qx * 4).astype(int), 0, 4 * side - 1)])
    return (np.clip(reach / length, 0, 1) ** 0.7).astype(np.float32)


def under_hairline(source_labels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The source's skin within :data:`BAND` of hair that became skin (a bald edit): the hairline's shadow and
    fine hairs, which the scalp must cover too or the old hairline stays drawn across the head."""
    removed = (source_labels == C.HAIR) & (labels == C.SKIN)
    if not removed.any():
        return np.zeros(labels.shape, bool)
    near = cv2.distanceTransform((~removed).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return (near <= BAND * labels.shape[0]) & (source_labels == C.SKIN) & (labels == C.SKIN)


def over_hairline(source_labels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The source's hair within :data:`BAND` of skin that became hair (a fringe): the thinning hair at the line,
    repainted by the fringe's mirror."""
    grown = (source_labels == C.SKIN) & (labels == C.HAIR)
    if not grown.any():
        return np.zeros(labels.shape, bool)
    near = cv2.distanceTransform((~grown).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return (near <= BAND * labels.shape[0]) & (source_labels == C.HAIR) & (labels == C.HAIR)
