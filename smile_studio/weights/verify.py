"""Is a file the network it is named for? A structure check (weights-only load, then every key and shape against
our network class) and a lock file of the sha256 of verified files, so that later changes are reported."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .locations import display_path, install_dir
from .registry import CHECKPOINT_BY_KEY, CHECKPOINTS, SMILE_KEYS, Checkpoint, checkpoint_path, expected

LOCK = "weights.lock.json"


@dataclass(frozen=True)
class FileState:
    key: str
    path: Path | None  # None: not found
    state: str  # "missing", "verified", "unverified", "changed", "unusable"
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.state in ("verified", "unverified", "changed")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_file(c: Checkpoint, path: Path, sha256: str | None = None) -> None:
    """CheckpointError naming the file and the first problem unless ``path`` holds ``c``'s network (and, for a
    file whose name carries its hash, that hash; ``sha256``: the file's, when the caller has it already)."""
    from ..nets.checkpoint import CheckpointError, check_signature, extract_state_dict, read_checkpoint

    sd = extract_state_dict(read_checkpoint(path, path.name), c.container, path.name)
    check_signature(expected(c.key), sd, path.name, c.ignore_extra, c.network)
    if c.sha256_prefix and not (sha256 or sha256_of(path)).startswith(c.sha256_prefix):
        raise CheckpointError(f"{path.name}: its sha256 does not start with {c.sha256_prefix} (a damaged download)")


def read_lock(folder: Path | None = None) -> dict:
    try:
        data = json.loads(((folder or install_dir()) / LOCK).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_lock(lock: dict, folder: Path) -> None:
    from ..core.imageio import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / LOCK, json.dumps(lock, indent=1, sort_keys=True).encode())


def _signature(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def state_of(c: Checkpoint, lock: dict | None = None) -> FileState:
    """What is known of ``c``'s file: from the lock file when it is unchanged since verified, else from a
    structure check now."""
    from ..nets.checkpoint import CheckpointError

    path = checkpoint_path(c.key)
    if not path.is_file():
        return FileState(c.key, None, "missing")
    entry = (lock if lock is not None else read_lock()).get(str(path))
    if entry:
        if entry.get("signature") == _signature(path):
            return FileState(c.key, path, "verified", entry.get("sha256", "")[:12])
        return FileState(c.key, path, "changed", "changed since it was verified: run `smile-studio weights verify`")
    try:
        check_file(c, path)
    except CheckpointError as exc:
        return FileState(c.key, path, "unusable", str(exc))
    return FileState(c.key, path, "unverified")


def verify_all() -> list[FileState]:
    """Structure-check every file found, record the sha256 of those that pass (each file hashed once), report
    changes since last time."""
    from ..nets.checkpoint import CheckpointError

    lock = read_lock()
    states = []
    for c in CHECKPOINTS:
        path = checkpoint_path(c.key)
        if not path.is_file():
            states.append(FileState(c.key, None, "missing"))
            continue
        key, sha = str(path), sha256_of(path)
        try:
            check_file(c, path, sha)
        except CheckpointError as exc:
            lock.pop(key, None)
            states.append(FileState(c.key, path, "unusable", str(exc)))
            continue
        before = lock.get(key, {}).get("sha256")
        detail = "" if before in (None, sha) else f"changed since last verified (was {before[:12]})"
        lock[key] = {"key": c.key, "sha256": sha, "signature": _signature(path)}
        states.append(FileState(c.key, path, "verified", detail or sha[:12]))
    _write_lock(lock, install_dir())
    return states


def smile_ready(states: list[FileState] | None = None) -> bool:
    """Whether the SMILE engines can run: every file they need is present and holds the right network."""
    by_key = {s.key: s for s in (states or [state_of(CHECKPOINT_BY_KEY[k]) for k in SMILE_KEYS])}
    return all(by_key[k].usable for k in SMILE_KEYS)


def file_status(c: Checkpoint) -> str:
    st = state_of(c)
    return st.state + (f": {st.detail}" if st.detail else "")


def weights_report() -> list[str]:
    """Lines for ``smile-studio info``."""
    lines = [f"weights folder: {display_path(install_dir())}"]
    for c in CHECKPOINTS:
        lines.append(f"  {c.filename:<70} {file_status(c)}")
    return lines
