"""The declared schema of a .smile project's manifest, with limits, and the safe reading of its zip members.

A project may come from anywhere (a mail attachment, a damaged disk), so nothing in it is trusted: the manifest is
parsed without NaN/Infinity and with bounded nesting, validated against the models below (types, ranges, counts,
lengths), and every member is read through :func:`read_member`, which refuses encrypted or unknown compression,
duplicate names and members that hold more bytes than they declare, without inflating more than the limit.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .document import MAX_SEED
from .labels import CLASS_BY_KEY, normalise_value, validate_attributes

FORMAT = "smile-studio-project"
VERSION = 1
MAX_MEMBER_BYTES = 512 * 2**20  # one member, inflated
MAX_TOTAL_BYTES = 2 * 2**30  # all members, inflated, as declared
MAX_MEMBERS = 512
MAX_REFERENCES = 64
MAX_MANIFEST_BYTES = 4 * 2**20
MAX_JSON_DEPTH = 32
SIZES = (64, 128, 256, 512, 1024)


class ManifestError(ValueError):
    """The manifest or a member is unusable; str(error) says what and where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class StyleEntry(_Strict):
    kind: Literal["source", "seed", "reference"] = "source"
    seed: int = Field(0, ge=0, le=MAX_SEED)
    ref: str | None = Field(None, max_length=64)
    locked: bool = False


class ReferenceEntry(_Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(max_length=512)
    photo: str = Field(max_length=256)
    map: str | None = Field(None, max_length=256)
    attributes: dict[str, str] | None = None

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict | None) -> dict | None:
        """A reference may know only some attributes; those it names must be valid."""
        return None if value is None else {k: normalise_value(k, v) for k, v in value.items()}


class Manifest(_Strict):
    format: Literal["smile-studio-project"]
    version: int = Field(ge=1)
    app_version: str = Field("?", max_length=64)
    name: str = Field("project", max_length=512)
    size: int
    attributes: dict[str, str]
    styles: dict[str, StyleEntry] = Field(default_factory=dict, max_length=64)
    references: list[ReferenceEntry] = Field(default_factory=list, max_length=MAX_REFERENCES)
    files: list[str] = Field(default_factory=list, max_length=MAX_MEMBERS)

    @field_validator("size")
    @classmethod
    def _size(cls, value: int) -> int:
        if value not in SIZES:
            raise ValueError(f"size {value} is not one of {SIZES}")
        return value

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict) -> dict:
        return validate_attributes(value)

    @field_validator("styles")
    @classmethod
    def _styles(cls, value: dict) -> dict:
        unknown = [k for k in value if k not in CLASS_BY_KEY]
        if unknown:
            raise ValueError(f"styles name unknown classes {unknown[:5]}")
        return value


def _depth(obj, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(obj, dict):
        return max((_depth(v, level + 1) for v in obj.values()), default=level + 1)
    if isinstance(obj, list):
        return max((_depth(v, level + 1) for v in obj), default=level + 1)
    return level


def _no_constants(text: str):
    raise ValueError(f"{text} is not a number a project may hold")


def newer_than(version, current: int) -> bool:
    """Whether a file's ``version`` field is a whole number above ``current`` (a file from a newer app); other
    values are left to the schema to refuse."""
    return isinstance(version, int) and not isinstance(version, bool) and version > current


def first_problem(exc: ValidationError, whole: str) -> tuple[str, str, object]:
    """(where, what, the value given) of a validation error's first problem; ``whole`` names the top level."""
    first = exc.errors()[0]
    return ".".join(str(p) for p in first["loc"]) or whole, first["msg"], first.get("input")


def parse_manifest(raw: bytes, name: str) -> Manifest:
    """The validated manifest of project ``name``, or ManifestError naming the first problem."""
    if raw.count(b"[") + raw.count(b"{") > 100_000:
        raise ManifestError(f"{name}: the manifest is not a project manifest (too many nested values)")
    try:
        data = json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise ManifestError(f"{name}: the manifest is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{name}: the manifest is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ManifestError(f"{name} is not a SMILE Studio project (unknown format)")
    if _depth(data) > MAX_JSON_DEPTH:
        raise ManifestError(f"{name}: the manifest is nested too deeply")
    version = data.get("version")
    if newer_than(version, VERSION):
        raise ManifestError(
            f"{name} was saved by a newer SMILE Studio (project version {version}, this app reads up to {VERSION}, "
            f"app {str(data.get('app_version', '?'))[:64]}); update the app to open it")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        where, what, _ = first_problem(exc, "manifest")
        raise ManifestError(f"{name}: the manifest is invalid at {where}: {what}") from None


# what the standard zip tools write: ours (deflate), and archive managers that re-pack a project (bzip2, LZMA)
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def check_members(zf: zipfile.ZipFile, name: str) -> set[str]:
    """The member names, after refusing what no project of ours holds: too many or duplicate entries, encrypted
    or unknown compression, absolute or parent-relative names, declared sizes over the limits."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ManifestError(f"{name}: {len(infos)} entries is more than a project holds")
    names = [i.filename for i in infos]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ManifestError(f"{name}: the archive holds two entries named {dupes[0]} (which one is meant?)")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise ManifestError(f"{name}: {info.filename} is encrypted; projects are never encrypted")
        if info.compress_type not in COMPRESSIONS:
            raise ManifestError(f"{name}: {info.filename} uses a compression this app does not read")
        if info.filename.startswith(("/", "\\")) or ".." in info.filename.replace("\\", "/").split("/"):
            raise ManifestError(f"{name}: entry {info.filename!r} points outside the project")
        if info.file_size > MAX_MEMBER_BYTES:
            raise ManifestError(f"{name}: {info.filename} is too large ({info.file_size} bytes)")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise ManifestError(f"{name}: the project's contents are too large ({total} bytes)")
    return set(names)


def read_member(zf: zipfile.ZipFile, member: str, name: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
    """A member's bytes, inflating no more than it declares (and no more than ``limit``); CRC checked."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise ManifestError(f"{name}: the project lacks {member}") from None
    cap = min(info.file_size, limit)
    if info.file_size > limit:
        raise ManifestError(f"{name}: {member} is too large ({info.file_size} bytes)")
    try:
        with zf.open(info) as f:
            data = f.read(cap + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ManifestError(f"{name}: {member} is damaged ({exc})") from exc
    except (RuntimeError, NotImplementedError) as exc:  # encryption, unknown methods
        raise ManifestError(f"{name}: {member} cannot be read ({exc})") from exc
    if len(data) > cap:
        raise ManifestError(f"{name}: {member} holds more data than it declares; the project is damaged")
    if zlib.crc32(data) & 0xFFFFFFFF != info.CRC:
        raise ManifestError(f"{name}: {member} fails its checksum; the project is damaged")
    return data
