"""The training loop both recipes share: data in step order, per-step random seeds, logging, samples,
checkpoints, exact resume and the replica check, on one process or many (``torchrun``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..core.imageio import atomic_write_bytes, encode_png
from . import checkpoints
from .config import TrainConfig
from .dataset import PreparedData, StepBatches
from .distributed import Place, replica_digests, start, stop

CONFIG = "config.json"


def step_seed(seed: int, step: int, rank: int) -> int:
    """Every random draw of a step (latent codes, target labels, noise) comes from this seed: a resumed run
    repeats the interrupted one exactly, and ranks draw differently."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{step}:{rank}".encode()).digest()[:8], "little") >> 1


class Recipe:
    """One network's training step. Subclasses build ``trained`` (name -> module, DDP-wrapped where several
    processes run), ``optimizers`` and implement :meth:`step`, :meth:`exports`, :meth:`load` and :meth:`samples`."""

    cycling = False  # the multi-label cycling sampler (SEM) instead of epoch shuffling
    trained: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def __init__(self, config: TrainConfig, place: Place):
        self.config, self.place, self.device = config, place, place.device
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.precision)
        self._autocast_dtype = dtype
        self.scalers = {}

    def autocast(self):
        if self._autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self._autocast_dtype)

    def scaler(self, name: str) -> torch.amp.GradScaler:
        """fp16 needs loss scaling (bf16 and fp32 do not: the scaler is then a no-op)."""
        if name not in self.scalers:
            self.scalers[name] = torch.amp.GradScaler(self.device.type, enabled=self.config.precision == "fp16")
        return self.scalers[name]

    def accumulate(self, micro: list, loss_of, modules: list[nn.Module], optimizers: list, scaler_name: str
                   ) -> dict[str, float]:
        """Backward over the micro-batches (gradients synchronised across ranks only on the last), then one
        optimiser step each; returns the losses averaged over the micro-batches."""
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        scaler = self.scaler(scaler_name)
        totals: dict[str, float] = {}
        for k, batch in enumerate(micro):
            last = k == len(micro) - 1
            with contextlib.ExitStack() as stack:
                if not last:
                    for m in modules:
                        if hasattr(m, "no_sync"):
                            stack.enter_context(m.no_sync())
                loss, parts = loss_of(batch)
                scaler.scale(loss / len(micro)).backward()
            for name, value in parts.items():
                totals[name] = totals.get(name, 0.0) + float(value) / len(micro)
        for opt in optimizers:
            scaler.step(opt)
        scaler.update()
        return totals

    def optimizer_state(self) -> dict:
        state = {f"optim_{k}": o.state_dict() for k, o in self.optimizers.items()}
        state.update({f"scaler_{k}": s.state_dict() for k, s in self.scalers.items()})
        return state

    def load_optimizer_state(self, state: dict) -> None:
        for k, o in self.optimizers.items():
            o.load_state_dict(state[f"optim_{k}"])
        for key, value in state.items():
            if key.startswith("scaler_"):
                self.scaler(key[len("scaler_"):]).load_state_dict(value)

    def replicas(self) -> dict[str, nn.Module]:
        """What must be bit-identical on every rank and after an exact resume: trained networks and EMA copies."""
        raise NotImplementedError

    def step(self, micro: list, step: int) -> dict[str, float]:
        raise NotImplementedError

    def exports(self) -> dict[str, object]:
        """The networks in their official file layouts (name -> object for torch.save)."""
        raise NotImplementedError

    def load(self, folder: Path) -> None:
        """Networks (trained and EMA) from a checkpoint folder written by :meth:`exports`."""
        raise NotImplementedError

    def samples(self, batch) -> np.ndarray:
        """An RGB grid showing what the networks do now."""
        raise NotImplementedError


@dataclass
class RunResult:
    run: Path
    start_step: int
    end_step: int
    losses: list[dict]  # per step, rank 0
    digests: list[str]  # the last checkpoint's per-rank replica digests
    interrupted: bool = False
    main: bool = True  # rank 0 (the one that reports)


