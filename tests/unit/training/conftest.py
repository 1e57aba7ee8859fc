"""The tiny training configuration (64x64, 1/16 of the widths) the training tests share."""

from __future__ import annotations

TINY = {"size": 64, "width": 1 / 16, "batch": 2, "workers": 0, "fan": "none", "lpips": "none", "log_every": 1,
        "sample_every": 5}
