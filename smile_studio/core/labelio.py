"""Reading and writing label maps: indexed PNG with the schema's palette, and colour-visualised maps."""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .labels import NUM_CLASSES, PALETTE

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
    flat = rgb.reshape(-1, 3)
    colors, inverse = np.unique(flat, axis=0, return_inverse=True)
    d2 = ((colors[:, None, :].astype(np.int32) - PALETTE[None, :, :].astype(np.int32)) ** 2).sum(-1)
    nearest = d2.argmin(1).astype(np.uint8)
    exact = d2.min(1) == 0
    ids = nearest[inverse.reshape(-1)].reshape(rgb.shape[:2])
    unknown = [tuple(int(v) for v in c) for c in colors[~exact]]
    snapped = int((~exact)[inverse.reshape(-1)].sum())
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
    if img.mode in ("L", "P", "I", "I;16"):
        arr = np.asarray(img)
        if arr.size and int(arr.max()) < NUM_CLASSES:
            return LabelReadResult(arr.astype(np.uint8))
        if img.mode != "P":
            raise LabelMapError(f"grey label map holds value {int(arr.max())}, outside 0..{NUM_CLASSES - 1}")
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
            img.load()
            return decode_label_image(img)
    except FileNotFoundError as exc:
        raise LabelMapError(f"{name}: no such file") from exc
    except UnidentifiedImageError as exc:
        raise LabelMapError(f"{name}: not an image file") from exc
    except OSError as exc:
        raise LabelMapError(f"{name}: cannot read label map ({exc})") from exc


def looks_like_label_map(img: Image.Image) -> bool:
    """A cheap guess whether an image is a label map rather than a photo (few exact palette colours)."""
    if img.mode in ("L", "P"):
        arr = np.asarray(img)
        return bool(arr.size) and int(arr.max()) < NUM_CLASSES
    rgb = np.asarray(img.convert("RGB").resize((128, 128), Image.NEAREST)).reshape(-1, 3)
    colors = np.unique(rgb, axis=0)
    if len(colors) > 40:
        return False
    on_palette = (colors[:, None, :] == PALETTE[None]).all(-1).any(1)
    return bool(on_palette.mean() > 0.8)
