"""Downloading weights from their published sources, only when asked (``smile-studio weights fetch`` or the
Weights dialog): sources tried in order; within one source, a dropped connection, a stall or a busy server is
retried with HTTP Range resume and a doubling pause (a bounded number of tries, as wget and pip do); connect and
read timeouts (a stalled server never hangs the app), a free-disk check first, cancellation between chunks,
progress with size, speed and ETA. Google Drive answers large files with a confirmation page; gdown's parser of
that page finds the real download link. The official archive is checked whole (every member's CRC), its sha256
recorded, then imported by content (:mod:`.archive`).

Integrity of a resumed file: each source has its own ``.part`` (bytes of one server are never continued from
another), with a small record of the size the server announced and its ETag / Last-Modified, sent back as
``If-Range`` so that a file changed on the server restarts instead of being spliced. A transfer must announce its
length (``Content-Length`` / ``Content-Range``) or be checked whole by the caller: a connection closed early is
otherwise indistinguishable from the end of the file."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from .archive import ImportRefused, ImportReport, archive_kind, check_archive_whole, import_path
from .locations import install_dir
from .registry import CHECKPOINTS, OFFICIAL_ARCHIVE_SOURCES
from .verify import sha256_of

CHUNK = 1 << 20
TIMEOUT = (10.0, 30.0)  # connect, read (seconds without a byte)
FREE_MARGIN = 64 * 2**20
MAX_PAGE_BYTES = 2 * 2**20  # a confirmation page is small; a larger HTML answer is not one
RETRIES = 5  # further tries of one source after a dropped connection, a stall or a busy server (wget: 20, pip: 5)
BACKOFF = 1.0  # seconds before the first retry, doubled each time (1, 2, 4, 8, 16)
RETRY_STATUS = (408, 425, 429, 500, 502, 503, 504)  # answers worth asking again
FETCH_RECORD = "fetched.json"  # archive sha256s, by source, in the install folder


class FetchError(Exception):
    """A download failed; str(error) says which source and why. A partial file is kept for resuming."""


class Cancelled(Exception):
    """The user cancelled; the partial file is kept, and the next fetch resumes it."""


class _Retry(Exception):
    """A failure worth another try of the same source (the partial file is kept for the Range request)."""


@dataclass(frozen=True)
class Progress:
    name: str
    done: int  # bytes on disk
    total: int | None  # None: the server did not say
    speed: float  # bytes per second, this session
    source: str

    @property
    def eta(self) -> float | None:
        if self.total is None or self.speed <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.speed)


ProgressFn = Callable[[Progress], None]


def _confirmation_link(page: str) -> str | None:
    """The download link of a Google Drive confirmation page (gdown's parser), or None."""
    from gdown.download import get_url_from_gdrive_confirmation
    from gdown.exceptions import FileURLRetrievalError

    try:
        return get_url_from_gdrive_confirmation(page) or None
    except (FileURLRetrievalError, KeyError, AssertionError):
        return None


def part_path(dest: Path, url: str) -> Path:
    """The partial file of ``url`` for ``dest``: one per source, so that a resume continues the same server's
    bytes."""
    return dest.with_name(f"{dest.name}.{hashlib.sha256(url.encode()).hexdigest()[:12]}.part")


def meta_path(part: Path) -> Path:
    """The record kept beside a partial file: the size its server announced, its ETag / Last-Modified."""
    return part.with_name(part.name + ".json")


def _read_meta(part: Path) -> dict:
    try:
        meta = json.loads(meta_path(part).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _write_meta(part: Path, meta: dict) -> None:
    try:
        meta_path(part).write_text(json.dumps(meta))
    except OSError as exc:
        raise FetchError(f"could not write {part.name}.json: {exc.strerror or exc}") from exc


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    meta_path(part).unlink(missing_ok=True)


def _complete(part: Path, dest: Path) -> None:
    part.replace(dest)
    meta_path(part).unlink(missing_ok=True)


def download(url: str, dest: Path, *, session: requests.Session | None = None, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None, timeout: tuple[float, float] = TIMEOUT,
             retries: int | None = None, backoff: float | None = None, whole: Callable[[Path], bool] | None = None,
             log: Callable[[str], None] | None = None) -> Path:
    """``url`` into ``dest`` (written as its source's ``.part`` first, renamed when complete; an existing part is
    resumed with an HTTP Range request). A dropped connection, a stall or a busy server is retried ``retries``
    times with a doubling pause, each try resuming where the last stopped. ``whole``: checks a file whose length
    the server did not announce (without it such a transfer is refused). FetchError / Cancelled otherwise."""
    session = session or requests.Session()
    retries = RETRIES if retries is None else retries
    pause = BACKOFF if backoff is None else backoff
    part = part_path(dest, url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries + 1):
        try:
            _attempt(url, dest, part, session, progress, cancel, timeout, whole)
            return dest
        except _Retry as exc:
            if attempt == retries:
                raise FetchError(f"{url}: {exc}; gave up after {retries + 1} tries (fetch again to resume)") from exc
            wait = pause * 2**attempt
            if log is not None:
                log(f"  {exc}; retrying in {wait:.0f} s (try {attempt + 2} of {retries + 1})")
            if cancel is not None and cancel.wait(wait):
                raise Cancelled(f"{dest.name}: cancelled; fetch again to resume") from None
            if cancel is None:
                time.sleep(wait)
    raise AssertionError("unreachable")


def _attempt(url: str, dest: Path, part: Path, session: requests.Session, progress: ProgressFn | None,
             cancel: threading.Event | None, timeout: tuple[float, float], whole: Callable[[Path], bool] | None
             ) -> None:
    source = url
    for _ in range(4):  # the file itself, or at most three confirmation pages before it
        have = part.stat().st_size if part.exists() else 0
        meta = _read_meta(part) if have else {}
        headers = {"Range": f"bytes={have}-"} if have and meta.get("total") else {}
        if headers and (meta.get("etag") or meta.get("modified")):
            headers["If-Range"] = meta.get("etag") or meta["modified"]
        try:
            response = session.get(url, stream=True, timeout=timeout, headers=headers, allow_redirects=True)
        except requests.RequestException as exc:
            raise _Retry(_why(exc)) from exc
        with response:
            is_page = response.headers.get("Content-Type", "").startswith("text/html")
            if response.status_code == 416 and headers:
                link = _confirmation_link(_page_text(response)) if is_page else None
                if link is not None:  # a confirmation page refused the Range meant for the file behind it
                    url = link
                    continue
                _finish_416(response, part, dest, meta, have)
                return
            if response.status_code in RETRY_STATUS:
                raise _Retry(f"the server answered HTTP {response.status_code} {response.reason or ''}".rstrip())
            if response.status_code not in (200, 206):
                raise FetchError(f"{url}: the server answered HTTP {response.status_code} {response.reason or ''}"
                                 .rstrip())
            if is_page:
                link = _confirmation_link(_page_text(response))
                if link is None:
                    raise FetchError(f"{url}: answered with a web page, not the file (the link may have moved)")
                url = link
                continue
            have, total = _resume_point(response, part, have, meta.get("total"))
            if total is None and whole is None:
                raise FetchError(f"{url}: the server did not say how large the file is, so a connection closed "
                                 "early could not be told from a complete file")
            _check_free(dest.parent, (total - have) if total is not None else 0)
            if have == 0:
                _write_meta(part, {"source": source, "total": total, "etag": response.headers.get("ETag"),
                                   "modified": response.headers.get("Last-Modified")})
            _stream(response, part, have, total, dest.name, url, progress, cancel)
        size = part.stat().st_size
        if total is not None and size != total:
            raise _Retry(f"the connection closed at {size} of {total} bytes")
        if total is None and not whole(part):
            _discard(part)  # without an announced length there is nothing to resume from
            raise _Retry(f"the file ended at {size} bytes and is not whole")
        _complete(part, dest)
        return
    raise FetchError(f"{url}: too many confirmation pages")


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _page_text(response: requests.Response) -> str:
    return response.raw.read(MAX_PAGE_BYTES, decode_content=True).decode("utf-8", "replace")


def _resume_point(response: requests.Response, part: Path, have: int,
                  recorded: int | None) -> tuple[int, int | None]:
    """(bytes kept, the whole file's size or None) for this answer: a 206 must continue exactly where the part
    ends, of a file of the size recorded when the part began (a server without validators may have changed the
    file); a 200 starts again from the first byte."""
    if response.status_code == 206:
        m = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        total = int(m.group(3)) if m is not None and m.group(3) != "*" else None
        if m is None or int(m.group(1)) != have or (recorded is not None and total != recorded):
            _discard(part)  # a range we did not ask for, or another file: start again
            raise _Retry("the server resumed at another offset or with another file; starting again")
        return have, total
    if have:
        _discard(part)  # the server ignored the Range request (or the file changed: If-Range): start again
    length = response.headers.get("Content-Length")
    return 0, int(length) if length and length.isdigit() else None


def _finish_416(response: requests.Response, part: Path, dest: Path, meta: dict, have: int) -> None:
    """'Range not satisfiable' for a part that may already hold the whole file: complete only when its size is
    the size announced (now, or when the download started); anything else is discarded and fetched again."""
    m = re.match(r"bytes\s+\*/(\d+)", response.headers.get("Content-Range", ""))
    total = int(m.group(1)) if m else meta.get("total")
    if total is not None and have == total:
        _complete(part, dest)
        return
    _discard(part)
    raise _Retry(f"the partial file ({have} bytes) does not match the file on the server ({total} bytes); "
                 "starting again")


def _stream(response, part: Path, have: int, total: int | None, name: str, url: str,
            progress: ProgressFn | None, cancel: threading.Event | None) -> None:
    start, got = time.monotonic(), 0
    try:
        with open(part, "ab" if have else "wb") as out:
            for chunk in response.iter_content(CHUNK):
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"{name}: cancelled at {have + got} bytes; fetch again to resume")
                out.write(chunk)
                got += len(chunk)
                if progress is not None:
                    speed = got / max(time.monotonic() - start, 1e-6)
                    progress(Progress(name, have + got, total, speed, url))
    except requests.RequestException as exc:
        raise _Retry(f"{_why(exc)} after {have + got} bytes") from exc
    except OSError as exc:
        raise FetchError(f"could not write {part.name}: {exc.strerror or exc}") from exc


def _why(exc: Exception) -> str:
    if isinstance(exc, (requests.ConnectTimeout, requests.ReadTimeout)) or "timed out" in str(exc).lower():
        return "the server stopped answering (timed out)"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect (no network, or the server is down)"
    return str(exc).splitlines()[0]


def _check_free(folder: Path, need: int) -> None:
    free = shutil.disk_usage(folder).free
    if need + FREE_MARGIN > free:
        raise FetchError(f"the download needs {need / 2**20:.0f} MB but {folder} has {free / 2**20:.0f} MB free")


def fetch_official(sources: Sequence[str] = OFFICIAL_ARCHIVE_SOURCES, dest: Path | None = None, *,
                   progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                   log: Callable[[str], None] = print, timeout: tuple[float, float] = TIMEOUT,
                   retries: int | None = None, backoff: float | None = None) -> ImportReport:
    """The official archive from the first source that delivers it whole (every member's CRC checked before
    anything is installed), its sha256 recorded in ``fetched.json`` and printed, then imported by content into
    ``dest``; the archive is removed once its files are installed. FetchError when every source failed (each
    one's reason)."""
    dest = Path(dest or install_dir())
    archive = dest / "smile_official_weights.zip"
    errors = []
    session = requests.Session()
    for url in sources:
        try:
            log(f"fetching the official SMILE archive from {url}")
            download(url, archive, session=session, progress=progress, cancel=cancel, timeout=timeout,
                     retries=retries, backoff=backoff, whole=_is_whole, log=log)
            check_archive_whole(archive)
        except ImportRefused as exc:  # complete but damaged: these bytes cannot be resumed into a good file
            archive.unlink(missing_ok=True)
            errors.append(f"{url}: {exc}")
            log(f"  failed: {exc}")
            continue
        except FetchError as exc:
            errors.append(str(exc))
            log(f"  failed: {exc}")
            continue
        size, digest = archive.stat().st_size, sha256_of(archive)
        log(f"archive complete: {size} bytes, sha256 {digest}")
        try:
            report = import_path(archive, dest)
        except ImportRefused as exc:
            report = None
            errors.append(f"{url}: {exc}")
        archive.unlink(missing_ok=True)
        if report is None or not report.installed:  # not the archive we want: the next source may have it
            if report is not None:
                errors.append(f"{url}: delivered a file (sha256 {digest[:12]}…) that holds no network SMILE "
                              "Studio knows")
            log(f"  failed: {errors[-1]}")
            continue
        _record_fetch(dest, url, size, digest)
        return report
    raise FetchError("no source delivered the archive: " + "; ".join(errors))


def _is_whole(path: Path) -> bool:
    """Whether a file whose length nobody announced ends where an archive ends: a zip's central directory is
    there, a tar's members list to the end; anything else (an empty body, an error text) is not. The members'
    CRCs are checked once, after the download (:func:`check_archive_whole`)."""
    try:
        kind = archive_kind(path)
        if kind == "zip":
            with zipfile.ZipFile(path) as zf:
                zf.infolist()
        elif kind == "tar":
            with tarfile.open(path) as tf:
                tf.getmembers()
        return kind is not None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error):
        return False


