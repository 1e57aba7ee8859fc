"""Settings shared by the window's parts: working size, title, file filters, and where settings and autosaves
live (``$SMILE_STUDIO_CONFIG_DIR``, else the platform's per-user application data folder)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from ..core.imageio import IMAGE_SUFFIXES

WORK_SIZE = 256
TITLE = "SMILE Studio"
THUMB = 72  # side of a variation thumbnail
IMAGE_GLOBS = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
IMAGE_FILTER = f"Images ({IMAGE_GLOBS})"


def config_dir() -> Path:
    env = os.environ.get("SMILE_STUDIO_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or
                Path.home() / ".smile-studio")
