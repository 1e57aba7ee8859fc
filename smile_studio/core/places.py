"""Where SMILE Studio keeps a user's things: settings (and the server's token) in the platform's per-user
configuration folder (``~/.config/smile-studio`` on Linux), autosaves and pasted references in its data folder;
``$SMILE_STUDIO_CONFIG_DIR`` puts both under one folder (tests, portable installs)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_DIR_NAME = "smile-studio"


def config_dir() -> Path:
    """Where settings.ini and the server's token live."""
    env = os.environ.get("SMILE_STUDIO_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False))


def data_dir() -> Path:
    """Where autosaves and pasted references live."""
    env = os.environ.get("SMILE_STUDIO_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False))
