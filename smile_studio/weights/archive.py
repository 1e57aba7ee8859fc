"""Installing weight files a user already has: an archive (zip or tar) or a folder. Every file is recognised by
what it holds (:func:`~.registry.recognise`), not by its name. Extraction is safe: no ``..`` or absolute names,
no links, no device files, per-file and total size limits checked against the free disk before anything is
written; nothing half-written is ever left under a final name."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .locations import install_dir
from .registry import CHECKPOINT_BY_KEY, recognise

MAX_FILE_BYTES = 4 * 2**30
WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt", ".tar", ".bin", ".pkl")  # .pkl: HopeNet's official file
FREE_MARGIN = 64 * 2**20


class ImportRefused(Exception):
    """The archive or folder cannot be imported; str(error) says why. Nothing was installed."""


@dataclass
class ImportReport:
    installed: dict[str, Path] = field(default_factory=dict)  # registry key -> installed file
    unrecognised: list[str] = field(default_factory=list)  # weight-like files that hold no known network
    skipped: list[str] = field(default_factory=list)  # other files, with the reason
    chosen: list[str] = field(default_factory=list)  # several files held one network: which one was installed

    def lines(self) -> list[str]:
        out = [f"installed {CHECKPOINT_BY_KEY[k].filename} ({CHECKPOINT_BY_KEY[k].network})"
               for k in self.installed]
        out += self.chosen
        out += [f"not a known network: {n}" for n in self.unrecognised]
        out += [f"skipped: {n}" for n in self.skipped]
        return out


def check_archive_whole(path: Path) -> None:
    """ImportRefused unless the archive at ``path`` reads whole: every zip member's CRC, or every tar member read
    to its end (a gzip's CRC and length are checked at the end of the stream). A single file passes (its network
    is checked when it is recognised)."""
    kind = archive_kind(path)
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
            if bad is not None:
                raise ImportRefused(f"{path.name}: the archive entry {bad!r} is damaged (its CRC does not match)")
        elif kind == "tar":
            with tarfile.open(path) as tf:
                for member in tf:
                    if member.isfile():
                        with tf.extractfile(member) as f:
                            while f.read(1 << 20):
                                pass
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError, NotImplementedError,
            zlib.error) as exc:
        raise ImportRefused(f"{path.name}: a damaged or truncated archive ({exc})") from exc


def _check_name(name: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise ImportRefused(f"the archive entry {name!r} points outside the folder it is extracted to")


def _zip_members(zf: zipfile.ZipFile) -> list[tuple[str, int]]:
    out = []
    for info in zf.infolist():
        _check_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ImportRefused(f"the archive entry {info.filename!r} is a link; archives of weights hold files")
        if not info.is_dir():
            out.append((info.filename, info.file_size))
    return out


def _tar_members(tf: tarfile.TarFile) -> list[tuple[str, int]]:
    out = []
    for m in tf.getmembers():
        _check_name(m.name)
        if m.issym() or m.islnk():
            raise ImportRefused(f"the archive entry {m.name!r} is a link; archives of weights hold files")
        if m.isdev() or m.isfifo():
            raise ImportRefused(f"the archive entry {m.name!r} is a device or pipe")
        if m.isfile():
            out.append((m.name, m.size))
    return out


def _check_space(members: list[tuple[str, int]], dest: Path) -> None:
    for name, size in members:
        if size > MAX_FILE_BYTES:
            raise ImportRefused(f"the archive entry {name!r} is {size / 2**30:.1f} GiB: larger than any weight file")
    need = sum(size for _, size in members)
    dest.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest).free
    if need + FREE_MARGIN > free:
        raise ImportRefused(f"extracting needs {need / 2**20:.0f} MB but {dest} has {free / 2**20:.0f} MB free")


def _weight_like(name: str) -> bool:
    return name.lower().endswith(WEIGHT_SUFFIXES) and not name.lower().endswith((".tar.gz", ".tgz"))


def import_path(source: str | os.PathLike, dest: Path | None = None,
                progress: Callable[[str], None] | None = None) -> ImportReport:
    """Install every known network found in ``source`` (a zip or tar archive, or a folder) into ``dest``
    (default: the install folder). ImportRefused when the source is unsafe or unreadable."""
    source, dest = Path(source), Path(dest or install_dir())
    if not source.exists():
        raise ImportRefused(f"{source}: no such file or folder")
    dest.mkdir(parents=True, exist_ok=True)
    report = ImportReport()
    with tempfile.TemporaryDirectory(prefix=".import-", dir=dest) as tmp:
        staging = Path(tmp)
        found: dict[str, list[tuple[str, Path]]] = {}
        for name, path in _files_of(source, staging, report):
            if progress is not None:
                progress(name)
            key = _recognised(name, path, report)
            if key is not None:
                found.setdefault(key, []).append((name, path))
        for key, files in found.items():
            name, path = _preferred(key, files, report)
            _install_one(key, path, dest, report, extracted=path.parent == staging)
    return report


def _recognised(name: str, path: Path, report: ImportReport) -> str | None:
    """The registry key of the network ``path`` holds, or None (noted in the report)."""
    from ..nets.checkpoint import CheckpointError, read_checkpoint

    try:
        keys = recognise(read_checkpoint(path, name))
    except CheckpointError as exc:
        report.unrecognised.append(f"{name} ({exc})")
        return None
    if not keys:
        report.unrecognised.append(name)
        return None
    return keys[0]


def _preferred(key: str, files: list[tuple[str, Path]], report: ImportReport) -> tuple[str, Path]:
    """The one of several files holding ``key``'s network to install: its official name, else an EMA copy
    (what the official code evaluates and publishes), else the first; the choice is reported, never silent."""
    if len(files) == 1:
        return files[0]
    c = CHECKPOINT_BY_KEY[key]
    official = {c.filename.lower(), *(a.lower() for a in c.aliases)}

    def rank(item: tuple[str, Path]) -> int:
        base = Path(item[0]).name.lower()
        return 0 if base in official else 1 if "ema" in re.split(r"[^a-z0-9]+", Path(base).stem) else 2

    best = min(files, key=rank)  # min keeps the first of equals
    others = ", ".join(n for n, _ in files if n != best[0])
    why = ("its official name" if rank(best) == 0 else "the EMA copy" if rank(best) == 1
           else "the first found; rename the one you want to " + c.filename)
    report.chosen.append(f"{len(files)} files hold the {c.network}: installed {best[0]} ({why}), not {others}")
    return best


def _files_of(source: Path, staging: Path, report: ImportReport):
    """(name, path) of every weight-like file of ``source``; archives are extracted into ``staging`` first."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(source).as_posix()
            if _weight_like(path.name):
                yield rel, path
            else:
                report.skipped.append(f"{rel} (not a weight file)")
        return
    kind = archive_kind(source)
    try:
        if kind == "zip":
            with zipfile.ZipFile(source) as zf:
                yield from _extract(_zip_members(zf), zf.open, staging, report)
            return
        if kind == "tar":
            with tarfile.open(source) as tf:
                yield from _extract(_tar_members(tf), tf.extractfile, staging, report)
            return
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError, NotImplementedError,
            zlib.error) as exc:
        if isinstance(exc, OSError) and exc.errno == 28:
            raise ImportRefused(f"the disk filled up while extracting {source.name}; nothing was installed") from exc
        raise ImportRefused(f"{source.name}: a damaged or truncated archive ({exc})") from exc
    if _weight_like(source.name):
        yield source.name, source
        return
    raise ImportRefused(f"{source.name}: neither a folder, a zip or tar archive, nor a weight file")


