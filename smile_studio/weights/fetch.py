"""Downloading weights from their published sources, only when asked (``smile-studio weights fetch`` or the
Weights dialog): sources tried in order, resume with HTTP Range after an interruption, connect and read timeouts
(a stalled server never hangs the app), a free-disk check first, cancellation between chunks, progress with size,
speed and ETA. Google Drive answers large files with a confirmation page; gdown's parser of that page finds the
real download link. The official archive is then imported by content (:mod:`.archive`)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from .archive import ImportReport, import_path
from .locations import install_dir
from .registry import CHECKPOINTS, OFFICIAL_ARCHIVE_SOURCES

CHUNK = 1 << 20
TIMEOUT = (10.0, 30.0)  # connect, read (seconds without a byte)
FREE_MARGIN = 64 * 2**20
MAX_PAGE_BYTES = 2 * 2**20  # a confirmation page is small; a larger HTML answer is not one


class FetchError(Exception):
    """A download failed; str(error) says which source and why. A partial file is kept for resuming."""


class Cancelled(Exception):
    """The user cancelled; the partial file is kept, and the next fetch resumes it."""


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


def download(url: str, dest: Path, *, session: requests.Session | None = None, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None, timeout: tuple[float, float] = TIMEOUT) -> Path:
    """``url`` into ``dest`` (written as ``dest.part`` first, renamed when complete; an existing ``.part`` is
    resumed with an HTTP Range request). FetchError / Cancelled otherwise."""
    session = session or requests.Session()
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(4):  # the file itself, or at most three confirmation pages before it
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            response = session.get(url, stream=True, timeout=timeout, headers=headers, allow_redirects=True)
        except requests.RequestException as exc:
            raise FetchError(f"{url}: {_why(exc)}") from exc
        with response:
            if response.status_code == 416 and have:  # the part is already complete
                part.replace(dest)
                return dest
            if response.status_code not in (200, 206):
                raise FetchError(f"{url}: the server answered HTTP {response.status_code} {response.reason or ''}"
                                 .rstrip())
            if response.headers.get("Content-Type", "").startswith("text/html"):
                page = response.raw.read(MAX_PAGE_BYTES, decode_content=True).decode("utf-8", "replace")
                link = _confirmation_link(page)
                if link is None:
                    raise FetchError(f"{url}: answered with a web page, not the file (the link may have moved)")
                url = link
                continue
            if response.status_code == 200 and have:
                part.unlink()  # the server ignored the Range request: start again
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else None
            _check_free(dest.parent, (total - have) if total is not None else 0)
            _stream(response, part, have, total, dest.name, url, progress, cancel)
        if total is not None and part.stat().st_size != total:
            raise FetchError(f"{url}: the connection closed at {part.stat().st_size} of {total} bytes; fetch "
                             "again to resume")
        part.replace(dest)
        return dest
    raise FetchError(f"{url}: too many confirmation pages")


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
        raise FetchError(f"{url}: {_why(exc)} after {have + got} bytes; fetch again to resume") from exc
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
                   log: Callable[[str], None] = print, timeout: tuple[float, float] = TIMEOUT) -> ImportReport:
    """The official archive from the first source that delivers it, imported by content into ``dest``; the
    archive is removed once its files are installed. FetchError when every source failed (each one's reason)."""
    dest = Path(dest or install_dir())
    archive = dest / "smile_official_weights.zip"
    errors = []
    session = requests.Session()
    for url in sources:
        try:
            log(f"fetching the official SMILE archive from {url}")
            download(url, archive, session=session, progress=progress, cancel=cancel, timeout=timeout)
        except FetchError as exc:
            errors.append(str(exc))
            log(f"  failed: {exc}")
            continue
        report = import_path(archive, dest)
        archive.unlink(missing_ok=True)
        return report
    raise FetchError("no source delivered the archive: " + "; ".join(errors))


FACE_ALIGNMENT_KEYS = ("s3fd", "fan68")
EVALUATION_KEYS = ("alexnet", "inception")  # published on their own; the LPIPS heads, AttNet, HopeNet are official


def fetch_face_alignment(dest: Path | None = None, **kw) -> list[Path]:
    """face-alignment's detector and landmark files from the URLs that package uses, into our own hub folder."""
    return fetch_published(FACE_ALIGNMENT_KEYS, dest, **kw)


def fetch_published(keys: tuple[str, ...], dest: Path | None = None, *, progress: ProgressFn | None = None,
                    cancel: threading.Event | None = None, log: Callable[[str], None] = print,
                    timeout: tuple[float, float] = TIMEOUT, base_url: str | None = None) -> list[Path]:
    """Files published on their own (``keys`` of the registry) from their URLs (or ``base_url`` + the file
    name); each checked against the hash its name carries and the network it must hold."""
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
        download(url, final, progress=progress, cancel=cancel, timeout=timeout)
        try:
            check_file(c, final)
        except CheckpointError as exc:
            final.unlink(missing_ok=True)
            raise FetchError(str(exc)) from exc
        out.append(final)
    return out
