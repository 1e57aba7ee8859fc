"""The export bundle: everything needed to use and to reproduce an edit, written atomically.

render.png, photo_edited.png (the edit pasted back into the original photo, when there is one), map.png (indexed,
palette embedded), map_color.png, side_by_side.png and settings.json (attributes, per-region styles and seeds,
references, engines and checkpoint hashes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import __version__
from .core.document import Document, carried_styles
from .core.imageio import atomic_write_files, encode_png
from .core.labelio import colorize, encode_indexed_png
from .core.labels import CLASSES

_HASHES: dict = {}


def checkpoint_hashes() -> dict[str, str]:
    """SHA-256 of every installed checkpoint (cached per file size and time), so a render can be reproduced."""
    from .weights import installed
    from .weights.verify import sha256_of

    out = {}
    for path in installed().values():
        st = path.stat()
        sig = (str(path), st.st_size, st.st_mtime_ns)
        if sig not in _HASHES:
            _HASHES[sig] = sha256_of(path)
        out[path.name] = _HASHES[sig]
    return out


def restyled_classes(styles) -> list[int]:
    """The classes whose style is not the source photo's (they change even where the map does not), the nose,
    ears and neck that follow a restyled skin included."""
    return [i for i, s in enumerate(carried_styles(styles)) if s.kind != "source"]


def bundle_files(doc: Document, render: np.ndarray, engines: dict, checkpoints: dict | None = None,
                 enhancer=None) -> dict:
    """name -> bytes of every file of the bundle; ``enhancer``: the Enhance network (an
    :class:`~.engines.enhance.Enhancer`) that upsamples the render for the photo, or None."""
    from .face.composite import paste_edit

    files = {"render.png": encode_png(render), "map.png": encode_indexed_png(doc.labels),
             "map_color.png": encode_png(colorize(doc.labels))}
    panels = [p for p in (doc.photo, colorize(doc.labels), render) if p is not None]
    files["side_by_side.png"] = encode_png(np.hstack([_fit(p, render.shape[0]) for p in panels]))
    enhanced = None
    if doc.original is not None and doc.alignment is not None:
        files["photo_edited.png"] = encode_png(paste_edit(doc.original, render, doc.alignment, doc.source_labels,
                                                          doc.labels, restyled_classes(doc.styles),
                                                          enhance=enhancer))
        enhanced = enhance_record(enhancer, doc.alignment, doc.size, render.shape[0])
    settings = edit_settings(doc.name, doc.size, doc.attributes, doc.styles, doc.references, engines,
                             checkpoints=checkpoints, files=sorted(files), render_size=render.shape[0],
                             enhance=enhanced)
    files["settings.json"] = json.dumps(settings, indent=2).encode()
    return files


def enhance_record(enhancer, alignment: np.ndarray | None, labels_side: int, render_side: int) -> dict | None:
    """What the settings JSON says of the enhancement: the network, its file, its factor and licence, when an
    ``enhancer`` was given and the face was large enough in its photo for it to run (else None)."""
    from .face.upscale import worth_enhancing

    if enhancer is None or alignment is None or not worth_enhancing(alignment, labels_side, render_side):
        return None
    return enhancer.record()


SETTINGS_FORMAT = "smile-studio-settings"


def edit_settings(name: str, size: int, attributes: dict, styles, references, engines: dict, *,
                  attributes_before: dict | None = None, edit: dict | None = None, checkpoints: dict | None = None,
                  files: list | None = None, notes=(), render_size: int | None = None,
                  enhance: dict | None = None) -> dict:
    """The settings JSON that reproduces a result, one schema for the export bundle and ``edit --json-out``:
    the result's attributes (and those before the edit, when one was made), the edit's seed / psi / reference,
    every region's style source, the references, the engines and checkpoint hashes, the files written."""
    out = {
        "format": SETTINGS_FORMAT,
        "version": 1,
        "app": f"SMILE Studio {__version__}",
        "input": name,
        "size": size,
        "render_size": render_size or size,  # SMILE_SYN 512 renders large faces when installed
        "enhance": enhance,  # the network that upsampled the render for the photo (Enhance), or None
        "attributes": dict(attributes),
        "attributes_before": dict(attributes_before) if attributes_before is not None else None,
        "edit": edit,
        "styles": {CLASSES[i].key: s.to_json() for i, s in enumerate(styles)},
        "references": [{"id": r.id, "name": r.name} for r in references],
        "engines": engines,
        "checkpoints": checkpoints or {},
        "files": files or [],
        "notes": list(notes),
    }
    return out


def export_bundle(doc: Document, render: np.ndarray, folder: str | Path, engines: dict,
                  checkpoints: dict | None = None, enhancer=None) -> list[Path]:
    """Write the bundle into ``folder`` (created when missing) all or nothing: on a full disk no file of it is
    left behind, and a folder this call created is removed again."""
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    files = {folder / name: data for name, data in bundle_files(doc, render, engines, checkpoints,
                                                                enhancer).items()}
    try:
        atomic_write_files(files)
    except OSError:
        if created:
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    return list(files)


def _fit(img: np.ndarray, size: int) -> np.ndarray:
    if img.shape[0] == size:
        return img
    import cv2

    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
