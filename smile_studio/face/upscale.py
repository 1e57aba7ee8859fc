"""A render and its maps at a side larger than the render's, for faces larger in their photo than the render:
a learned upsampling of the render (the *Enhance* option; the network comes in as a plain function, this layer
knows no weights), and the maps brought to the same side with smooth outlines.

Repeating map pixels would give the compositor, which draws outlines from the maps, the render's pixel steps
at the larger side; each class's outline field (a blurred signed distance) upsampled bilinearly keeps them
smooth, as the compositor itself does when it draws them at the photo's resolution."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from .align import alignment_at_side, photo_scale
from .outlines import is_thin, signed_distance, smooth_labels

UPSCALE_MIN = 1.25  # below this the render has the photo's detail already: plain paste-back
Upsampler = Callable[[np.ndarray], np.ndarray]  # RGB uint8 (H, W, 3) -> RGB uint8 (kH, kW, 3), k a whole number


def upsample_labels(labels: np.ndarray, side: int) -> np.ndarray:
    """``labels`` (a square map) at ``side`` px: per pixel the class whose smoothed outline field is deepest
    (a 1-px frame stays a continuous line; nearest-neighbour repetition would make it a staircase)."""
    if labels.shape[0] == side:
        return labels
    if side < labels.shape[0]:
        return cv2.resize(labels, (side, side), interpolation=cv2.INTER_NEAREST)
    def resize(field: np.ndarray) -> np.ndarray:
        return cv2.resize(field, (side, side), interpolation=cv2.INTER_LINEAR)

    classes = np.unique(labels)
    out = smooth_labels(labels, classes, (side, side), resize)
    for c in classes:
        # a frame one pixel wide lies on what surrounds it, whose blurred field covers it: drawn over it from its
        # unblurred distance (a blur breaks a diagonal line one pixel wide into beads)
        if is_thin(labels == c):
            out[resize(signed_distance(labels == c)) > 0] = c
    return out


def face_side_in_photo(alignment: np.ndarray, side: int) -> float:
    """How many photo pixels the aligned crop of ``side`` px spans (``alignment``: crop -> photo at that side)."""
    return photo_scale(alignment) * side


def _face_side(alignment: np.ndarray, labels_side: int, side: int) -> int:
    return int(np.ceil(face_side_in_photo(alignment_at_side(alignment, labels_side, side), side) - 1e-6))


def worth_enhancing(alignment: np.ndarray, labels_side: int, render_side: int) -> bool:
    """Whether a render of ``render_side`` px has less detail than the photo's face: the face is at least 1.25x
    larger (the compositor's own threshold for full-resolution work; below it the render is pasted back)."""
    return _face_side(alignment, labels_side, render_side) >= UPSCALE_MIN * render_side


CONTEXT = 32  # render pixels around the changed region that the network sees (the compact net sees 34 px)


def enhanced_render(render: np.ndarray, alignment: np.ndarray, labels_side: int, upsample: Upsampler,
                    region: np.ndarray | None = None) -> np.ndarray:
    """``render`` through ``upsample``, brought down (area averaging) to the face's size in the photo when the
    network gives more pixels than the photo has room for; ``render`` unchanged when the photo's face is less
    than 1.25x larger (the compositor's own threshold for full-resolution work). ``alignment``: crop -> photo
    at ``labels_side``. ``region`` (a mask at ``labels_side``): only its bounding box and :data:`CONTEXT` px
    around go through the network, the rest is resized (the compositor uses the render only near what changed;
    a pair of glasses costs a fraction of a whole face)."""
    side = render.shape[0]
    if not worth_enhancing(alignment, labels_side, side) or (region is not None and not region.any()):
        return render  # nothing to gain, or nothing changed
    need = _face_side(alignment, labels_side, side)
    y0, y1, x0, x1 = 0, side, 0, side
    if region is not None and region.any():
        k = side / region.shape[0]
        ys, xs = np.nonzero(region)
        y0, x0 = (max(int(v.min() * k) - CONTEXT, 0) for v in (ys, xs))
        y1, x1 = (min(int(np.ceil((v.max() + 1) * k)) + CONTEXT, side) for v in (ys, xs))
    part = upsample(np.ascontiguousarray(render[y0:y1, x0:x1]))
    scale = part.shape[0] // (y1 - y0) if part.ndim == 3 else 0
    if scale < 1 or part.shape != ((y1 - y0) * scale, (x1 - x0) * scale, 3):
        raise ValueError(f"the upsampling gave an image of shape {part.shape} for a render of {render.shape}")
    big = part
    if (y1 - y0, x1 - x0) != (side, side):
        big = cv2.resize(render, (side * scale,) * 2, interpolation=cv2.INTER_CUBIC)
        big[y0 * scale:y1 * scale, x0 * scale:x1 * scale] = part
    if big.shape[0] > need:
        big = cv2.resize(big, (need, need), interpolation=cv2.INTER_AREA)
    return big
