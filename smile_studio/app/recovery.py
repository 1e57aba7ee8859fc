"""Autosave and crash recovery (Qt-free): each running app keeps ``session-<pid>.smile`` beside a lock file
naming its process; autosaves whose process is gone are offered for recovery at the next start."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.document import Document
from ..core.project import ProjectError, save_project


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Autosaver:
    def __init__(self, folder: Path, pid: int | None = None):
        self.folder = Path(folder)
        self.pid = pid or os.getpid()
        self.path = self.folder / f"session-{self.pid}.smile"
        self.lock = self.folder / f"session-{self.pid}.lock"
        self.saved_version: int | None = None

    def save(self, doc: Document) -> bool:
        """Write the document if it changed since the last autosave; False when nothing needed writing.
        Raises ProjectError (the previous autosave intact) when the disk refuses."""
        if doc.version == self.saved_version:
            return False
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.lock.write_text(str(self.pid))
        except OSError as exc:
            raise ProjectError(f"autosave folder {self.folder} is not writable ({exc.strerror or exc})") from exc
        save_project(doc, self.path)
        self.saved_version = doc.version
        return True

    def clear(self) -> None:
        for p in (self.path, self.lock):
            try:
                p.unlink()
            except FileNotFoundError:
                pass


def orphaned_autosaves(folder: Path) -> list[Path]:
    """Autosaves left by processes that no longer run (newest first)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.glob("session-*.smile"):
        try:
            pid = int(p.stem.split("-", 1)[1])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            found.append(p)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def discard(path: Path) -> None:
    for p in (path, path.with_suffix(".lock")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
