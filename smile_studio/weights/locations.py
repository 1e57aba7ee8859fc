"""Where weight files live: ``$SMILE_STUDIO_WEIGHTS`` when set (only there), else the per-user data folder
(platformdirs), then ``weights/`` of a source checkout. New files are written to the first of these, never into
an installed package."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "smile-studio"


def install_dir() -> Path:
    """Where fetch and import write: ``$SMILE_STUDIO_WEIGHTS``, else the per-user data folder."""
    env = os.environ.get("SMILE_STUDIO_WEIGHTS")
    if env:
        return Path(env)
    return platformdirs.user_data_path(APP, appauthor=False) / "weights"


def _checkout_dir() -> Path | None:
    """``weights/`` beside the package in a source checkout (not in an installed package or a bundle)."""
    root = Path(__file__).resolve().parents[2]
    folder = root / "weights"
    if (root / "pyproject.toml").is_file() and folder.is_dir() and "site-packages" not in root.parts:
        return folder
    return None


def search_dirs() -> list[Path]:
    """Where files are looked for, in order."""
    if os.environ.get("SMILE_STUDIO_WEIGHTS"):
        return [install_dir()]
    dirs = [install_dir()]
    checkout = _checkout_dir()
    if checkout is not None:
        dirs.append(checkout)
    return dirs


def display_path(path: Path) -> str:
    """A path for people: the home folder written as ~ (shorter, and no user name in screenshots)."""
    try:
        return "~/" + Path(path).resolve().relative_to(Path.home().resolve()).as_posix()
    except ValueError:
        return str(path)
