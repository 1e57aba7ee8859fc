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


@dataclass(frozen=True)
class Sample:
    name: str
    original: np.ndarray
    photo: np.ndarray  # aligned crop
    labels: np.ndarray
    alignment: np.ndarray


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
    return Sample(path.name, original, parsed.crop, parsed.labels, parsed.alignment)
