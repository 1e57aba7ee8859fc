"""What training and evaluation read: a folder written by ``smile-studio data prepare`` (``images/``, ``maps/``,
``attributes.json``, ``split.json``), one of its splits, and the order samples are drawn in.

Every sample is addressed by its global number n (step, accumulation slot, rank, position in the batch), and the
image it draws is a pure function of (seed, n). Resuming at a step therefore draws exactly what the interrupted
run would have drawn, with no sampler state to save, and ranks draw disjoint strided slices as
``DistributedSampler`` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..core.imageio import read_image
from ..core.labelio import read_label_map
from ..core.labels import DOMAINS, label_vector

SPLIT = "split.json"  # which prepared images train and which are held out (written by data prepare / split)
SPLITS = ("train", "test")


def read_split(root: Path) -> dict:
    """``split.json`` of a prepared folder: {"method", "seed", "train": [ids], "test": [ids]}."""
    path = Path(root) / SPLIT
    if not path.is_file():
        raise ValueError(f"{root}: no split.json (which images are held out); add one with 'smile-studio data "
                         f"split {root}' or prepare the folder again")
    try:
        split = json.loads(path.read_text())
        if not all(isinstance(split[k], list) for k in SPLITS) or set(split["train"]) & set(split["test"]):
            raise ValueError("train and test must be disjoint lists of ids")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a split ({exc})") from exc
    return split


def has_split(root: str | Path) -> bool:
    return (Path(root) / SPLIT).is_file()


class PreparedData(Dataset):
    """(rgb (3, S, S) in [-1, 1], labels (S, S) int64, y (12,) two-hot) per prepared image."""

    def __init__(self, root: str | Path, size: int, split: str | None = None):
        """``split``: "train" or "test" (the ids ``split.json`` lists; an error without one), or None for every
        image (a folder prepared before splits existed, or a look at all of it)."""
        self.root, self.size, self.split = Path(root), size, split
        index = self.root / "attributes.json"
        if not index.is_file():
            raise ValueError(f"{self.root}: no attributes.json; make the folder with 'smile-studio data prepare'")
        try:
            states = json.loads(index.read_text())["attributes"]
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{index}: not a prepared-data index ({exc})") from exc
        wanted = set(states) if split is None else set(read_split(self.root)[split])
        self.ids = sorted(k for k in states if k in wanted and (self.root / "images" / f"{k}.png").is_file()
                          and (self.root / "maps" / f"{k}.png").is_file())
        if not self.ids:
            raise ValueError(f"{self.root}: no prepared images{f' in its {split} split' if split else ''} "
                             "(images/<id>.png with maps/<id>.png)")
        self.labels = np.stack([label_vector(states[k]) for k in self.ids])  # (N, 12)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        key = self.ids[i]
        rgb = read_image(self.root / "images" / f"{key}.png")
        labels = read_label_map(self.root / "maps" / f"{key}.png").labels
        if rgb.shape[0] != self.size:
            rgb = cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA)
        if labels.shape[0] != self.size:
            labels = cv2.resize(labels, (self.size, self.size), interpolation=cv2.INTER_NEAREST)
        x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float() / 127.5 - 1
        return x, torch.from_numpy(labels.astype(np.int64)), torch.from_numpy(self.labels[i])


def cycling_index(labels: np.ndarray, seed: int, n: int) -> int:
    """The official multi-label sampler (``class_choice='cycle'``): sample n takes label column n mod 12 and a
    random image that has it (columns nobody has are passed over), so rare values are drawn as often as common
    ones."""
    rng = np.random.default_rng([seed, n])
    for k in range(len(DOMAINS)):
        members = np.flatnonzero(labels[:, (n + k) % len(DOMAINS)] > 0.5)
        if len(members):
            return int(rng.choice(members))
    raise ValueError("no image has any label")


def shuffled_index(count: int, seed: int, n: int) -> int:
    """Epoch-wise shuffling: sample n is position n mod count of epoch n // count's permutation."""
    perm = np.random.default_rng([seed, n // count]).permutation(count)
    return int(perm[n % count])


class StepBatches:
    """Batch sampler from ``start`` step on: this rank's batches, ``accumulate`` per step (for DataLoader)."""

    def __init__(self, data: PreparedData, cycling: bool, seed: int, batch: int, accumulate: int, rank: int,
                 world: int, start: int, stop: int):
        self.data, self.cycling, self.seed = data, cycling, seed
        self.batch, self.accumulate, self.rank, self.world = batch, accumulate, rank, world
        self.start, self.stop = start, stop

    def __len__(self) -> int:
        return (self.stop - self.start) * self.accumulate

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.stop):
            for slot in range(self.accumulate):
                first = ((step * self.accumulate + slot) * self.world + self.rank) * self.batch
                yield [self.index(first + b) for b in range(self.batch)]

    def index(self, n: int) -> int:
        if self.cycling:
            return cycling_index(self.data.labels, self.seed, n)
        return shuffled_index(len(self.data), self.seed, n)
