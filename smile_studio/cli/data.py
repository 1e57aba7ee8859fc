"""``smile-studio data prepare SRC OUT``: training data from the public CelebAMask-HQ layout, or from any folder
of photos (``--photos``; maps from the photo pipeline), with a report of what was skipped and why, and the split
into training and held-out images (``split.json``). ``data split DATA`` (re)writes the split of a prepared
folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import CliError


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", required=True)
    prep = sub.add_parser("prepare", help="CelebAMask-HQ (or a folder of photos) -> images, 19-class maps, "
                                          "attribute labels")
    prep.add_argument("src", help="the CelebAMask-HQ folder (CelebA-HQ-img, CelebAMask-HQ-mask-anno, the "
                                  "attribute list), or a folder of photos with --photos")
    prep.add_argument("out", help="the output folder (created)")
    prep.add_argument("--size", type=int, choices=(64, 128, 256, 512), default=256)
    prep.add_argument("--photos", action="store_true", help="SRC is a folder of any photos")
    split_help = ("held-out images for eval, drawn with --split-seed (default: a tenth; CelebA's official "
                  "partition instead when SRC holds list_eval_partition.txt and CelebA-HQ-to-CelebA-mapping.txt)")
    prep.add_argument("--test", type=int, metavar="N", help=split_help)
    prep.add_argument("--split-seed", type=int, default=0, metavar="S", help="seed of the held-out draw")
    split = sub.add_parser("split", help="write split.json of a prepared folder: which images train, which are "
                                         "held out for eval")
    split.add_argument("data", help="a folder made by 'smile-studio data prepare'")
    split.add_argument("--test", type=int, metavar="N", help="held-out images (default: a tenth)")
    split.add_argument("--split-seed", type=int, default=0, metavar="S", help="seed of the held-out draw")


def run_data(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..training.data import prepare_celebamask, prepare_photos

    if args.data_command == "split":
        return _split(args)

    src, out = Path(args.src), Path(args.out)
    if not src.is_dir():
        raise CliError(f"{src}: not a folder")
    bar = tqdm(unit="image", desc="preparing")

    def progress(n: int, total: int) -> None:
        bar.total = total
        bar.n = n + 1
        bar.refresh()

    try:
        prepare = prepare_photos if args.photos else prepare_celebamask
        report = prepare(src, out, args.size, progress, test=args.test, seed=args.split_seed)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    finally:
        bar.close()
    for key, why in sorted(report.problems.items()):
        print(f"skipped {key}: {why}")
    for key, note in sorted(report.notes.items()):
        print(f"note {key}: {note}")
    print(f"{report.summary()} -> {out} (report.json lists them)")
    return 0 if report.written else 1


def _split(args: argparse.Namespace) -> int:
    from ..training.data import write_split
    from ..training.dataset import SPLIT, PreparedData

    try:
        ids = PreparedData(args.data, 64).ids  # every prepared image (the size only matters when reading)
        split = write_split(Path(args.data), ids, None, args.test, args.split_seed)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    print(f"{len(split['train'])} train, {len(split['test'])} held out ({split['method']}) -> "
          f"{Path(args.data) / SPLIT}")
    return 0
