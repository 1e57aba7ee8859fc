"""Files that ship with the app (``resources/`` beside the package, or inside a PyInstaller bundle)."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def resources_dir() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


SAMPLE_PHOTO = "sample/astronaut.png"
# What is known of the sample and a map cannot show (gender is read from hair length below the jaw, and she has
# short hair); the rest is read from its map like any photo's.
SAMPLE_KNOWN_ATTRIBUTES = {"gender": "female"}


@dataclass(frozen=True)
class Sample:
    name: str
    original: np.ndarray
    photo: np.ndarray  # aligned crop
    labels: np.ndarray
    alignment: np.ndarray
    attributes: dict


@functools.lru_cache(maxsize=2)
def bundled_sample(size: int = 256) -> Sample | None:
    """The bundled public-domain sample, aligned and parsed by the offline pipeline (None if missing)."""
    from .core.imageio import ImageReadError, read_image
    from .face.pipeline import NoFaceDetected, parse_face

    path = resources_dir() / SAMPLE_PHOTO
    try:
        original = read_image(path)
        parsed = parse_face(original, size)
    except (ImageReadError, NoFaceDetected):
        return None
    from .face.geometry import attributes_from_map

    attributes = {**attributes_from_map(parsed.labels), **SAMPLE_KNOWN_ATTRIBUTES}
    return Sample(path.name, original, parsed.crop, parsed.labels, parsed.alignment, attributes)
