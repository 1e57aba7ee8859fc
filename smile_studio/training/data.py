"""``smile-studio data prepare``: the public CelebAMask-HQ layout (or any folder of photos) turned into what
training reads, validated, with a report of everything missing or inconsistent.

CelebAMask-HQ layout: ``CelebA-HQ-img/<id>.jpg``; ``CelebAMask-HQ-mask-anno/<id // 2000>/<id:05d>_<part>.png``
(one binary mask per part, 512x512); ``CelebAMask-HQ-attribute-anno.txt`` (a count, the 40 CelebA flag names,
then ``<id>.jpg`` and 40 values of -1/1). Parts are painted in our class order (skin first, cloth last), a later
part over an earlier one, as the dataset's own mask script does.

Output: ``images/<id>.png`` (size x size RGB), ``maps/<id>.png`` (indexed, our 19 classes), ``attributes.json``
(the six SMILE attributes per image) and ``report.json`` (what was skipped and why).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..core.imageio import ImageReadError, atomic_write_bytes, encode_png, read_image
from ..core.labelio import encode_indexed_png
from ..core.labels import CLASSES

IMAGES, MASKS, ATTRS = "CelebA-HQ-img", "CelebAMask-HQ-mask-anno", "CelebAMask-HQ-attribute-anno.txt"
PARTS = [c.key for c in CLASSES[1:]]  # skin ... cloth, painted in this order


@dataclass
class PrepareReport:
    written: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)  # image id -> why it was skipped
    notes: dict[str, str] = field(default_factory=dict)  # image id -> something fixed on the way

    def summary(self) -> str:
        return (f"{len(self.written)} images prepared, {len(self.problems)} skipped"
                + (f", {len(self.notes)} with notes" if self.notes else ""))


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
    labels, found = None, 0
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
        found += 1
    if labels is None:
        return None
    return cv2.resize(labels, (size, size), interpolation=cv2.INTER_NEAREST)


def prepare_celebamask(src: Path, out: Path, size: int = 256,
                       progress: Callable[[int, int], None] | None = None) -> PrepareReport:
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
    return report


def prepare_photos(src: Path, out: Path, size: int = 256,
                   progress: Callable[[int, int], None] | None = None) -> PrepareReport:
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
    return report


def _write_index(out: Path, states: dict, report: PrepareReport, size: int) -> None:
    atomic_write_bytes(out / "attributes.json", json.dumps({"size": size, "attributes": states}, indent=1,
                                                           sort_keys=True).encode())
    atomic_write_bytes(out / "report.json", json.dumps({"prepared": len(report.written), "skipped": report.problems,
                                                        "notes": report.notes}, indent=1, sort_keys=True).encode())