def archive_kind(path: Path) -> str | None:
    """'zip', 'tar' or None (a single file), from the first bytes: a zip's signature can also be found inside a
    tar that holds a zip, and a PyTorch checkpoint is itself a zip (one with a ``data.pkl``)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                if any(n.endswith("/data.pkl") or n == "data.pkl" for n in zf.namelist()):
                    return None  # a PyTorch checkpoint, not an archive of them
        except (zipfile.BadZipFile, OSError):
            pass
        return "zip"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ")) or head[257:262] == b"ustar":
        return "tar"
    return None


def _extract(members: list[tuple[str, int]], open_member: Callable, staging: Path, report: ImportReport):
    """Extract the weight-like members (checked names, sizes and free space first) into ``staging``."""
    wanted = [(n, size) for n, size in members if _weight_like(n)]
    _check_space(wanted, staging)
    for name, _ in wanted:
        target = staging / f"{len(list(staging.iterdir()))}_{Path(name).name}"
        with open_member(name) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        yield name, target
    report.skipped += [f"{n} (not a weight file)" for n, _ in members if not _weight_like(n)]


def _install_one(key: str, path: Path, dest: Path, report: ImportReport, extracted: bool = False) -> None:
    """Install ``path`` (holding ``key``'s network) under its network's name; ``extracted``: a file of ours in the
    staging folder (moved into place) rather than the user's own file (copied)."""
    c = CHECKPOINT_BY_KEY[key]
    final = dest / c.subdir / c.filename
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.importing")
    try:
        if extracted:
            os.replace(path, tmp)  # the staging folder is inside dest: a rename, not a copy
        else:
            shutil.copyfile(path, tmp)
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ImportRefused(f"could not install {c.filename} into {dest} ({exc.strerror or exc})") from exc
    report.installed[c.key] = final
