"""``smile-studio data prepare``: the public CelebAMask-HQ layout (or any folder of photos) turned into what
training reads, validated, with a report of everything missing or inconsistent.

CelebAMask-HQ layout: ``CelebA-HQ-img/<id>.jpg``; ``CelebAMask-HQ-mask-anno/<id // 2000>/<id:05d>_<part>.png``
(one binary mask per part, 512x512); ``CelebAMask-HQ-attribute-anno.txt`` (a count, the 40 CelebA flag names,
then ``<id>.jpg`` and 40 values of -1/1). Parts are painted in our class order (skin first, cloth last), a later
part over an earlier one, as the dataset's own mask script does.

Output: ``images/<id>.png`` (size x size RGB), ``maps/<id>.png`` (indexed, our 19 classes), ``attributes.json``
(the six SMILE attributes per image), ``split.json`` (which images train and which are held out for ``eval``) and
``report.json`` (what was skipped and why).

The split: CelebA's official partition (``list_eval_partition.txt``: 0 train, 1 validation, 2 test) through
CelebAMask-HQ's ``CelebA-HQ-to-CelebA-mapping.txt`` when both are in the source folder (validation and test are
both held out); otherwise a seeded random held-out set of a stated size. Training reads only the training images,
``eval`` edits only the held-out ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..core.imageio import ImageReadError, atomic_write_bytes, encode_png, read_image
from ..core.labelio import encode_indexed_png
from ..core.labels import CLASSES
from .dataset import SPLIT

IMAGES, MASKS, ATTRS = "CelebA-HQ-img", "CelebAMask-HQ-mask-anno", "CelebAMask-HQ-attribute-anno.txt"
HQ_TO_CELEBA, CELEBA_PARTITION = "CelebA-HQ-to-CelebA-mapping.txt", "list_eval_partition.txt"
TEST_FRACTION = 0.1  # the seeded held-out share when no official partition is at hand
PARTS = [c.key for c in CLASSES[1:]]  # skin ... cloth, painted in this order


@dataclass
class PrepareReport:
    written: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)  # image id -> why it was skipped
    notes: dict[str, str] = field(default_factory=dict)  # image id -> something fixed on the way
    split: dict = field(default_factory=dict)  # what split.json says

    def summary(self) -> str:
        held = (f"; split: {len(self.split['train'])} train, {len(self.split['test'])} held out "
                f"({self.split['method']})" if self.split else "")
        return (f"{len(self.written)} images prepared, {len(self.problems)} skipped"
                + (f", {len(self.notes)} with notes" if self.notes else "") + held)


def read_attribute_list(path: Path) -> dict[str, dict[str, str]]:
    """``<id>`` -> the six SMILE attributes, from CelebA's 40 flags (Male, Eyeglasses, Bald, Bangs,
    Wearing_Earrings, Wearing_Hat)."""
    lines = path.read_text().splitlines()
    names = lines[1].split()
    need = {"Male": "gender", "Eyeglasses": "eyeglasses", "Bald": "bald", "Bangs": "bangs",
            "Wearing_Earrings": "earrings", "Wearing_Hat": "hat"}
    missing = [n for n in need if n not in names]
    if missing:
        raise ValueError(f"{path.name}: the attribute list lacks {', '.join(missing)}")
    index = {n: names.index(n) for n in need}
    out = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) != len(names) + 1:
            continue
        values = parts[1:]
        state = {}
        for flag, key in need.items():
            on = values[index[flag]] == "1"
            state[key] = ("male" if on else "female") if key == "gender" else ("on" if on else "off")
        out[Path(parts[0]).stem] = state
    return out


def assemble_map(mask_dir: Path, image_id: int, size: int) -> np.ndarray | None:
    """The 19-class map of image ``image_id`` from its part masks (None when it has none at all)."""
    folder = mask_dir / str(image_id // 2000)
    labels = None
    for cid, part in enumerate(PARTS, start=1):
        path = folder / f"{image_id:05d}_{part}.png"
        if not path.is_file():
            continue
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            continue
        if labels is None:
            labels = np.zeros(mask.shape, np.uint8)
        if mask.shape != labels.shape:
            mask = cv2.resize(mask, labels.shape[::-1], interpolation=cv2.INTER_NEAREST)
        labels[mask > 127] = cid
    if labels is None:
        return None
    return cv2.resize(labels, (size, size), interpolation=cv2.INTER_NEAREST)


def prepare_celebamask(src: Path, out: Path, size: int = 256,
                       progress: Callable[[int, int], None] | None = None, test: int | None = None,
                       seed: int = 0) -> PrepareReport:
    """Prepare a CelebAMask-HQ-shaped folder; every image that cannot be used is reported, never fatal."""
    for need in (IMAGES, MASKS, ATTRS):
        if not (src / need).exists():
            raise ValueError(f"{src}: not a CelebAMask-HQ folder (it lacks {need})")
    attrs = read_attribute_list(src / ATTRS)
    images = sorted((src / IMAGES).glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "maps").mkdir(parents=True, exist_ok=True)
    report = PrepareReport()
    states = {}
    for n, path in enumerate(images):
        if progress is not None:
            progress(n, len(images))
        key = path.stem
        if not key.isdigit():
            report.problems[key] = "the file name is not a CelebA-HQ id"
            continue
        if key not in attrs:
            report.problems[key] = "no row in the attribute list"
            continue
        labels = assemble_map(src / MASKS, int(key), size)
        if labels is None:
            report.problems[key] = "no part masks"
            continue
        try:
            rgb = read_image(path)
        except ImageReadError as exc:
            report.problems[key] = f"unreadable image ({exc})"
            continue
        if rgb.shape[0] != rgb.shape[1]:
            report.notes[key] = f"{rgb.shape[1]}x{rgb.shape[0]} is not square: resized"
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        atomic_write_bytes(out / "images" / f"{key}.png", encode_png(rgb))
        atomic_write_bytes(out / "maps" / f"{key}.png", encode_indexed_png(labels))
        states[key] = attrs[key]
        report.written.append(key)
    _write_index(out, states, report, size)
    report.split = write_split(out, report.written, official_partition(src), test, seed)
    return report


def prepare_photos(src: Path, out: Path, size: int = 256,
                   progress: Callable[[int, int], None] | None = None, test: int | None = None,
                   seed: int = 0) -> PrepareReport:
    """Any folder of photos (for SYN): each detected, aligned and parsed by the photo pipeline."""
    from ..opening import document_from_photo

    photos = sorted(p for p in src.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "maps").mkdir(parents=True, exist_ok=True)
    report, states = PrepareReport(), {}
    for n, path in enumerate(photos):
        if progress is not None:
            progress(n, len(photos))
        try:
            doc = document_from_photo(read_image(path), path.name, size)
        except (ValueError, OSError) as exc:
            report.problems[path.stem] = str(exc)
            continue
        atomic_write_bytes(out / "images" / f"{path.stem}.png", encode_png(doc.photo))
        atomic_write_bytes(out / "maps" / f"{path.stem}.png", encode_indexed_png(doc.labels))
        states[path.stem] = dict(doc.attributes)
        report.written.append(path.stem)
    _write_index(out, states, report, size)
    report.split = write_split(out, report.written, None, test, seed)
    return report


def _write_index(out: Path, states: dict, report: PrepareReport, size: int) -> None:
    atomic_write_bytes(out / "attributes.json", json.dumps({"size": size, "attributes": states}, indent=1,
                                                           sort_keys=True).encode())
    atomic_write_bytes(out / "report.json", json.dumps({"prepared": len(report.written), "skipped": report.problems,
                                                        "notes": report.notes}, indent=1, sort_keys=True).encode())


def official_partition(src: Path) -> dict[str, int] | None:
    """CelebA-HQ id -> CelebA's partition (0 train, 1 validation, 2 test) when the source folder holds both
    CelebAMask-HQ's mapping file and CelebA's partition list; None otherwise."""
    mapping, partition = src / HQ_TO_CELEBA, src / CELEBA_PARTITION
    if not (mapping.is_file() and partition.is_file()):
        return None
    part = {}
    for line in partition.read_text().splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit():
            part[fields[0]] = int(fields[1])
    out = {}
    for line in mapping.read_text().splitlines()[1:]:  # idx orig_idx orig_file
        fields = line.split()
        if len(fields) == 3 and fields[0].isdigit() and fields[2] in part:
            out[fields[0]] = part[fields[2]]
    return out or None


def write_split(out: Path, ids: list[str], partition: dict[str, int] | None = None, test: int | None = None,
                seed: int = 0) -> dict:
    """Write ``split.json``: CelebA's official partition when given (every id must be in it), else ``test`` ids
    (default: a tenth, at least one of two or more) drawn with ``seed``. Returns what it wrote."""
    ids = sorted(ids)
    if partition is not None and all(k in partition for k in ids):
        held = [k for k in ids if partition[k] > 0]
        split = {"method": "CelebA official partition (validation and test held out)", "seed": None}
    else:
        count = test if test is not None else (max(1, math.floor(len(ids) * TEST_FRACTION)) if len(ids) > 1 else 0)
        if not 0 <= count < max(len(ids), 1):
            raise ValueError(f"--test {count}: needs fewer held-out images than the {len(ids)} prepared")
        rng = np.random.default_rng(seed)
        held = sorted(rng.choice(ids, size=count, replace=False).tolist()) if count else []
        split = {"method": f"seeded random held-out set of {count}", "seed": seed}
    held_set = set(held)
    split.update(train=[k for k in ids if k not in held_set], test=held)
    atomic_write_bytes(out / SPLIT, json.dumps(split, indent=1).encode())
    return split
