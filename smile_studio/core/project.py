"""The .smile project file: a zip holding a versioned JSON manifest, PNG images and .npy arrays.

Saving is atomic (temporary file, fsync, rename), so a crash or a full disk leaves the previous file intact.
Loading validates everything before building a Document; any problem raises :class:`ProjectError` with a sentence
for the user, and the caller keeps its current document.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .. import __version__
from .document import Document, Reference, StyleSource
from .imageio import ImageReadError, atomic_write_bytes, encode_png, read_image
from .labelio import LabelMapError, encode_indexed_png, read_label_map
from .labelmap import LabelMap
from .labels import CLASSES
from .manifest import (
    FORMAT,
    MAX_MANIFEST_BYTES,
    VERSION,
    ManifestError,
    check_members,
    parse_manifest,
    read_member,
)

MANIFEST = "manifest.json"


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


def _image_size(data: bytes) -> tuple[int, int] | None:
    """An image's (width, height) from its header alone (no pixels decoded), None when unreadable."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # noqa: BLE001 - the full read below reports what is wrong
        return None


def _labels(zf: zipfile.ZipFile, name: str, size: int, project: str = "project") -> np.ndarray:
    data = read_member(zf, name, project)
    dims = _image_size(data)
    if dims is not None and dims != (size, size):  # checked before decoding: a 144-Mpx map is refused at once
        raise ProjectError(f"{project}: {name} is {dims[0]}x{dims[1]}, the manifest says {size}x{size}")
    try:
        labels = read_label_map(data).labels
    except LabelMapError as exc:
        raise ProjectError(f"{project}: {name} in the project is damaged ({exc})") from exc
    if labels.shape != (size, size):
        raise ProjectError(f"{project}: {name} is {labels.shape}, the manifest says {size}x{size}")
    return labels


def _image(zf: zipfile.ZipFile, name: str, project: str = "project", side: int | None = None) -> np.ndarray:
    data = read_member(zf, name, project)
    dims = _image_size(data)
    if side is not None and dims is not None and dims != (side, side):
        raise ProjectError(f"{project}: {name} is {dims[0]}x{dims[1]}, the manifest says {side}x{side}")
    try:
        return read_image(data)
    except ImageReadError as exc:
        raise ProjectError(f"{project}: {name} in the project is damaged ({exc})") from exc


MIN_ALIGNMENT_DET = 1e-8  # a real crop scales a photo by 1/50 at the least: a determinant of 4e-4


def _alignment(data: bytes, project: str) -> np.ndarray:
    """The (2, 3) float alignment, its .npy header checked before any array is allocated."""
    buf = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buf)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(buf)
    except (ValueError, SyntaxError, TypeError) as exc:
        raise ProjectError(f"{project}: alignment.npy is damaged ({exc})") from exc
    if tuple(shape) != (2, 3) or dtype.kind != "f" or dtype.itemsize > 8:
        raise ProjectError(f"{project}: alignment.npy holds {dtype} {tuple(shape)}, expected float (2, 3)")
    arr = np.load(io.BytesIO(data), allow_pickle=False).astype(np.float64)
    if not np.isfinite(arr).all():
        raise ProjectError(f"{project}: alignment.npy holds values that are not finite")
    if not abs(np.linalg.det(arr[:, :2])) > MIN_ALIGNMENT_DET:  # every photo point would land on one line or point
        raise ProjectError(f"{project}: alignment.npy is degenerate (it maps the photo onto a line or a point)")
    return arr


def decode_project(data: bytes, name: str = "project") -> Document:
    """A Document from the bytes of a .smile file; ProjectError (a sentence naming the problem) otherwise."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        raise ProjectError(f"{name} is not a SMILE Studio project (not a zip file, or truncated)") from exc
    try:
        with zf:
            members = check_members(zf, name)
            manifest = parse_manifest(read_member(zf, MANIFEST, name, MAX_MANIFEST_BYTES), name)
            size = manifest.size
            labels = _labels(zf, "map.png", size, name)
            source = _labels(zf, "source_map.png", size, name) if "source_map.png" in members else None
            photo = _image(zf, "photo.png", name, side=size) if "photo.png" in members else None
            original = _image(zf, "original.png", name) if "original.png" in members else None
            alignment = _alignment(read_member(zf, "alignment.npy", name), name) \
                if "alignment.npy" in members else None
            refs = []
            for r in manifest.references:
                rmap = _labels(zf, r.map, size, name) if r.map else None
                refs.append(Reference(r.id, r.name, _image(zf, r.photo, name, side=size), rmap, r.attributes))
            if len({r.id for r in refs}) != len(refs):
                raise ProjectError(f"{name}: two references share an id")
            styles = tuple(StyleSource(**manifest.styles[c.key].model_dump()) if c.key in manifest.styles
                           else StyleSource() for c in CLASSES)
            ref_ids = {r.id for r in refs}
            for c, s in zip(CLASSES, styles, strict=True):
                if s.kind == "reference" and s.ref not in ref_ids:
                    raise ProjectError(f"{name}: style of {c.key} names missing reference {s.ref!r}")
            try:
                return Document(labelmap=LabelMap(labels), photo=photo, original=original, alignment=alignment,
                                source_labels=source, attributes=dict(manifest.attributes), styles=styles,
                                references=tuple(refs), name=manifest.name)
            except ValueError as exc:
                raise ProjectError(f"{name}: the project is inconsistent ({exc!s})") from exc
    except ManifestError as exc:
        raise ProjectError(str(exc)) from None
    except ProjectError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise ProjectError(f"{name} is damaged or truncated ({exc})") from exc
    except (MemoryError, RecursionError, OverflowError) as exc:
        raise ProjectError(f"{name}: the project asks for more than this app will load ({type(exc).__name__})") \
            from exc


MAX_PROJECT_BYTES = 2 * 2**30


def read_regular_file(path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of ``path`` after checking, before reading, that it is an ordinary file of at most ``limit``
    bytes: a FIFO would block forever, /dev/zero would never end, a huge file would fill memory."""
    try:
        st = path.stat()  # follows symlinks: a link to a device is judged by the device
    except FileNotFoundError:
        raise ProjectError(f"{path.name}: no such file") from None
    except OSError as exc:
        raise ProjectError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not an ordinary file (a pipe, device or socket)"
        raise ProjectError(f"{path.name}: is {kind}, not a {what}")
    if st.st_size > limit:
        raise ProjectError(f"{path.name}: {st.st_size / 2**30:.1f} GiB is larger than any {what} "
                           f"({limit / 2**30:.0f} GiB at most)")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise ProjectError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > limit:
        raise ProjectError(f"{path.name}: grew past {limit} bytes while being read")
    return data


def load_project(path: str | os.PathLike) -> Document:
    path = Path(path)
    return decode_project(read_regular_file(path, MAX_PROJECT_BYTES, "SMILE Studio project"), path.name)


def project_name(path: str | os.PathLike) -> str | None:
    """The name of the photo a project holds (its manifest's), read without decoding any image; None when the
    file is not a readable project."""
    try:
        with zipfile.ZipFile(path) as zf:
            check_members(zf, Path(path).name)
            return parse_manifest(read_member(zf, MANIFEST, Path(path).name, MAX_MANIFEST_BYTES), Path(path).name).name
    except (ManifestError, zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
