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


def checkpoint_path(key: str) -> Path:
    return weights_dir() / CHECKPOINT_BY_KEY[key].filename


def installed() -> dict[str, Path]:
    return {c.key: checkpoint_path(c.key) for c in CHECKPOINTS if checkpoint_path(c.key).is_file()}


def weights_report() -> list[str]:
    found = installed()
    lines = [f"weights folder: {weights_dir()}"]
    for c in CHECKPOINTS:
        lines.append(f"  {c.filename:<70} {'found' if c.key in found else 'missing'}")
    return lines
