"""The weights manager: every file the app can use (:mod:`.registry`), where they live (:mod:`.locations`),
whether they hold the right network (:mod:`.verify`), installing them from an archive or folder
(:mod:`.archive`) or from their published sources (:mod:`.fetch`). Nothing downloads unless asked to."""

from .locations import display_path, install_dir, search_dirs
from .registry import (
    CHECKPOINT_BY_KEY,
    CHECKPOINTS,
    OFFICIAL_ARCHIVE_SOURCES,
    SMILE_KEYS,
    Checkpoint,
    checkpoint_path,
    installed,
    recognise,
)
from .verify import file_status, smile_ready, state_of, verify_all, weights_report

__all__ = ["CHECKPOINTS", "CHECKPOINT_BY_KEY", "OFFICIAL_ARCHIVE_SOURCES", "SMILE_KEYS", "Checkpoint",
           "checkpoint_path", "display_path", "file_status", "install_dir", "installed", "recognise", "search_dirs",
           "smile_ready", "state_of", "verify_all", "weights_report"]
