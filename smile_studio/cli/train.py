"""``smile-studio train sem|syn DATA RUN``: train SMILE_SEM or SMILE_SYN on a prepared folder, on one process or
under ``torchrun`` (one process per GPU, or several CPU processes with gloo). ``--resume`` continues RUN exactly
from its newest checkpoint, with the settings recorded in RUN/config.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import CliError

# settings a resumed run may change: the schedule's end and the machine, never the recipe
RESUMABLE = ("iterations", "workers", "device", "checkpoint_every", "sample_every", "log_every", "keep")
OPTIONS = (  # flag, type, help
    ("size", int, "image and map side: 256 or 512 (released); 64 or 128 for experiments"),
    ("width", float, "fraction of the released channel widths (default 1)"),
    ("batch", int, "samples per process per accumulation step (default 4)"),
    ("accumulate", int, "gradient accumulation steps per optimiser step (default 1)"),
    ("iterations", int, "optimiser steps in all (default 420000)"),
    ("lr", float, "learning rate (SEM 1e-4; SYN 2e-3)"),
    ("precision", str, "fp32 (default), bf16 or fp16 autocast"),
    ("seed", int, "random seed (default 0)"),
    ("checkpoint_every", int, "steps between checkpoints (default 5000)"),
    ("sample_every", int, "steps between sample grids (default 1000)"),
    ("log_every", int, "steps between logged scalars (default 10)"),
    ("keep", int, "checkpoints kept, newest first (default 3)"),
    ("workers", int, "data-loading processes per training process (default 2)"),
    ("fan", str, "SEM heatmaps: auto (installed wing.ckpt), none, or a file"),
    ("lpips", str, "SYN perceptual loss: auto (installed AlexNet + LPIPS heads) or none"),
    ("device", str, "auto (default), cpu or cuda"),
)


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("network", choices=("sem", "syn"), help="which network to train")
    p.add_argument("data", nargs="?", help="a folder made by 'smile-studio data prepare' (not needed with --resume)")
    p.add_argument("run", help="the run folder: config.json, checkpoints/, samples/, scalars.jsonl, tensorboard/")
    p.add_argument("--resume", action="store_true", help="continue RUN from its newest checkpoint")
    for name, kind, text in OPTIONS:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=text)
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="any other setting of the recipe (e.g. lambda_ds=10); see docs/training.md")


def _given(args: argparse.Namespace) -> dict:
    values = {name: getattr(args, name) for name, _, _ in OPTIONS if getattr(args, name) is not None}
    for item in args.set:
        name, sep, text = item.partition("=")
        if not sep:
            raise CliError(f"--set {item!r}: expected NAME=VALUE")
        values[name.strip()] = _number(text.strip())
    return values


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run_train(args: argparse.Namespace) -> int:
    from ..training.config import TrainConfig
    from ..training.loop import CONFIG, train

    run = Path(args.run)
    given = _given(args)
    try:
        if args.resume:
            if not (run / CONFIG).is_file():
                raise CliError(f"{run}: nothing to resume (no {CONFIG}); start the run without --resume")
            config = TrainConfig.read(run / CONFIG)
            fixed = sorted(k for k in given if k not in RESUMABLE and given[k] != getattr(config, k, None))
            if fixed:
                raise CliError(f"a resumed run keeps its recipe; {', '.join(fixed)} cannot change "
                               f"(only {', '.join(RESUMABLE)} can)")
            if config.network != args.network:
                raise CliError(f"{run} trains {config.network}, not {args.network}")
            config = config.replace(**given)
        else:
            if not args.data:
                raise CliError("the prepared data folder is needed (smile-studio train sem DATA RUN)")
            config = TrainConfig.for_network(args.network, args.data, **given)
        result = train(config, run, resume=args.resume)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    for note in result.notes if result.main else ():
        print(f"note: {note}")
    if result.interrupted:  # every rank exits 3: a scheduler sees the whole job as pre-empted, not failed
        if result.main:
            print(f"stopped at step {result.end_step}; checkpoint saved. Continue with: smile-studio train "
                  f"{args.network} {run} --resume")
        return 3
    if not result.main:
        return 0
    if result.complete:
        print(f"{run} is complete: step {result.end_step} of {config.iterations}; nothing to train (raise "
              "--iterations to continue it)")
        return 0
    if result.digests:
        print(f"step {result.end_step}: checkpoint in {run / 'checkpoints'} "
              f"({len(result.digests)} replica(s) identical: {result.digests[0][:12]})")
    return 0
