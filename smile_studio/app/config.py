"""Settings shared by the window's parts: working size, title, file filters, and where settings and autosaves
live. Settings go to the platform's per-user configuration folder (``~/.config/smile-studio`` on Linux), autosaves
and pasted references to its data folder; ``$SMILE_STUDIO_CONFIG_DIR`` puts both under one folder (tests, portable
installs). Settings an earlier version kept in the data folder (``SMILE Studio/SMILE Studio/settings.ini``) are
carried over once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import platformdirs

from ..core.imageio import IMAGE_SUFFIXES

WORK_SIZE = 256
TITLE = "SMILE Studio"
THUMB = 72  # side of a variation thumbnail
IMAGE_GLOBS = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
IMAGE_FILTER = f"Images ({IMAGE_GLOBS})"
APP_DIR_NAME = "smile-studio"


def config_dir() -> Path:
    """Where settings.ini lives."""
    env = os.environ.get("SMILE_STUDIO_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False))


def data_dir() -> Path:
    """Where autosaves and pasted references live."""
    env = os.environ.get("SMILE_STUDIO_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False))


def settings_file() -> Path:
    """config_dir()/settings.ini, carried over from the older doubled data-folder location when only that one
    exists (the recent files and the last folder used are kept)."""
    path = config_dir() / "settings.ini"
    if not path.exists() and not os.environ.get("SMILE_STUDIO_CONFIG_DIR"):
        old = Path(platformdirs.user_data_dir(TITLE, TITLE)) / "settings.ini"
        if old.is_file():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(old, path)
            except OSError:
                pass
    return path
