"""Engine selection: SMILE only when its weights load; damaged weights fall back to offline with the reason."""

import pytest

from smile_studio.engines.base import EngineError
from smile_studio.engines.registry import SMILE_KEYS, install_hint, select_engines, smile_available
from smile_studio.weights import checkpoint_path


def test_offline_when_no_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))
    assert not smile_available()
    layout, render, why = select_engines("auto")
    assert layout.name == render.name == "offline" and "not installed" in why
    with pytest.raises(EngineError, match="needs the official weights"):
        select_engines("smile")
    assert str(tmp_path) in install_hint() and "smileSYN_256.pth" in install_hint()
    from pathlib import Path

    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(Path.home() / "w"))
    assert "go to ~/w" in install_hint() and "weights fetch" in install_hint()  # no user name shown


def test_damaged_weights_fall_back_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))
    for key in SMILE_KEYS:
        checkpoint_path(key).write_bytes(b"not a checkpoint")
    assert smile_available()
    layout, render, why = select_engines("auto")
    assert layout.name == "offline" and "could not be loaded" in why and "smileSEM_G_ema.pth" in why
    with pytest.raises(EngineError, match="could not be loaded"):
        select_engines("smile")


def test_installed_official_files_give_the_smile_engines(monkeypatch, tmp_path, golden_dir):
    """Official-layout files (synthetic weights) in the weights folder: SMILE runs; interactive use may preview
    in bf16, headless use is float32 only."""
    import torch

    from smile_studio.nets.golden import synth_state_dict
    from smile_studio.nets.runtime import has_bf16_matrix_units

    m = golden_dir / "manifests"
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))
    monkeypatch.delenv("SMILE_STUDIO_PRECISION", raising=False)
    torch.save({"g_ema": synth_state_dict(m / "syn256_G.json", 1), "args": None}, checkpoint_path("syn256"))
    for key, name in (("sem_G", "G"), ("sem_F", "F"), ("sem_S", "S")):
        torch.save(synth_state_dict(m / f"sem256_{name}.json", 1), checkpoint_path(key))
    torch.save({"state_dict": synth_state_dict(m / "sem256_FAN.json", 1)}, checkpoint_path("fan"))
    layout, render, why = select_engines("auto")
    assert layout.info.official_weights and render.info.official_weights and why.startswith("SMILE")
    assert render.preview_dtype == (torch.bfloat16 if has_bf16_matrix_units() else torch.float32)
    _, headless, _ = select_engines("smile", interactive=False)
    assert headless.preview_dtype == torch.float32 and headless.fast_gen is headless.exact_gen
    assert "previews" not in headless.description


@pytest.mark.parametrize("payload", [None, 7, {1: 2}, {"g_ema": {3: "x"}}, [1, 2], "text"])
def test_checkpoints_holding_the_wrong_python_object_fall_back_and_name_the_file(monkeypatch, tmp_path, capsys,
                                                                                 payload):
    import torch

    from smile_studio.cli import main

    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))
    for key in SMILE_KEYS:
        torch.save(payload, checkpoint_path(key))
    layout, render, why = select_engines("auto")  # never a traceback: the offline engines, with the reason
    assert layout.name == render.name == "offline" and "could not be loaded" in why and ".pth" in why
    with pytest.raises(EngineError, match=r"smile\w+\.pth"):
        select_engines("smile")
    out = tmp_path / "o.png"
    assert main(["edit", "--engine", "smile", "--out", str(out), str(tmp_path / "none.png")]) == 2
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert "smileSEM_G_ema.pth" in text and "unusable" in text and "readable" not in text


def test_damaged_optional_networks_never_block_photo_editing(monkeypatch, tmp_path, samples_dir):
    """A broken face parser or attribute classifier file: photos still open (offline parser, attributes read
    from the map), on every engine choice."""
    from smile_studio.cli import main
    from smile_studio.core.imageio import read_image
    from smile_studio.opening import open_document

    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))
    checkpoint_path("bisenet").write_bytes(b"\x80\x04 damaged")
    checkpoint_path("attnet").write_bytes(b"PK\x03\x04 truncated")
    import shutil

    shutil.copy(samples_dir / "maskgan_1.jpg", tmp_path / "photo.jpg")  # no map beside it: parsed
    doc = open_document(tmp_path / "photo.jpg")
    assert doc.labels.shape == (256, 256) and len(set(doc.labels.ravel().tolist())) > 5
    out = tmp_path / "o.png"
    assert main(["edit", str(tmp_path / "photo.jpg"), "--engine", "offline", "--set", "eyeglasses=on",
                 "--out", str(out)]) == 0
    assert read_image(out).shape[2] == 3 and read_image(out).shape[0] > 256  # at the photo's size
