"""A tiny prepared training set (64x64) built from the shared sample photos and their maps."""

from __future__ import annotations

import json

import cv2
import pytest

from smile_studio.core.imageio import encode_png, read_image
from smile_studio.core.labelio import encode_indexed_png, read_label_map

TINY = {"size": 64, "width": 1 / 16, "batch": 2, "workers": 0, "fan": "none", "lpips": "none", "log_every": 1,
        "sample_every": 5}


@pytest.fixture(scope="session")
def prepared64(samples_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared64")
    (out / "images").mkdir()
    (out / "maps").mkdir()
    states = {}
    for i, photo in enumerate(sorted(samples_dir.glob("*.jpg"))):
        if not photo.with_suffix(".png").is_file():
            continue
        rgb = cv2.resize(read_image(photo), (64, 64), interpolation=cv2.INTER_AREA)
        labels = cv2.resize(read_label_map(photo.with_suffix(".png")).labels, (64, 64),
                            interpolation=cv2.INTER_NEAREST)
        (out / "images" / f"{photo.stem}.png").write_bytes(encode_png(rgb))
        (out / "maps" / f"{photo.stem}.png").write_bytes(encode_indexed_png(labels))
        states[photo.stem] = {"gender": "male" if i % 2 else "female", "eyeglasses": "on" if i % 3 == 0 else "off",
                              "bald": "off", "bangs": "on" if i % 4 == 1 else "off", "earrings": "off",
                              "hat": "on" if i == 2 else "off"}
    assert len(states) >= 6
    (out / "attributes.json").write_text(json.dumps({"size": 64, "attributes": states}))
    return out
