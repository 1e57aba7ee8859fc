"""Turning a file into an edit document, shared by the editor, the command line and the reference shelf.

Accepts a ``.smile`` project, a label map image, or a photo: the photo's map comes from an explicit map file, a
label map beside it (``x.jpg`` + ``x.png`` or ``x_map.png``, the dataset layout), or the photo pipeline (detect,
align, parse). Every failure is a ValueError subclass whose message names the file and the problem.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .core.document import Document
from .core.imageio import open_image, read_image
from .core.labelio import LabelMapError, decode_label_image, looks_like_label_map
from .core.labelmap import LabelMap
from .core.project import load_project


def _square(arr: np.ndarray, size: int, interp: int) -> np.ndarray:
    return arr if arr.shape[:2] == (size, size) else cv2.resize(arr, (size, size), interpolation=interp)


def _map_for(photo: Path, map_path: str | Path | None) -> np.ndarray | None:
    candidates = [Path(map_path)] if map_path else [photo.with_suffix(".png"), photo.with_name(photo.stem + "_map.png")]
    for cand in candidates:
        if cand == photo or not cand.is_file():
            if map_path:
                raise LabelMapError(f"{cand}: no such file")
            continue
        img = open_image(cand)
        if looks_like_label_map(img):
            return decode_label_image(img).labels
        if map_path:
            raise LabelMapError(f"{cand}: not a label map")
    return None


def open_document(path: str | Path, size: int = 256, map_path: str | Path | None = None) -> Document:
    """A document for ``path`` at working size ``size`` (see the module docstring)."""
    from .engines.geometry import attributes_from_map
    from .face.attributes import read_attributes

    path = Path(path)
    if path.suffix.lower() == ".smile":
        return load_project(path)
    img = open_image(path)
    if map_path is None and looks_like_label_map(img):
        labels = _square(decode_label_image(img).labels, size, cv2.INTER_NEAREST)
        return Document(LabelMap(labels), name=path.name,
                        attributes=attributes_from_map(labels))
    rgb = read_image(path)
    labels = _map_for(path, map_path)
    if labels is not None:
        sx, sy = rgb.shape[1] / size, rgb.shape[0] / size
        labels = _square(labels, size, cv2.INTER_NEAREST)
        photo = _square(rgb, size, cv2.INTER_AREA)
        return Document(LabelMap(labels), photo=photo, original=rgb,
                        alignment=np.array([[sx, 0, 0], [0, sy, 0]], np.float64), name=path.name,
                        attributes=read_attributes(photo, labels))
    from .face.pipeline import parse_face

    parsed = parse_face(rgb, size)
    return Document(LabelMap(parsed.labels), photo=parsed.crop, original=rgb, alignment=parsed.alignment,
                    name=path.name, attributes=read_attributes(parsed.crop, parsed.labels))
