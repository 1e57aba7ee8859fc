"""``smile-studio edit``: real files in, real files out; every bad input is one line and exit code 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

from smile_studio.cli import main
from smile_studio.core.imageio import read_image
from smile_studio.core.labelio import read_label_map
from smile_studio.core.labels import CLASS_BY_KEY as K


def test_edit_photo_with_map_writes_render_map_and_settings(samples_dir, tmp_path, capsys):
    out, mp, js = tmp_path / "out.png", tmp_path / "map.png", tmp_path / "s.json"
    ref = samples_dir / "maskgan_1.jpg"
    code = main(["edit", str(samples_dir / "maskgan_0.jpg"), "--set", "eyeglasses=on,hat=on", "--seed", "3",
                 "--style", f"hair=ref:{ref},skin=seed:7", "--out", str(out), "--map-out", str(mp),
                 "--json-out", str(js)])
    text = capsys.readouterr().out
    assert code == 0 and "engine: offline" in text
    img = read_image(out)
    labels = read_label_map(mp).labels
    assert img.shape == (256, 256, 3) and labels.shape == (256, 256)
    assert (labels == K["eye_g"].id).sum() > 50 and (labels == K["hat"].id).sum() > 500
    settings = json.loads(js.read_text())
    assert settings["attributes_after"]["eyeglasses"] == "on" and settings["styles"]["skin"]["seed"] == 7
    assert settings["styles"]["hair"]["kind"] == "reference" and "not SMILE" in settings["render_engine"]
    again = tmp_path / "again.png"
    main(["edit", str(samples_dir / "maskgan_0.jpg"), "--set", "eyeglasses=on,hat=on", "--seed", "3",
          "--style", f"hair=ref:{ref},skin=seed:7", "--out", str(again)])
    assert np.array_equal(read_image(again), img)  # reproducible from its settings


def test_edit_label_map_only(samples_dir, tmp_path):
    out = tmp_path / "m.png"
    assert main(["edit", str(samples_dir / "cdiff_27007_mask.png"), "--set", "bangs=on", "--out", str(out),
                 "--map-out", str(tmp_path / "mm.png")]) == 0
    assert read_image(out).std() > 5


@pytest.mark.parametrize("args,message", [
    (["--set", "eyeglasses=maybe"], "eyeglasses must be on or off"),
    (["--set", "moustache=on"], "unknown attribute"),
    (["--style", "hair=ref:/nonexistent.jpg"], "no such file"),
    (["--engine", "smile"], "needs the official weights"),
    (["--psi", "5"], "--psi"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(samples_dir, tmp_path, capsys, args, message):
    out = tmp_path / "x.png"
    code = main(["edit", str(samples_dir / "maskgan_0.jpg"), *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_corrupt_input_and_missing_folder(tmp_path, samples_dir):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    res = subprocess.run([sys.executable, "-m", "smile_studio", "edit", str(bad), "--out", str(tmp_path / "o.png")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "bad.jpg" in res.stderr and "Traceback" not in res.stderr
    code = main(["edit", str(samples_dir / "maskgan_0.jpg"), "--out", str(tmp_path / "nodir" / "o.png")])
    assert code == 2 and not (tmp_path / "nodir").exists()


def test_batch_applies_one_recipe_to_a_folder(samples_dir, tmp_path, capsys):
    import shutil

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    for name in ("maskgan_0.jpg", "maskgan_0.png", "maskgan_1.jpg", "maskgan_1.png", "cdiff_27007_mask.png"):
        shutil.copy(samples_dir / name, src / name)
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    code = main(["batch", str(src), "--set", "eyeglasses=on", "--seed", "2", "--out-dir", str(out)])
    text = capsys.readouterr().out
    assert code == 1  # one input failed; the others were still edited
    assert "FAIL  broken.jpg" in text and "3 of 4 faces edited, 1 failed" in text
    assert sorted(p.name for p in out.iterdir()) == [
        "cdiff_27007_mask.png", "cdiff_27007_mask_map.png", "maskgan_0.png", "maskgan_0_map.png", "maskgan_1.png",
        "maskgan_1_map.png"]
    for stem in ("maskgan_0", "maskgan_1", "cdiff_27007_mask"):
        assert (read_label_map(out / f"{stem}_map.png").labels == K["eye_g"].id).sum() > 30
    (src / "broken.jpg").unlink()
    assert main(["batch", str(src), "--set", "hat=on", "--out-dir", str(out)]) == 0
    assert main(["batch", str(tmp_path / "nope"), "--out-dir", str(out)]) == 2
