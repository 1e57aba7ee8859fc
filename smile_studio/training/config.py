"""One run's settings: the recipe's hyper-parameters (official SEM values, our SYN design), the network shape,
the schedule and the machine. Written beside the run's checkpoints as ``config.json``; a resumed run reads it
back, so the same run always trains with the same settings."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

NETWORKS = ("sem", "syn")
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    network: str  # "sem" or "syn"
    data: str  # a folder written by ``smile-studio data prepare``
    size: int = 256
    width: float = 1.0  # fraction of the released channel widths (1 = the released network)
    batch: int = 4  # per process and per accumulation step
    accumulate: int = 1  # gradient accumulation steps per optimiser step
    iterations: int = 420_000  # optimiser steps (SEM: ~60 epochs of the 28k-image split at batch 4)
    lr: float = 1e-4  # G, S and D (SEM); G and D (SYN)
    f_lr: float = 1e-6  # the SEM mapping network
    beta1: float = 0.0
    beta2: float = 0.99
    weight_decay: float = 1e-4  # coupled L2, as the official Adam (SEM)
    ema: float = 0.999
    # SEM losses (SMILE_REFERENCE §4)
    lambda_ds: float = 20.0
    ds_decay_iterations: int = 200_000
    lambda_sty: float = 1.0
    lambda_cyc: float = 1.0
    lambda_r1: float = 1.0
    # SYN losses (docs/training.md)
    lambda_l1: float = 10.0
    lambda_fm: float = 10.0
    lambda_lpips: float = 1.0
    r1_gamma: float = 10.0
    r1_every: int = 16
    mix_prob: float = 0.5
    n_mlp: int = 8
    # machine and schedule
    precision: str = "fp32"
    seed: int = 0
    checkpoint_every: int = 5000
    sample_every: int = 1000
    log_every: int = 10
    keep: int = 3  # checkpoints kept (the newest)
    workers: int = 2
    fan: str = "auto"  # SEM heatmaps: "auto" (the installed wing.ckpt if any), "none", or a file
    lpips: str = "auto"  # SYN perceptual loss: "auto" (installed AlexNet + LPIPS heads if any), "none"
    device: str = "auto"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, not {self.network!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        if self.size not in (64, 128, 256, 512):
            raise ValueError(f"size must be 64, 128, 256 or 512, not {self.size}")
        for name in ("batch", "accumulate", "iterations", "checkpoint_every", "sample_every", "log_every", "keep",
                     "r1_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 < self.width <= 1:
            raise ValueError("width must be in (0, 1]")

    @classmethod
    def for_network(cls, network: str, data: str, **overrides) -> TrainConfig:
        """The recipe's defaults for ``network`` (SYN: StyleGAN2's learning rate, no weight decay), then
        ``overrides`` (unknown names are an error)."""
        base = {"lr": 2e-3, "weight_decay": 0.0} if network == "syn" else {}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(network=network, data=str(data), **{**base, **overrides})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)

    @classmethod
    def read(cls, path: Path) -> TrainConfig:
        try:
            values = json.loads(path.read_text())
            return cls(**values)
        except (OSError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}: not a readable run configuration ({exc})") from exc

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)
