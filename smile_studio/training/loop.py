"""The training loop both recipes share: data in step order, per-step random seeds, logging, samples,
checkpoints, exact resume and the replica check, on one process or many (``torchrun``)."""

from __future__ import annotations

import hashlib
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..core.imageio import atomic_write_bytes, encode_png
from . import checkpoints
from .config import TrainConfig
from .dataset import PreparedData, StepBatches
from .distributed import Place, replica_digests, start, stop
from .recipe import Recipe
from .sem import SemRecipe
from .syn import SynRecipe

CONFIG = "config.json"


def step_seed(seed: int, step: int, rank: int) -> int:
    """Every random draw of a step (latent codes, target labels, noise) comes from this seed: a resumed run
    repeats the interrupted one exactly, and ranks draw differently."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{step}:{rank}".encode()).digest()[:8], "little") >> 1


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
