"""The .smile project file: a zip holding a versioned JSON manifest, PNG images and .npy arrays.

Saving is atomic (temporary file, fsync, rename), so a crash or a full disk leaves the previous file intact.
Loading validates everything before building a Document; any problem raises :class:`ProjectError` with a sentence
for the user, and the caller keeps its current document.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .. import __version__
from .document import Document, Reference, StyleSource
from .imageio import ImageReadError, atomic_write_bytes, encode_png, read_image
from .labelio import LabelMapError, encode_indexed_png, read_label_map
from .labelmap import LabelMap
from .labels import CLASSES

FORMAT = "smile-studio-project"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MEMBER_BYTES = 512 * 2**20  # guards against zip bombs


class ProjectError(ValueError):
    """A project that cannot be saved or loaded; str(error) says why."""


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def encode_project(doc: Document) -> bytes:
    """The bytes of a .smile file for ``doc``."""
    files: dict[str, bytes] = {"map.png": encode_indexed_png(doc.labels)}
    if doc.source_labels is not None:
        files["source_map.png"] = encode_indexed_png(doc.source_labels)
    if doc.photo is not None:
        files["photo.png"] = encode_png(doc.photo)
    if doc.original is not None:
        files["original.png"] = encode_png(doc.original)
    if doc.alignment is not None:
        files["alignment.npy"] = _npy(np.asarray(doc.alignment, np.float64))
    refs = []
    for ref in doc.references:
        entry = {"id": ref.id, "name": ref.name, "photo": f"refs/{ref.id}.png", "attributes": ref.attributes}
        files[entry["photo"]] = encode_png(ref.rgb)
        if ref.labels is not None:
            entry["map"] = f"refs/{ref.id}_map.png"
            files[entry["map"]] = encode_indexed_png(ref.labels)
        refs.append(entry)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "app_version": __version__,
        "name": doc.name,
        "size": doc.size,
        "attributes": doc.attributes,
        "styles": {CLASSES[i].key: s.to_json() for i, s in enumerate(doc.styles)},
        "references": refs,
        "files": sorted(files),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, indent=2))
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def save_project(doc: Document, path: str | os.PathLike) -> None:
    """Atomically write ``doc`` to ``path``; ProjectError (old file untouched) when it cannot be written."""
    data = encode_project(doc)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ProjectError(f"could not save {Path(path).name}: {exc.strerror or exc}; the previous file is unchanged") \
            from exc


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ProjectError(f"the project lacks {name}") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise ProjectError(f"{name} in the project is too large ({info.file_size} bytes)")
    return zf.read(name)


def _labels(zf: zipfile.ZipFile, name: str, size: int) -> np.ndarray:
    try:
        labels = read_label_map(_read_member(zf, name)).labels
    except LabelMapError as exc:
        raise ProjectError(f"{name} in the project is damaged ({exc})") from exc
    if labels.shape != (size, size):
        raise ProjectError(f"{name} is {labels.shape}, the manifest says {size}x{size}")
    return labels


def _image(zf: zipfile.ZipFile, name: str) -> np.ndarray:
    try:
        return read_image(_read_member(zf, name))
    except ImageReadError as exc:
        raise ProjectError(f"{name} in the project is damaged ({exc})") from exc


def decode_project(data: bytes, name: str = "project") -> Document:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ProjectError(f"{name} is not a SMILE Studio project (not a zip file, or truncated)") from exc
    try:
        with zf:
            bad = zf.testzip()
            if bad is not None:
                raise ProjectError(f"{name} is damaged: {bad} fails its checksum")
            try:
                manifest = json.loads(_read_member(zf, MANIFEST))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ProjectError(f"{name}: the manifest is not valid JSON ({exc})") from exc
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ProjectError(f"{name} is not a SMILE Studio project (unknown format)")
            version = manifest.get("version")
            if not isinstance(version, int) or version < 1:
                raise ProjectError(f"{name}: bad project version {version!r}")
            if version > VERSION:
                raise ProjectError(
                    f"{name} was saved by a newer SMILE Studio (project version {version}, this app reads up to "
                    f"{VERSION}, app {manifest.get('app_version', '?')}); update the app to open it")
            try:
                size = int(manifest["size"])
                members = set(zf.namelist())
                labels = _labels(zf, "map.png", size)
                source = _labels(zf, "source_map.png", size) if "source_map.png" in members else None
                photo = _image(zf, "photo.png") if "photo.png" in members else None
                original = _image(zf, "original.png") if "original.png" in members else None
                alignment = None
                if "alignment.npy" in members:
                    alignment = np.load(io.BytesIO(_read_member(zf, "alignment.npy")), allow_pickle=False)
                    if alignment.shape != (2, 3):
                        raise ProjectError(f"{name}: alignment has shape {alignment.shape}, expected (2, 3)")
                refs = []
                for r in manifest.get("references", []):
                    rmap = _labels(zf, r["map"], size) if r.get("map") else None
                    refs.append(Reference(str(r["id"]), str(r["name"]), _image(zf, r["photo"]), rmap,
                                          r.get("attributes")))
                styles_json = manifest.get("styles", {})
                styles = tuple(StyleSource.from_json(styles_json.get(c.key, {})) for c in CLASSES)
                ref_ids = {r.id for r in refs}
                for c, s in zip(CLASSES, styles, strict=True):
                    if s.kind == "reference" and s.ref not in ref_ids:
                        raise ProjectError(f"{name}: style of {c.key} names missing reference {s.ref!r}")
                return Document(
                    labelmap=LabelMap(labels), photo=photo, original=original, alignment=alignment,
                    source_labels=source, attributes=manifest["attributes"], styles=styles,
                    references=tuple(refs), name=str(manifest.get("name", name)))
            except ProjectError:
                raise
            except (KeyError, TypeError, ValueError) as exc:
                raise ProjectError(f"{name}: the project is inconsistent ({exc!s})") from exc
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ProjectError(f"{name} is damaged or truncated ({exc})") from exc


def load_project(path: str | os.PathLike) -> Document:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(f"{path.name}: no such file") from None
    except OSError as exc:
        raise ProjectError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    return decode_project(data, path.name)

