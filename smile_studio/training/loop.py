"""The training loop both recipes share: data in step order, per-step random seeds, logging, samples,
checkpoints, exact resume and the replica check, on one process or many (``torchrun``).

Pre-emption: SIGTERM (a scheduler, ``kill``, torchrun forwarding its own) or SIGINT (Ctrl+C) on any rank sets a
flag; after every step the ranks agree on it (one all-reduce), so all of them finish the same step, rank 0 saves
it, and all return ``interrupted`` (the command exits 3). torchrun waits 30 s for its workers after forwarding a
signal: a step and a checkpoint must fit in that. In one process a second Ctrl+C (2 s or more after the first)
stops at once; a repeated SIGTERM never does."""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..core.imageio import atomic_write_bytes, encode_png
from . import checkpoints
from .config import TrainConfig
from .dataset import PreparedData, StepBatches, has_split
from .distributed import Place, any_rank, replica_digests, start, stop
from .recipe import Recipe
from .sem import SemRecipe
from .syn import SynRecipe

CONFIG = "config.json"
LOSSES_KEPT = 1000  # the newest steps' losses kept in memory (every logged step is in scalars.jsonl)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
ESCALATE_AFTER = 2.0  # seconds between two Ctrl+C for the second to stop at once (one process)


def step_seed(seed: int, step: int, rank: int) -> int:
    """Every random draw of a step (latent codes, target labels, noise) comes from this seed: a resumed run
    repeats the interrupted one exactly, and ranks draw differently."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{step}:{rank}".encode()).digest()[:8], "little") >> 1


@dataclass
class RunResult:
    run: Path
    start_step: int
    end_step: int
    losses: deque = field(default_factory=lambda: deque(maxlen=LOSSES_KEPT))  # the newest steps' losses
    digests: list[str] = field(default_factory=list)  # the last checkpoint's per-rank replica digests
    interrupted: bool = False
    main: bool = True  # rank 0 (the one that reports)
    notes: list[str] = field(default_factory=list)  # what a resume changed (machine, exactness)
    complete: bool = False  # the run had already reached its last step: nothing was trained


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
        self.file.write(json.dumps({"step": step, **{k: float(v) for k, v in values.items()}}) + "\n")
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
        # only the training images: the held-out ones are what `eval` edits (all of them in older folders)
        data = PreparedData(config.data, config.size, "train" if has_split(config.data) else None)
        torch.manual_seed(config.seed)  # initial weights: the same on every rank (DDP also broadcasts rank 0's)
        recipe = (SemRecipe if config.network == "sem" else SynRecipe)(config, place, data.labels)
        first, notes = 0, []
        folder = checkpoints.latest(run)
        if resume and folder is not None:
            state = checkpoints.read_state(folder)
            notes = resume_notes(state.get("machine"), machine_of(config, place))
            recipe.load(folder)
            recipe.load_optimizer_state(state)
            first = int(state["step"])
        elif folder is not None:
            raise ValueError(f"{run} already holds checkpoints: resume it, or train into another folder")
        if first >= config.iterations:
            return RunResult(run, first, first, main=place.main, notes=notes, complete=True)
        if place.main:
            run.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(run / CONFIG, config.to_json().encode())
        result = _loop(config, run, place, data, recipe, first, show_progress)
        result.notes = notes
        return result
    finally:
        stop()


def machine_of(config: TrainConfig, place: Place) -> dict:
    """What a run's numbers depend on besides its recipe: the number of processes (the global batch and which
    samples each rank draws), the device kind and the precision (the kernels and their rounding)."""
    return {"world_size": place.world, "device": place.device.type, "precision": config.precision,
            "torch": str(torch.__version__)}


def resume_notes(saved: dict | None, now: dict) -> list[str]:
    """Refuse a resume whose number of processes differs (another global batch and data split: another run);
    for another device kind or PyTorch, say that the continuation is no longer bit-identical to an
    uninterrupted run. Checkpoints from before this record resume with a note."""
    if saved is None:
        return ["the checkpoint does not record its machine (an older run): exactness of the resume unchecked"]
    if saved.get("world_size") != now["world_size"]:
        raise ValueError(f"the run was trained by {saved.get('world_size')} process(es) and is resumed by "
                         f"{now['world_size']}: the global batch and each process's samples would change. Resume "
                         f"it with torchrun --nproc_per_node {saved.get('world_size')} (per node)")
    notes = []
    for key, what in (("device", "device"), ("precision", "precision"), ("torch", "PyTorch")):
        if saved.get(key) != now[key]:
            notes.append(f"trained with {what} {saved.get(key)}, resumed with {now[key]}: the numbers from here "
                         "on are not bit-identical to an uninterrupted run (other kernels and rounding)")
    return notes


def _loop(config: TrainConfig, run: Path, place: Place, data: PreparedData, recipe: Recipe, first: int,
          show_progress: bool) -> RunResult:
    from tqdm import tqdm

    batches = StepBatches(data, recipe.cycling, config.seed, config.batch, config.accumulate, place.rank,
                          place.world, first, config.iterations)
    loader = DataLoader(data, batch_sampler=batches, num_workers=config.workers)
    log = _Log(run) if place.main else None
    bar = tqdm(total=config.iterations, initial=first, unit="step", disable=not (place.main and show_progress))
    interrupted = {"flag": False}
    previous = _catch_stop(interrupted, place)
    result = RunResult(run, first, first, main=place.main)
    machine = machine_of(config, place)
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
            stopping = any_rank(interrupted["flag"], place)
            if done % config.checkpoint_every == 0 or done == config.iterations or stopping:
                result.digests = _checkpoint(run, done, recipe, place, config.keep, machine)
            if stopping:
                result.interrupted = True
                break
    finally:
        bar.close()
        if log is not None:
            log.close()
        # a rank of a stopping torchrun job ignores further signals: torchrun sends SIGTERM to the ranks still
        # running as soon as one has exited 3, which must not turn their exit 3 into a kill. SIG_IGN, not a Python
        # handler: the interpreter puts its own handlers back to the default while it shuts down, and a SIGTERM
        # then killed the rank. Otherwise (one process, a library caller, a run that ended normally) the previous
        # handlers come back.
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_IGN if result.interrupted and place.world > 1 else handler)
    return result


def _checkpoint(run: Path, step: int, recipe: Recipe, place: Place, keep: int, machine: dict) -> list[str]:
    """Every rank's replica digest is compared first: ranks that drifted apart are an error, not a checkpoint."""
    digests = replica_digests(recipe.replicas(), place)
    if len(set(digests)) > 1:
        raise RuntimeError(f"step {step}: the ranks' networks differ ({digests}); not saving a checkpoint")
    if place.main:
        state = {"step": step, "replica_digests": digests, "machine": machine, **recipe.optimizer_state()}
        checkpoints.save(run, step, {**recipe.exports(), checkpoints.STATE: state}, keep)
    return digests


def _to(batch, device: torch.device):
    return [t.to(device, non_blocking=True) for t in batch]


def _catch_stop(flag: dict, place: Place) -> dict:
    """SIGTERM and SIGINT set ``flag``: the current step finishes and is checkpointed. In a single process a
    second Ctrl+C at least ESCALATE_AFTER seconds after the first stops at once; a repeated SIGTERM never does
    (a scheduler's SIGTERM often reaches a rank twice: directly and forwarded by torchrun). Returns the handlers
    it replaced (none off the main thread, where Python cannot install any)."""
    def handler(signum, frame):
        now = time.monotonic()
        first = flag.get("at")
        if (first is not None and signum == signal.SIGINT and place.world == 1
                and now - first >= ESCALATE_AFTER):
            raise KeyboardInterrupt
        flag["flag"] = True
        flag.setdefault("at", now)

    previous = {}
    for signum in STOP_SIGNALS:
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread
            break
    return previous
