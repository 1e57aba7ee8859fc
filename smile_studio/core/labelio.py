"""Reading and writing label maps: indexed PNG with the schema's palette, and colour-visualised maps."""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .imageio import HARD_MAX_PIXELS
from .labels import NUM_CLASSES, PALETTE

MAX_MAP_PIXELS = HARD_MAX_PIXELS  # a map beside a photo may be as large as the largest photo opened

log = logging.getLogger(__name__)


class LabelMapError(ValueError):
    """A file that cannot be read as a label map; the message says why."""


@dataclass
class LabelReadResult:
    labels: np.ndarray  # (H, W) uint8 class ids
    unknown_colors: list[tuple[int, int, int]] = field(default_factory=list)  # snapped to the nearest class
    snapped_pixels: int = 0


def colorize(labels: np.ndarray) -> np.ndarray:
    """(H, W) ids -> (H, W, 3) uint8 colour visualisation."""
    return PALETTE[np.asarray(labels, dtype=np.uint8) % NUM_CLASSES]


def _palette_bytes() -> list[int]:
    pal = np.zeros((256, 3), dtype=np.uint8)
    pal[:NUM_CLASSES] = PALETTE
    return pal.reshape(-1).tolist()


def encode_indexed_png(labels: np.ndarray) -> bytes:
    """Indexed PNG bytes whose pixel values are class ids and whose palette is the schema's colours."""
    arr = np.ascontiguousarray(labels, dtype=np.uint8)
    if arr.ndim != 2:
        raise LabelMapError(f"a label map is 2-D, got shape {arr.shape}")
    if arr.size and int(arr.max()) >= NUM_CLASSES:
        raise LabelMapError(f"label map holds id {int(arr.max())}, outside 0..{NUM_CLASSES - 1}")
    img = Image.fromarray(arr).convert("P")
    img.putpalette(_palette_bytes())
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def write_indexed_png(path: str | os.PathLike, labels: np.ndarray) -> None:
    Path(path).write_bytes(encode_indexed_png(labels))


def snap_colors(rgb: np.ndarray) -> LabelReadResult:
    """Colour visualisation -> ids; colours off the palette go to the nearest palette colour, and are listed."""
    rgb = np.asarray(rgb, dtype=np.uint8)[..., :3]
    # colours packed into one int: a histogram over 2^24 bins finds them in one pass (np.unique over rows
    # sorted 64 M pixels for minutes on an 8000 x 8000 map)
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    counts = np.bincount(packed.ravel(), minlength=1 << 24)
    present = np.flatnonzero(counts)
    colors = np.stack([present >> 16, (present >> 8) & 255, present & 255], axis=1)
    d2 = ((colors[:, None, :] - PALETTE[None, :, :].astype(np.int64)) ** 2).sum(-1)
    nearest = d2.argmin(1).astype(np.uint8)
    exact = d2.min(1) == 0
    lut = np.zeros(1 << 24, np.uint8)
    lut[present] = nearest
    ids = lut[packed]
    unknown = [tuple(int(v) for v in c) for c in colors[~exact]]
    snapped = int(counts[present[~exact]].sum())
    if unknown:
        shown = ", ".join(str(c) for c in unknown[:8]) + (" ..." if len(unknown) > 8 else "")
        log.warning("%d pixels in %d colours are not in the palette; snapped to the nearest class: %s",
                    snapped, len(unknown), shown)
    return LabelReadResult(ids, unknown, snapped)


def decode_label_image(img: Image.Image) -> LabelReadResult:
    """Interpret an opened image as a label map.

    Mode L / P whose values are all < 19 -> values are ids (palette ignored, as in CelebAMask-HQ files).
    RGB (or P with larger indices) -> a colour visualisation, snapped to the palette.
    An RGB image whose three channels are equal and < 19 is treated as ids (SMILE reads channel 0).
    """
    if img.mode in ("L", "P", "I", "I;16", "F"):
        arr = np.asarray(img)
        if arr.size and np.isfinite(arr).all() and (arr == np.round(arr)).all() and arr.min() >= 0 \
                and arr.max() < NUM_CLASSES:
            return LabelReadResult(arr.astype(np.uint8))
        if img.mode != "P":
            raise LabelMapError(f"grey label map holds value {arr.max()}, outside 0..{NUM_CLASSES - 1}")
    rgb = np.asarray(img.convert("RGB"))
    if rgb.size and (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all() \
            and int(rgb.max()) < NUM_CLASSES:
        return LabelReadResult(rgb[..., 0].copy())
    return snap_colors(rgb)


def read_label_map(path: str | os.PathLike | bytes) -> LabelReadResult:
    """Read a label map file (indexed, grey or colour-coded); LabelMapError for anything else."""
    name = "<bytes>" if isinstance(path, bytes) else str(path)
    try:
        with Image.open(io.BytesIO(path) if isinstance(path, bytes) else path) as img:
            w, h = img.size
            if w * h > MAX_MAP_PIXELS:  # refused from the header, before any pixel is decoded
                raise LabelMapError(f"{name}: {w}x{h} pixels is larger than any label map "
                                    f"({MAX_MAP_PIXELS // 1_000_000} megapixels at most)")
            img.load()
            return decode_label_image(img)
    except Image.DecompressionBombError as exc:  # PIL's own limit, met while opening
        raise LabelMapError(f"{name}: the image declares more pixels than any label map ({exc})") from None
    except FileNotFoundError as exc:
        raise LabelMapError(f"{name}: no such file") from exc
    except UnidentifiedImageError as exc:
        raise LabelMapError(f"{name}: not an image file") from exc
    except OSError as exc:
        raise LabelMapError(f"{name}: cannot read label map ({exc})") from exc


def _piecewise_constant(values: np.ndarray) -> bool:
    """Whether a (128, 128) array changes between neighbours as rarely as a label map does. Measured on the
    sample maps: 3-5 % of neighbour pairs differ; on photos reduced to 16 colours: 33-49 %."""
    differ = ((values[1:] != values[:-1]).mean() + (values[:, 1:] != values[:, :-1]).mean()) / 2
    return bool(differ < 0.15)


def looks_like_label_map(img: Image.Image) -> bool:
    """A cheap guess whether an image is a label map rather than a photo: ids below 19 (grey, palette, grey-RGB
    or whole-number float layouts) or palette colours on nearly every pixel, and flat regions. A 16-colour
    palette photo or a float TIFF has small values too, but changes from pixel to pixel."""
    small = img if img.size == (128, 128) else img.resize((128, 128), Image.NEAREST)
    if img.mode in ("F", "I", "I;16", "I;16B", "I;16L"):
        arr = np.asarray(small, dtype=np.float64)
        return bool(arr.size and np.isfinite(arr).all() and (arr == np.round(arr)).all() and arr.min() >= 0
                    and arr.max() < NUM_CLASSES and _piecewise_constant(arr))
    if img.mode in ("L", "P"):
        arr = np.asarray(small)
        if arr.size and int(arr.max()) < NUM_CLASSES:
            return _piecewise_constant(arr)
        if img.mode == "L":
            return False
    rgb = np.asarray(small.convert("RGB"))
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all() and int(rgb.max()) < NUM_CLASSES:
        return _piecewise_constant(rgb[..., 0])  # the grey-RGB layout: ids in all three channels
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    palette = (PALETTE[:, 0].astype(np.int32) << 16) | (PALETTE[:, 1].astype(np.int32) << 8) | PALETTE[:, 2]
    # a colour map with a few off-palette pixels (antialiasing, a stray brush) is still a colour map
    return bool(np.isin(packed, palette).mean() > 0.9 and _piecewise_constant(packed))
