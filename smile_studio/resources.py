"""Files that ship with the app (``resources/`` beside the package, or inside a PyInstaller bundle)."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .core.document import Document
from .core.labelmap import LabelMap


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

    def document(self) -> Document:
        """A new document of the sample (documents hold their own history; the sample is shared)."""
        return Document(LabelMap(self.labels.copy()), photo=self.photo, original=self.original,
                        alignment=self.alignment, name=f"sample ({self.name})", attributes=dict(self.attributes))


@functools.lru_cache(maxsize=2)
def bundled_sample(size: int = 256) -> Sample | None:
    """The bundled public-domain sample, aligned and parsed like any photo (None if missing)."""
    from .core.imageio import ImageReadError, read_image
    from .face.geometry import NoFaceDetected
    from .opening import document_from_photo

    path = resources_dir() / SAMPLE_PHOTO
    try:
        doc = document_from_photo(read_image(path), path.name, size, known_attributes=SAMPLE_KNOWN_ATTRIBUTES)
    except (ImageReadError, NoFaceDetected):
        return None
    return Sample(path.name, doc.original, doc.photo, doc.labels.copy(), doc.alignment, dict(doc.attributes))


def sample_exemplar() -> tuple[np.ndarray, np.ndarray] | None:
    """(photo, map) of the sample, for the offline renderer's textures of regions a photo lacks."""
    sample = bundled_sample()
    return (sample.photo, sample.labels) if sample is not None else None