def _record_fetch(dest: Path, url: str, size: int, digest: str) -> None:
    """Append the archive's source, size and sha256 to ``fetched.json`` (what a user compares with a published
    hash, or with a colleague's copy)."""
    from ..core.imageio import atomic_write_bytes

    record = dest / FETCH_RECORD
    try:
        entries = json.loads(record.read_text())
    except (OSError, ValueError):
        entries = []
    entries = (entries if isinstance(entries, list) else []) + [
        {"source": url, "bytes": size, "sha256": digest, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]
    try:
        atomic_write_bytes(record, json.dumps(entries, indent=1).encode())
    except OSError as exc:
        raise FetchError(f"could not write {record}: {exc.strerror or exc}") from exc


FACE_ALIGNMENT_KEYS = ("s3fd", "fan68")
EVALUATION_KEYS = ("alexnet", "inception")  # published on their own; the LPIPS heads, AttNet, HopeNet are official
ENHANCE_DEFAULT = ("enhance_general",)  # `weights fetch --enhance` alone: the fast one (5 MB)


def fetch_face_alignment(dest: Path | None = None, **kw) -> list[Path]:
    """face-alignment's detector and landmark files from the URLs that package uses, into our own hub folder."""
    return fetch_published(FACE_ALIGNMENT_KEYS, dest, **kw)


def fetch_published(keys: tuple[str, ...], dest: Path | None = None, *, progress: ProgressFn | None = None,
                    cancel: threading.Event | None = None, log: Callable[[str], None] = print,
                    timeout: tuple[float, float] = TIMEOUT, base_url: str | None = None,
                    digests: Mapping[str, str] | None = None) -> list[Path]:
    """Files published on their own (``keys`` of the registry) from their URLs (or ``base_url`` + the file
    name, a mirror); each checked against its published sha256 (or the hash its name carries) and the network it
    must hold, and removed when either differs. ``digests``: {key: sha256} in place of the published ones (files
    of one's own, served from one's own mirror)."""
    from ..nets.checkpoint import CheckpointError
    from .verify import check_file

    dest = Path(dest or install_dir())
    out = []
    for c in CHECKPOINTS:
        if c.key not in keys or c.url is None:
            continue
        url = f"{base_url.rstrip('/')}/{c.filename}" if base_url else c.url
        final = dest / c.subdir / c.filename
        if final.is_file():
            out.append(final)
            continue
        log(f"fetching {c.filename} from {url}")
        download(url, final, progress=progress, cancel=cancel, timeout=timeout, log=log)
        digest, wanted = sha256_of(final), (digests or {}).get(c.key, c.sha256)
        try:
            if wanted is not None and digest != wanted:
                raise CheckpointError(f"{c.filename}: sha256 {digest[:16]}… is not the published file's "
                                      f"({wanted[:16]}…): a damaged or different file, removed")
            check_file(c, final, digest)
        except CheckpointError as exc:
            final.unlink(missing_ok=True)
            raise FetchError(str(exc)) from exc
        log(f"  {c.filename}: {final.stat().st_size} bytes, sha256 {digest}; {c.licence}")
        out.append(final)
    return out
