"""Turning a file into an edit document, shared by the editor, the command line and the reference shelf.

Accepts a ``.smile`` project, a label map image, or a photo: the photo's map comes from an explicit map file, a
label map beside it (``x.jpg`` + ``x.png`` or ``x_map.png``, the dataset layout), or the photo pipeline (detect,
align, parse). Every failure is a ValueError subclass whose message names the file and the problem.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .core.document import Document
from .core.imageio import open_image, read_image
from .core.labelio import LabelMapError, decode_label_image, looks_like_label_map
from .core.labelmap import LabelMap
from .core.project import load_project

MAP_DECODE_SIDE = 1024  # a huge colour map is reduced (nearest) to this before its colours are read


def _square(arr: np.ndarray, size: int, interp: int) -> np.ndarray:
    return arr if arr.shape[:2] == (size, size) else cv2.resize(arr, (size, size), interpolation=interp)


def _reduced(img: Image.Image) -> Image.Image:
    """A label map image no larger than MAP_DECODE_SIDE per side (nearest: classes are never blended)."""
    scale = MAP_DECODE_SIDE / max(img.size)
    if scale >= 1:
        return img
    return img.resize((max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))), Image.NEAREST)


def _decoded(img: Image.Image, name: str, notes: list[str]) -> np.ndarray:
    """The class ids of a label map image; colours no class has (a palette index above 18, a blended edge) are
    given the nearest class, and a note says how many pixels were."""
    result = decode_label_image(_reduced(img))
    if result.snapped_pixels:
        notes.append(f"{name}: {result.snapped_pixels} pixels in {len(result.unknown_colors)} colours that are no "
                     "class were given the nearest class's")
    return result.labels


def _aspect_differs(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return abs(a[0] / a[1] - b[0] / b[1]) > 0.02 * (a[0] / a[1])


def _map_for(photo: Path, map_path: str | Path | None, photo_size: tuple[int, int],
             notes: list[str]) -> np.ndarray | None:
    """The label map of ``photo``: the one given (errors are the user's to fix), else one beside it. A beside
    file that is not a usable map of this photo is skipped with a note saying why (the photo is parsed)."""
    candidates = [Path(map_path)] if map_path else [photo.with_suffix(".png"), photo.with_name(photo.stem + "_map.png")]
    for cand in candidates:
        if cand == photo or not cand.is_file():
            if map_path:
                raise LabelMapError(f"{cand}: no such file")
            continue
        try:
            img = open_image(cand)
            if not looks_like_label_map(img):
                raise LabelMapError(f"{cand.name} is not a label map (ids 0..18 or the class colours)")
            if _aspect_differs(img.size, photo_size):
                raise LabelMapError(f"{cand.name} is {img.size[0]}x{img.size[1]} but the photo is "
                                    f"{photo_size[0]}x{photo_size[1]}: not the same picture's map")
            labels = _decoded(img, cand.name, notes)
        except ValueError as exc:  # LabelMapError and ImageReadError are ValueErrors
            if map_path:
                raise
            notes.append(f"{exc}; ignored it and parsed the photo instead")
            continue
        return labels
    return None


def open_document(path: str | Path, size: int = 256, map_path: str | Path | None = None,
                  face_index: int = 0) -> Document:
    """A document for ``path`` at working size ``size`` (see the module docstring); ``Document.notes`` says what
    was decided on the way (a beside map ignored, a huge photo reduced)."""
    from .face.attributes import read_attributes
    from .face.geometry import attributes_from_map

    path = Path(path)
    if path.suffix.lower() == ".smile":
        return load_project(path)
    img = open_image(path)
    notes = [img.info["smile_reduced"]] if "smile_reduced" in img.info else []
    if map_path is None and looks_like_label_map(img):
        labels = _square(_decoded(img, path.name, notes), size, cv2.INTER_NEAREST)
        return Document(LabelMap(labels), name=path.name, attributes=attributes_from_map(labels), notes=tuple(notes))
    rgb = read_image(img)
    labels = _map_for(path, map_path, (rgb.shape[1], rgb.shape[0]), notes)
    if labels is not None:
        sx, sy = rgb.shape[1] / size, rgb.shape[0] / size
        labels = _square(labels, size, cv2.INTER_NEAREST)
        photo = _square(rgb, size, cv2.INTER_AREA)
        return Document(LabelMap(labels), photo=photo, original=rgb,
                        alignment=pixel_scale(sx, sy), name=path.name,
                        attributes=read_attributes(photo, labels), notes=tuple(notes))
    return document_from_photo(rgb, path.name, size, notes=notes, face_index=face_index)


def pixel_scale(sx: float, sy: float) -> np.ndarray:
    """The crop -> photo affine of a photo resized to the crop (pixel centres at integer coordinates, as
    ``cv2.resize`` and ``cv2.warpAffine`` place them: crop pixel 0 covers photo pixels 0 .. sx - 1)."""
    return np.array([[sx, 0, (sx - 1) / 2], [0, sy, (sy - 1) / 2]], np.float64)


def document_from_photo(rgb: np.ndarray, name: str, size: int = 256, eyes=None, notes=(),
                        known_attributes: dict | None = None, face_index: int = 0,
                        points: np.ndarray | None = None) -> Document:
    """The one way a photo becomes a document: detect the face (or use the ``eyes`` a user placed), align,
    parse, read the attributes (``known_attributes`` override what is read); NoFaceDetected when no face."""
    from .face.attributes import read_attributes
    from .face.pipeline import parse_face

    parsed = parse_face(rgb, size, eyes=eyes, face_index=face_index, points=points)
    attributes = {**read_attributes(parsed.crop, parsed.labels), **(known_attributes or {})}
    face = None
    if parsed.face_count > 1:
        face = (face_index, parsed.face_count)
        notes = (*notes, f"the photo has {parsed.face_count} faces; face {face_index + 1} is open "
                         f"({'the largest' if face_index == 0 else 'by size'}); Edit > Next face opens another")
    return Document(LabelMap(parsed.labels), photo=parsed.crop, original=rgb, alignment=parsed.alignment,
                    name=name, attributes=attributes, notes=tuple(notes), face=face)
