"""``edit --enhance`` and ``batch --enhance``: a Real-ESRGAN network (here one with seeded weights, in the published
file layout) upsamples the render before it goes back into the photo; the settings JSON records it; without the
file the command says how to install it and writes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from smile_studio.cli import main
from smile_studio.core.imageio import read_image
from smile_studio.engines.enhance import shared_enhancer
from smile_studio.weights.registry import CHECKPOINT_BY_KEY


@pytest.fixture
def weights(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(folder))
    shared_enhancer.cache_clear()
    yield folder
    shared_enhancer.cache_clear()


def _install_general(folder) -> None:
    torch.manual_seed(0)
    net = CHECKPOINT_BY_KEY["enhance_general"].builder()
    with torch.no_grad():  # a network that visibly changes what it upsamples (a trained one sharpens instead)
        net.body[-1].bias.add_(0.3)
    torch.save({"params": net.state_dict()}, folder / "realesr-general-x4v3.pth")


def test_edit_with_enhance_changes_only_the_edited_region_and_records_the_network(weights, samples_dir, tmp_path,
                                                                                   capsys):
    photo_path = samples_dir / "maskgan_0.jpg"
    plain, enhanced, js = tmp_path / "plain.png", tmp_path / "enh.png", tmp_path / "s.json"
    args = ["edit", str(photo_path), "--engine", "offline", "--set", "eyeglasses=on", "--seed", "2"]
    assert main([*args, "--enhance", "enhance_general", "--out", str(enhanced)]) == 2
    assert "weights fetch --enhance enhance_general" in capsys.readouterr().err and not enhanced.exists()
    _install_general(weights)
    assert main([*args, "--out", str(plain)]) == 0
    assert main([*args, "--enhance", "enhance_general", "--out", str(enhanced), "--json-out", str(js)]) == 0
    photo, a, b = read_image(photo_path), read_image(plain), read_image(enhanced)
    differs = (a != b).any(-1)
    edited = (a != photo).any(-1) | (b != photo).any(-1)
    assert differs.sum() > 1000  # the glasses were drawn from the upsampled render
    assert not (differs & ~edited).any() and np.array_equal(b[~edited], photo[~edited])
    settings = json.loads(js.read_text())
    assert settings["enhance"] == {"key": "enhance_general", "network": "Real-ESRGAN general x4 v3 (compact)",
                                   "file": "realesr-general-x4v3.pth", "scale": 4,
                                   "licence": CHECKPOINT_BY_KEY["enhance_general"].licence}
    crop = tmp_path / "crop.png"  # the aligned render alone: nothing to enhance, nothing recorded
    assert main([*args, "--enhance", "enhance_general", "--crop", "--out", str(crop), "--json-out", str(js)]) == 0
    assert json.loads(js.read_text())["enhance"] is None


def test_a_recipe_file_carries_enhance_and_an_unknown_key_is_refused(weights, samples_dir, tmp_path, capsys):
    _install_general(weights)
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"set": {"hat": "on"}, "engine": "offline", "enhance": "enhance_general"}))
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jpg").write_bytes((samples_dir / "maskgan_0.jpg").read_bytes())
    assert main(["batch", str(recipe), str(src), str(tmp_path / "out")]) == 0
    assert read_image(tmp_path / "out" / "a.png").shape == read_image(src / "a.jpg").shape
    recipe.write_text(json.dumps({"set": {"hat": "on"}, "enhance": "enhance_x16"}))
    assert main(["batch", str(recipe), str(src), str(tmp_path / "out2")]) == 2
    assert "enhance_x16" in capsys.readouterr().err and not (tmp_path / "out2").exists()
