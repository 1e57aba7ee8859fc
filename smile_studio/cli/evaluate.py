"""``smile-studio eval DATA``: the paper's measures on a prepared folder's held-out images (its ``split.json``),
for the installed networks or for a checkpoint (``--syn FILE|FOLDER|RUN``, ``--sem FOLDER|RUN``); a table on
screen, JSON with ``--json``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import CliError


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="a folder made by 'smile-studio data prepare'")
    p.add_argument("--syn", help="SMILE_SYN to evaluate: a .pth, a checkpoint folder or a training run "
                                 "(default: the installed file)")
    p.add_argument("--sem", help="SMILE_SEM to evaluate: a checkpoint folder or a training run (default: installed)")
    p.add_argument("--only", choices=("reconstruction", "edits"), help="run one of the two evaluations")
    p.add_argument("--fakes", type=int, default=10, help="edits per image and target value (official: 10)")
    p.add_argument("--limit", type=int, help="edit the first N held-out images only")
    p.add_argument("--size", type=int, default=256, choices=(64, 128, 256, 512), help="image side to read at")
    p.add_argument("--json", dest="json_out", help="also write the report as JSON to this file")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from ..core.imageio import atomic_write_bytes
    from ..evaluation import networks, protocol
    from ..evaluation.report import to_json
    from ..nets.runtime import pick_device
    from ..training.dataset import PreparedData, read_split

    if args.fakes < 1 or (args.limit is not None and args.limit < 1):
        raise CliError("--fakes and --limit must be at least 1")
    try:
        sources = PreparedData(args.data, args.size, "test")  # held out: never seen in training
        reals = PreparedData(args.data, args.size, "train") if args.only != "reconstruction" else None
        split = read_split(Path(args.data))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    print(f"held-out images: {len(sources)} of {len(split['train']) + len(split['test'])} ({split['method']}); "
          f"FID's real side: the {len(split['train'])} training images")
    device = pick_device(args.device)
    nets = networks.load(args.syn, args.sem, device, want_sem=args.only != "reconstruction")
    sections = []
    with torch.no_grad():
        if args.only in (None, "reconstruction"):
            sections.append(protocol.reconstruction(sources, nets, args.limit))
        if args.only in (None, "edits"):
            sections.append(protocol.attribute_edits(sources, reals, nets, args.fakes, args.limit))
    for s in sections:
        print(s.table())
        print()
    if args.json_out:
        meta = {"data": str(Path(args.data)), "split": split["method"], "split_seed": split.get("seed"),
                "images": min(len(sources), args.limit or len(sources)), "source_ids": sources.ids[:args.limit],
                "real_images": len(split["train"]), "fakes": args.fakes,
                "seeds": "image i: i*fakes ... i*fakes + fakes - 1 (latent codes and random SYN styles)",
                "device": str(device), "syn": args.syn or "installed", "sem": args.sem or "installed"}
        atomic_write_bytes(args.json_out, to_json(sections, meta).encode())
    return 0 if any(s.rows for s in sections) else 1
