"""Settings shared by the window's parts: working size, title, file filters, and the settings file (in the
folders of :mod:`..core.places`). Settings an earlier version kept in the data folder
(``SMILE Studio/SMILE Studio/settings.ini``) are carried over once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import platformdirs

from ..core.imageio import IMAGE_SUFFIXES
from ..core.places import config_dir, data_dir

__all__ = ["config_dir", "data_dir", "settings_file"]

WORK_SIZE = 256
TITLE = "SMILE Studio"
THUMB = 72  # side of a variation thumbnail
IMAGE_GLOBS = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
IMAGE_FILTER = f"Images ({IMAGE_GLOBS})"


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
