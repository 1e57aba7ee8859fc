"""A run's checkpoints: ``checkpoints/step_NNNNNNN/`` folders, each complete before it appears (written under a
temporary name, then renamed), the newest named in ``checkpoints/latest``. A folder holds the networks in the
official layouts (what the app and ``verify-golden``-style loading take unchanged) and ``train_state.pth`` with
everything an exact resume needs (optimisers, the networks being trained, the step)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import torch

from ..core.imageio import atomic_write_bytes
from ..nets.checkpoint import read_checkpoint

STATE = "train_state.pth"


def folder_name(step: int) -> str:
    return f"step_{step:07d}"


def save(run: Path, step: int, files: dict[str, object], keep: int) -> Path:
    """Write ``files`` (name -> object for torch.save) as step ``step``'s checkpoint; keep the newest ``keep``."""
    root = run / "checkpoints"
    final = root / folder_name(step)
    staging = root / f".{folder_name(step)}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, obj in files.items():
        buf = io.BytesIO()
        torch.save(obj, buf)
        _write_synced(staging / name, buf.getvalue())
    _sync_folder(staging)  # the files' names are on disk before the folder is renamed into place
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    _sync_folder(root)  # the rename itself survives a power loss
    atomic_write_bytes(root / "latest", final.name.encode())
    _sync_folder(root)
    for old in sorted(p for p in root.glob("step_*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _write_synced(path: Path, data: bytes) -> None:
    """Write and flush to the disk: after a power loss a checkpoint folder is complete or absent, never a
    folder of empty files under a final name."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_folder(folder: Path) -> None:
    """fsync a folder (its entries: names created or renamed in it); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def latest(run: Path) -> Path | None:
    """The newest complete checkpoint folder, or None (a partial one left by a killed run is ignored)."""
    root = run / "checkpoints"
    pointer = root / "latest"
    if pointer.is_file():
        folder = root / pointer.read_text().strip()
        if (folder / STATE).is_file():
            return folder
    found = sorted(p for p in root.glob("step_*") if (p / STATE).is_file())
    return found[-1] if found else None


def read_state(folder: Path) -> dict:
    return dict(read_checkpoint(folder / STATE))
