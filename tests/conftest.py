"""Shared fixtures. Tests that need the golden fixtures or sample photos get them through ``shared_dir``.

``SMILE_SHARED`` points at the shared folder (default: ``../shared`` beside the repository). On a user's fresh
clone it is absent and those tests skip, naming what is missing; under ``CI=true`` a missing folder fails them.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent

# The suite runs without a display: Qt draws offscreen unless the caller chose a platform (QT_QPA_PLATFORM=xcb
# under Xvfb, say). Set before any QApplication exists; child processes the tests start inherit it.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never read or write the user's own weights folder: an empty one unless a test sets its own.
os.environ.setdefault("SMILE_STUDIO_WEIGHTS", tempfile.mkdtemp(prefix="smile-weights-"))


def _shared_root() -> Path:
    return Path(os.environ.get("SMILE_SHARED", REPO.parent / "shared")).resolve()


def _missing(what: str) -> None:
    msg = (f"{what} not found under {_shared_root()} (set SMILE_SHARED to the folder holding golden/ and "
           f"samples/)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg + "; CI must run these tests", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    root = _shared_root()
    if not (root / "golden").is_dir() or not (root / "samples").is_dir():
        _missing("the shared fixtures folder (golden/, samples/)")
    return root


@pytest.fixture(scope="session")
def golden_dir(shared_dir: Path) -> Path:
    return shared_dir / "golden"


@pytest.fixture(scope="session")
def samples_dir(shared_dir: Path) -> Path:
    return shared_dir / "samples"


@pytest.fixture
def face_map() -> np.ndarray:
    """A small synthetic face layout: background, skin oval, two eyes, hair cap, neck."""
    from smile_studio.core.labels import CLASS_BY_KEY as K

    h = w = 128
    yy, xx = np.mgrid[0:h, 0:w]
    lab = np.zeros((h, w), np.uint8)
    lab[(yy > 90) & (abs(xx - 64) < 16)] = K["neck"].id
    lab[((yy - 60) / 44.0) ** 2 + ((xx - 64) / 34.0) ** 2 < 1] = K["skin"].id
    lab[(((yy - 40) / 34.0) ** 2 + ((xx - 64) / 40.0) ** 2 < 1) & (yy < 38)] = K["hair"].id
    lab[((yy - 58) / 4.0) ** 2 + ((xx - 50) / 7.0) ** 2 < 1] = K["r_eye"].id
    lab[((yy - 58) / 4.0) ** 2 + ((xx - 78) / 7.0) ** 2 < 1] = K["l_eye"].id
    return lab


@pytest.fixture(scope="session")
def smile_engines(golden_dir):
    """The SMILE engines on the golden synthetic weights, with the fixture's two faces (map + RGB8 photo).

    ``SMILE_TEST_DEVICE=cuda`` runs them on a GPU (CPU by default, as in CI)."""
    from smile_studio.engines.neural import NeuralLayoutEngine, NeuralRenderEngine
    from smile_studio.nets.golden import synth_state_dict

    m = golden_dir / "manifests"
    sd = {k: synth_state_dict(m / f"sem256_{k}.json", 1) for k in ("G", "F", "S", "FAN")}
    device = os.environ.get("SMILE_TEST_DEVICE", "cpu")
    layout = NeuralLayoutEngine.from_sources(sd["G"], sd["F"], sd["S"], sd["FAN"], device=device)
    render = NeuralRenderEngine.from_source({"g_ema": synth_state_dict(m / "syn256_G.json", 1)}, device=device)
    d = np.load(golden_dir / "syn256_seed1.npz")

    def rgb8(x):
        return ((x[0].transpose(1, 2, 0) + 1) * 127.5).round().astype(np.uint8)

    return layout, render, d["labA"], rgb8(d["rgbA"]), d["labB"], rgb8(d["rgbB"])


@pytest.fixture(scope="session")
def prepared64(samples_dir, tmp_path_factory):
    """A tiny prepared training set (64x64, ``data prepare``'s layout) from the sample photos and their maps."""
    import cv2

    from smile_studio.core.imageio import encode_png, read_image
    from smile_studio.core.labelio import encode_indexed_png, read_label_map

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
    from smile_studio.training.data import write_split

    write_split(out, list(states), test=2, seed=0)  # two held out: eval edits those, training never sees them
    return out