class _Log:
    """scalars.jsonl always; TensorBoard scalars and images too when ``tensorboard`` is installed."""

    def __init__(self, run: Path):
        self.run = run
        (run / "samples").mkdir(parents=True, exist_ok=True)
        self.file = (run / "scalars.jsonl").open("a")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.board = SummaryWriter(str(run / "tensorboard"))
        except ImportError:
            self.board = None

    def scalars(self, step: int, values: dict[str, float]) -> None:
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        self.file.flush()
        if self.board is not None:
            for k, v in values.items():
                self.board.add_scalar(k, v, step)

    def image(self, step: int, grid: np.ndarray) -> None:
        atomic_write_bytes(self.run / "samples" / f"step_{step:07d}.png", encode_png(grid))
        if self.board is not None:
            self.board.add_image("samples", grid, step, dataformats="HWC")

    def close(self) -> None:
        self.file.close()
        if self.board is not None:
            self.board.close()


def train(config: TrainConfig, run: Path, resume: bool = False, show_progress: bool = True) -> RunResult:
    """Train ``config`` into the folder ``run`` (its config.json, checkpoints/, samples/, scalars.jsonl)."""
    from .sem import SemRecipe
    from .syn import SynRecipe

    place = start(config.device)
    try:
        data = PreparedData(config.data, config.size)
        torch.manual_seed(config.seed)  # initial weights: the same on every rank (DDP also broadcasts rank 0's)
        recipe = (SemRecipe if config.network == "sem" else SynRecipe)(config, place, data.labels)
        first = 0
        folder = checkpoints.latest(run)
        if resume and folder is not None:
            state = checkpoints.read_state(folder)
            recipe.load(folder)
            recipe.load_optimizer_state(state)
            first = int(state["step"])
        elif folder is not None:
            raise ValueError(f"{run} already holds checkpoints: resume it, or train into another folder")
        if place.main:
            run.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(run / CONFIG, config.to_json().encode())
        return _loop(config, run, place, data, recipe, first, show_progress)
    finally:
        stop()


def _loop(config: TrainConfig, run: Path, place: Place, data: PreparedData, recipe: Recipe, first: int,
          show_progress: bool) -> RunResult:
    from tqdm import tqdm

    batches = StepBatches(data, recipe.cycling, config.seed, config.batch, config.accumulate, place.rank,
                          place.world, first, config.iterations)
    loader = DataLoader(data, batch_sampler=batches, num_workers=config.workers)
    log = _Log(run) if place.main else None
    bar = tqdm(total=config.iterations, initial=first, unit="step", disable=not (place.main and show_progress))
    interrupted = {"flag": False}
    previous = _catch_stop(interrupted) if place.world == 1 else None
    result = RunResult(run, first, first, [], [], main=place.main)
    it = iter(loader)
    try:
        for step in range(first, config.iterations):
            micro = [_to(b, place.device) for b in (next(it) for _ in range(config.accumulate))]
            torch.manual_seed(step_seed(config.seed, step, place.rank))
            t0 = time.perf_counter()
            losses = recipe.step(micro, step)
            losses["seconds"] = time.perf_counter() - t0
            done = result.end_step = step + 1
            result.losses.append(losses)
            bar.update(1)
            if log is not None and (done % config.log_every == 0 or done == config.iterations):
                log.scalars(done, losses)
            if log is not None and done % config.sample_every == 0:
                log.image(done, recipe.samples(micro[0]))
            stopping = interrupted["flag"]
            if done % config.checkpoint_every == 0 or done == config.iterations or stopping:
                result.digests = _checkpoint(run, done, recipe, place, config.keep)
            if stopping:
                result.interrupted = True
                break
    finally:
        bar.close()
        if log is not None:
            log.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return result


def _checkpoint(run: Path, step: int, recipe: Recipe, place: Place, keep: int) -> list[str]:
    """Every rank's replica digest is compared first: ranks that drifted apart are an error, not a checkpoint."""
    digests = replica_digests(recipe.replicas(), place)
    if len(set(digests)) > 1:
        raise RuntimeError(f"step {step}: the ranks' networks differ ({digests}); not saving a checkpoint")
    if place.main:
        state = {"step": step, "replica_digests": digests, **recipe.optimizer_state()}
        checkpoints.save(run, step, {**recipe.exports(), checkpoints.STATE: state}, keep)
    return digests


def _to(batch, device: torch.device):
    return [t.to(device, non_blocking=True) for t in batch]


def _catch_stop(flag: dict):
    """SIGTERM (a scheduler's pre-emption, ``kill``) finishes the current step and checkpoints it."""
    def handler(signum, frame):
        flag["flag"] = True

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None
