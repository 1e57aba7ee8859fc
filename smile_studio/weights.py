"""Registry of the checkpoints SMILE Studio knows: where they live, how to verify them, how to install them.

The official files cannot be downloaded by the app itself on machines without internet; the README explains how
to place them in the weights folder (``$SMILE_STUDIO_WEIGHTS`` or ``weights/`` beside the package).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

OFFICIAL_ZIP_URL = "https://polybox.ethz.ch/index.php/s/yR74R0XFRXAfUiU/download"


@dataclass(frozen=True)
class Checkpoint:
    key: str
    filename: str
    network: str
    container: str | None  # sub-dict holding the state_dict ("g_ema", "state_dict") or None for a plain one


CHECKPOINTS: tuple[Checkpoint, ...] = (
    Checkpoint("syn256", "smileSYN_256.pth", "SMILE_SYN generator 256", "g_ema"),
    Checkpoint("syn512", "smileSYN_512.pth", "SMILE_SYN generator 512", "g_ema"),
    Checkpoint("sem_G", "smileSEM_G_ema.pth", "SMILE_SEM generator", None),
    Checkpoint("sem_F", "smileSEM_F_ema.pth", "SMILE_SEM mapping network", None),
    Checkpoint("sem_S", "smileSEM_S_ema.pth", "SMILE_SEM style encoder", None),
    Checkpoint("fan", "wing.ckpt", "FAN landmark heatmaps", "state_dict"),
    Checkpoint("bisenet", "segmentation_weights.pth", "BiSeNet face parser", None),
    Checkpoint("attnet", "attribute_rgb_male_female_eyeglasses_hair_bangs_earrings_hat.pth",
               "AttNet attribute classifier", "state_dict"),
)
CHECKPOINT_BY_KEY = {c.key: c for c in CHECKPOINTS}


def weights_dir() -> Path:
    env = os.environ.get("SMILE_STUDIO_WEIGHTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "weights"


def display_path(path: Path) -> str:
    """A path for people: the home folder written as ~ (shorter, and no user name in screenshots)."""
    try:
        return "~/" + Path(path).resolve().relative_to(Path.home().resolve()).as_posix()
    except ValueError:
        return str(path)


def checkpoint_path(key: str) -> Path:
    return weights_dir() / CHECKPOINT_BY_KEY[key].filename


def installed() -> dict[str, Path]:
    return {c.key: checkpoint_path(c.key) for c in CHECKPOINTS if checkpoint_path(c.key).is_file()}


def file_status(c: Checkpoint) -> str:
    """'missing', 'readable (N tensors)' or 'unusable: why' — a file with the right name is not yet a checkpoint.
    Reads the file (memory-mapped, weights only); the keys and shapes are checked when a network loads it."""
    path = checkpoint_path(c.key)
    if not path.is_file():
        return "missing"
    from .nets.checkpoint import CheckpointError, extract_state_dict, read_checkpoint

    try:
        sd = extract_state_dict(read_checkpoint(path, path.name), c.container, path.name)
    except CheckpointError as exc:
        return f"unusable: {exc}"
    return f"readable ({len(sd)} tensors)"


def weights_report() -> list[str]:
    lines = [f"weights folder: {weights_dir()}"]
    for c in CHECKPOINTS:
        lines.append(f"  {c.filename:<70} {file_status(c)}")
    return lines
