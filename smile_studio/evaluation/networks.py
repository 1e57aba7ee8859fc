"""The networks an evaluation uses: the SMILE networks under test (installed, a checkpoint file or folder, or a
training run's newest checkpoint) and the judges (FID's Inception, LPIPS, AttNet, HopeNet, BiSeNet), each loaded
when its file is installed. What is missing is named with the reason, and the measures needing it are skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..nets.checkpoint import CheckpointError
from ..weights import checkpoint_path


@dataclass
class Networks:
    device: torch.device
    syn: nn.Module | None = None
    sem: object | None = None  # engines.sem_edit.SemEditor
    inception: nn.Module | None = None
    lpips: nn.Module | None = None
    attnet: nn.Module | None = None
    hopenet: nn.Module | None = None
    bisenet: str | None = None  # the file (face.pipeline parses with it)
    missing: dict[str, str] = field(default_factory=dict)


def _newest(source: Path) -> Path:
    """A run folder stands for its newest checkpoint folder."""
    from ..training import checkpoints

    if (source / "checkpoints").is_dir():
        folder = checkpoints.latest(source)
        if folder is None:
            raise CheckpointError(f"{source}: a run without a complete checkpoint")
        return folder
    return source


def syn_file(source: str | None) -> Path:
    if source is None:
        return checkpoint_path("syn256")
    path = _newest(Path(source))
    if path.is_dir():
        found = sorted(path.glob("smileSYN_*.pth"))
        if not found:
            raise CheckpointError(f"{path}: holds no smileSYN_<size>.pth")
        return found[0]
    return path


def sem_files(source: str | None) -> tuple[Path, Path, Path]:
    if source is None:
        return checkpoint_path("sem_G"), checkpoint_path("sem_F"), checkpoint_path("sem_S")
    folder = _newest(Path(source))
    return tuple(folder / f"smileSEM_{k}_ema.pth" for k in ("G", "F", "S"))  # type: ignore[return-value]


def load(syn: str | None, sem: str | None, device: torch.device, want_sem: bool) -> Networks:
    from ..nets.attributes import AttNet
    from ..nets.inception import FIDInception
    from ..nets.lpips import LPIPS
    from ..nets.pose import HopeNet
    from ..nets.syn import SynGenerator

    nets = Networks(device)

    def attempt(name: str, build):
        try:
            return build()
        except (CheckpointError, FileNotFoundError, ValueError) as exc:
            nets.missing[name] = str(exc)
            return None

    def installed(key: str, build):
        path = checkpoint_path(key)
        if not path.is_file():
            nets.missing[key] = f"{path.name} not installed"
            return None
        return attempt(key, lambda: build(path))

    def official(cls):
        def build(path):
            net = cls()
            net.load_official(path)
            return net.eval().to(device)
        return build

    nets.syn = attempt("SMILE_SYN", lambda: SynGenerator.from_checkpoint(syn_file(syn)).eval().to(device))
    if want_sem:
        def editor():
            from ..engines.neural import NeuralLayoutEngine

            fan = checkpoint_path("fan")
            return NeuralLayoutEngine.from_sources(*sem_files(sem), fan if fan.is_file() else None,
                                                   device=str(device)).editor
        nets.sem = attempt("SMILE_SEM", editor)
    nets.inception = installed("inception", lambda p: _loaded(FIDInception(), p, device))
    alexnet = installed("alexnet", lambda p: p)
    if alexnet is not None:
        nets.lpips = installed("lpips", lambda p: LPIPS.from_files(alexnet, p).to(device))
    nets.attnet = installed("attnet", official(AttNet))
    nets.hopenet = installed("hopenet", official(HopeNet))
    nets.bisenet = installed("bisenet", str)
    return nets


def _loaded(net: nn.Module, path: Path, device: torch.device) -> nn.Module:
    from ..nets.checkpoint import load_state_dict_strict

    load_state_dict_strict(net, path)
    return net.eval().to(device)
