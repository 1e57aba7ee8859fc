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
    photo = read_image(samples_dir / "maskgan_0.jpg")
    assert img.shape == photo.shape and labels.shape == photo.shape[:2]  # the edit at the photo's size
    assert (labels == K["eye_g"].id).sum() > 200 and (labels == K["hat"].id).sum() > 2000
    settings = json.loads(js.read_text())
    assert settings["attributes"]["eyeglasses"] == "on" and settings["styles"]["skin"]["seed"] == 7
    assert settings["attributes_before"]["eyeglasses"] == "off" and settings["edit"]["seed"] == 3
    assert settings["styles"]["hair"]["kind"] == "reference" and "not SMILE" in settings["engines"]["render"]
    from smile_studio.export import SETTINGS_FORMAT

    assert settings["format"] == SETTINGS_FORMAT and settings["files"] == ["out.png", "map.png"]
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
    code = main(["edit", str(samples_dir / "maskgan_0.jpg"), "--out", str(tmp_path / "new" / "dir" / "o.png")])
    assert code == 0 and (tmp_path / "new" / "dir" / "o.png").is_file()  # folder created


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
    assert code == 3  # partial: one input failed; the others were still edited
    assert "FAIL  broken.jpg" in text and "3 of 4 faces edited, 0 already done, 1 failed" in text
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "cdiff_27007_mask.png", "cdiff_27007_mask_map.png", "maskgan_0.png", "maskgan_0_map.png", "maskgan_1.png",
        "maskgan_1_map.png"]
    for stem in ("maskgan_0", "maskgan_1", "cdiff_27007_mask"):
        assert (read_label_map(out / f"{stem}_map.png").labels == K["eye_g"].id).sum() > 30
    (src / "broken.jpg").unlink()
    assert main(["batch", str(src), "--set", "hat=on", "--out-dir", str(out)]) == 0
    assert main(["batch", str(tmp_path / "nope"), "--out-dir", str(out)]) == 2


@pytest.mark.parametrize("args,message", [
    (["--seed", "-1"], "--seed must be a whole number from 0 to 2147483647"),
    (["--seed", "99999999999"], "--seed must be a whole number"),
    (["--style", "skin=seed:-3"], "seed"),
    (["--style", "earring=seed:3,ear_lobe=seed:1"], "unknown class 'ear_lobe'"),
])
def test_bad_seeds_and_classes_are_one_line_errors(samples_dir, tmp_path, capsys, args, message):
    out = tmp_path / "x.png"
    code = main(["edit", str(samples_dir / "maskgan_0.jpg"), *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_gui_class_names_work_on_the_command_line(samples_dir, tmp_path):
    js = tmp_path / "s.json"
    assert main(["edit", str(samples_dir / "maskgan_0.jpg"), "--style", "Earring=seed:4,Upper lip=seed:5",
                 "--out", str(tmp_path / "o.png"), "--json-out", str(js)]) == 0
    styles = json.loads(js.read_text())["styles"]
    assert styles["ear_r"]["seed"] == 4 and styles["u_lip"]["seed"] == 5


@pytest.mark.parametrize("name,magic", [("x.gif", None), ("x.jpg", b"\xff\xd8"), ("x.webp", b"RIFF"),
                                        ("x.png", b"\x89PNG"), ("x", None)])
def test_output_format_follows_the_extension_or_is_refused(samples_dir, tmp_path, capsys, name, magic):
    out = tmp_path / name
    code = main(["edit", str(samples_dir / "maskgan_0.jpg"), "--crop", "--out", str(out)])
    if magic is None:
        err = capsys.readouterr().err
        assert code == 2 and "cannot write" in err and ".png" in err and not out.exists()
    else:
        assert code == 0 and out.read_bytes().startswith(magic) and read_image(out).shape == (256, 256, 3)


def test_written_files_follow_the_umask(samples_dir, tmp_path):
    import os

    old = os.umask(0o022)
    try:
        assert main(["edit", str(samples_dir / "maskgan_0.jpg"), "--out", str(tmp_path / "o.png")]) == 0
        assert (tmp_path / "o.png").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        assert main(["edit", str(samples_dir / "maskgan_0.jpg"), "--out", str(tmp_path / "p.png")]) == 0
        assert (tmp_path / "p.png").stat().st_mode & 0o777 == 0o600
        (tmp_path / "o.png").chmod(0o664)  # an existing file keeps its mode when replaced
        assert main(["edit", str(samples_dir / "maskgan_0.jpg"), "--out", str(tmp_path / "o.png")]) == 0
        assert (tmp_path / "o.png").stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)


def test_edit_of_a_project_keeps_its_styles(samples_dir, tmp_path):
    from smile_studio.core.document import StyleSource
    from smile_studio.core.project import save_project
    from smile_studio.opening import open_document

    doc = open_document(samples_dir / "maskgan_0.jpg")
    doc.set_style(K["hair"].id, StyleSource("seed", seed=11))
    save_project(doc, tmp_path / "p.smile")
    js = tmp_path / "s.json"
    assert main(["edit", str(tmp_path / "p.smile"), "--style", "skin=seed:3", "--out", str(tmp_path / "o.png"),
                 "--json-out", str(js)]) == 0
    styles = json.loads(js.read_text())["styles"]
    assert styles["hair"] == {"kind": "seed", "seed": 11, "ref": None, "locked": False}
    assert styles["skin"]["seed"] == 3


def test_batch_never_overwrites_inputs_or_its_own_outputs_and_skips_finished_work(samples_dir, tmp_path, capsys):
    import shutil

    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(samples_dir / "maskgan_0.jpg", src / "face.jpg")
    shutil.copy(samples_dir / "maskgan_0.png", src / "face.png")  # its label map
    shutil.copy(samples_dir / "maskgan_1.jpg", src / "face.webp")  # same stem, another photo (no map: parsed)
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    assert main(["batch", str(src), "--set", "eyeglasses=on", "--out-dir", str(src)]) == 2
    assert "output folder is the input folder" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before  # nothing touched
    out = tmp_path / "not" / "yet"
    assert main(["batch", str(src), "--set", "eyeglasses=on", "--out-dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert "face.jpg -> face_jpg.png" in text and "face.webp -> face_webp.png" in text
    renders = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert renders == ["face_jpg.png", "face_jpg_map.png", "face_webp.png", "face_webp_map.png"]
    assert not np.array_equal(read_image(out / "face_jpg.png"), read_image(out / "face_webp.png"))
    stamp = (out / "face_jpg.png").stat().st_mtime_ns
    assert main(["batch", str(src), "--set", "eyeglasses=on", "--out-dir", str(out)]) == 0
    assert "2 already done" in capsys.readouterr().out and (out / "face_jpg.png").stat().st_mtime_ns == stamp
    assert main(["batch", str(src), "--set", "hat=on", "--out-dir", str(out)]) == 0  # another recipe: redone
    assert "0 already done" in capsys.readouterr().out
    assert main(["batch", str(src), "--set", "hat=on", "--out-dir", str(out), "--overwrite"]) == 0
    assert "0 already done" in capsys.readouterr().out


def test_edit_puts_the_edit_back_into_the_photo_and_leaves_the_rest_alone(samples_dir, tmp_path):
    """The photo's own size; far from the face at most 1 % of the pixels change; --crop gives the aligned render."""
    photo = read_image(samples_dir / "maskgan_1.jpg")
    out = tmp_path / "o.png"
    assert main(["edit", str(samples_dir / "maskgan_1.jpg"), "--set", "eyeglasses=on", "--out", str(out)]) == 0
    img = read_image(out)
    assert img.shape == photo.shape
    ref = read_label_map(samples_dir / "maskgan_1.png").labels
    import cv2

    ref = cv2.resize(ref, photo.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    face = np.isin(ref, [K[k].id for k in ("skin", "l_eye", "r_eye", "l_brow", "r_brow", "nose", "eye_g")])
    near = cv2.dilate(face.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
    changed = np.abs(img.astype(int) - photo.astype(int)).max(-1) > 0
    assert changed[near].mean() > 0.01  # the glasses are there
    assert changed[~near].mean() <= 0.01, f"{changed[~near].mean():.4f} of the pixels far from the face changed"
    crop = tmp_path / "c.png"
    assert main(["edit", str(samples_dir / "maskgan_1.jpg"), "--set", "eyeglasses=on", "--crop", "--out",
                 str(crop)]) == 0
    assert read_image(crop).shape == (256, 256, 3)


def test_batch_with_a_recipe_file_in_shards_gives_the_same_outputs_as_one_run(samples_dir, tmp_path, capsys):
    import shutil

    src = tmp_path / "in"
    src.mkdir()
    for name in ("maskgan_0.jpg", "maskgan_0.png", "maskgan_1.jpg", "maskgan_1.png", "e4s_28426.jpg",
                 "e4s_28426.png", "maskgan_2.jpg", "maskgan_2.png", "maskgan_3.jpg", "maskgan_3.png"):
        shutil.copy(samples_dir / name, src / name)
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    recipe = tmp_path / "glasses.json"
    recipe.write_text(json.dumps({"set": {"eyeglasses": "on"}, "seed": 1}))  # the minimal recipe
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main(["batch", str(recipe), str(src), str(whole)]) == 3  # partial: 5 written, 1 reported
    text = capsys.readouterr().out
    assert "FAIL  broken.jpg" in text and "5 of 6 faces edited" in text
    assert len(list(whole.glob("*_map.png"))) == 5
    codes = [main(["batch", str(recipe), str(src), str(parts), "--shard", s]) for s in ("1/2", "2/2")]
    assert sorted(codes) == [0, 3]  # the broken file falls in one shard
    names = sorted(p.name for p in whole.iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in parts.iterdir() if not p.name.startswith("."))
    for n in names:
        assert np.array_equal(read_image(whole / n), read_image(parts / n)), n
    assert main(["batch", str(recipe), str(src), str(whole)]) == 3
    assert "5 already done" in capsys.readouterr().out  # a rerun skips all finished work
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"set": {"eyeglasses": "on"}, "sharpness": 3}))
    assert main(["batch", str(bad), str(src), str(whole)]) == 2
    assert "unknown recipe keys" in capsys.readouterr().err
    assert main(["batch", str(src), str(whole), "--shard", "3/2"]) == 2


def test_a_batch_killed_midway_completes_on_rerun_with_every_output_valid(samples_dir, tmp_path):
    import shutil
    import signal
    import subprocess
    import sys
    import time

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i, stem in enumerate(("maskgan_0", "maskgan_1", "maskgan_2", "maskgan_3", "e4s_28426", "e4s_28063")):
        shutil.copy(samples_dir / f"{stem}.jpg", src / f"face{i}.jpg")  # no maps beside: each one is parsed
    cmd = [sys.executable, "-m", "smile_studio", "batch", str(src), "--set", "eyeglasses=on", "--out-dir", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    while not list(out.glob("*_map.png")) and time.monotonic() - t0 < 120:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # killed between (or during) two faces
    proc.wait(30)
    for p in out.iterdir():  # whatever is there under a final name is a complete image
        if p.suffix == ".png" and not p.name.startswith("."):
            assert read_image(p).ndim == 3
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    renders = sorted(out.glob("face?.png"))
    assert len(renders) == 6 and all(read_image(p).shape[2] == 3 for p in renders)
    assert "already done" in done.stdout


def three_faces_and_a_broken_file(samples_dir, tmp_path):
    import shutil

    src = tmp_path / "in"
    src.mkdir()
    for stem in ("maskgan_0", "maskgan_1", "maskgan_3"):
        for ext in (".jpg", ".png"):
            shutil.copy(samples_dir / f"{stem}{ext}", src / f"{stem}{ext}")
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    return src


def test_batch_with_two_worker_processes_writes_the_same_outputs(samples_dir, tmp_path):
    src = three_faces_and_a_broken_file(samples_dir, tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["batch", str(src), "--set", "hat=on", "--seed", "5", "--out-dir", str(one)]) == 3
    assert main(["batch", str(src), "--set", "hat=on", "--seed", "5", "--out-dir", str(two), "--workers", "2"]) == 3
    # faces grouped by two for the renderer, a broken file in a group: the same outputs, the same report
    three = tmp_path / "three"
    assert main(["batch", str(src), "--set", "hat=on", "--seed", "5", "--out-dir", str(three),
                 "--batch-size", "2"]) == 3
    names = sorted(p.name for p in one.glob("*.png"))
    assert len(names) == 6 and names == sorted(p.name for p in two.glob("*.png"))
    assert names == sorted(p.name for p in three.glob("*.png"))
    for n in names:
        assert np.array_equal(read_image(one / n), read_image(two / n)), n
        assert np.array_equal(read_image(one / n), read_image(three / n)), n
    assert main(["batch", str(src), "--set", "hat=on", "--out-dir", str(three), "--batch-size", "0"]) == 2


def test_batch_renders_groups_of_faces_in_one_pass_on_the_smile_engines(samples_dir, golden_dir, tmp_path,
                                                                        monkeypatch, capsys):
    """With the SMILE engines (synthetic official-layout weights installed), ``--batch-size 3`` renders three
    faces per generator pass: the outputs match one-by-one rendering (within 1 level), a broken file in a group
    is reported and costs nobody else."""

    import torch

    from smile_studio.nets.golden import synth_state_dict
    from smile_studio.weights import checkpoint_path

    m = golden_dir / "manifests"
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path / "w"))
    (tmp_path / "w").mkdir()
    torch.save({"g_ema": synth_state_dict(m / "syn256_G.json", 1)}, checkpoint_path("syn256"))
    for key, name in (("sem_G", "G"), ("sem_F", "F"), ("sem_S", "S")):
        torch.save(synth_state_dict(m / f"sem256_{name}.json", 1), checkpoint_path(key))
    torch.save({"state_dict": synth_state_dict(m / "sem256_FAN.json", 1)}, checkpoint_path("fan"))
    src = three_faces_and_a_broken_file(samples_dir, tmp_path)
    one, grouped = tmp_path / "one", tmp_path / "grouped"
    common = ["--set", "hat=on", "--seed", "5", "--engine", "smile", "--crop"]
    assert main(["batch", str(src), *common, "--out-dir", str(one), "--batch-size", "1"]) == 3
    assert main(["batch", str(src), *common, "--out-dir", str(grouped), "--batch-size", "3"]) == 3
    text = capsys.readouterr().out
    assert "SMILE" in text and text.count("FAIL  broken.jpg") == 2
    names = sorted(p.name for p in one.glob("*.png"))
    assert len(names) == 6 and names == sorted(p.name for p in grouped.glob("*.png"))
    for n in names:
        a, b = read_image(one / n).astype(int), read_image(grouped / n).astype(int)
        assert np.abs(a - b).max() <= 1, n


def test_two_shards_started_together_into_one_folder_edit_every_face_once(samples_dir, tmp_path):
    """Shards of a job array start at the same moment and write one folder: each face is edited exactly once,
    their shared record keeps every entry, and a plain rerun skips them all."""
    import shutil

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(8):
        stem = ("maskgan_0", "maskgan_1", "maskgan_2", "maskgan_3")[i % 4]
        for ext in (".jpg", ".png"):
            shutil.copy(samples_dir / f"{stem}{ext}", src / f"face{i}{ext}")
    cmd = [sys.executable, "-m", "smile_studio", "batch", str(src), "--set", "eyeglasses=on", "--out-dir", str(out)]
    shards = [subprocess.Popen(cmd + ["--shard", f"{k}/2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for k in (1, 2)]
    outputs = [p.communicate(timeout=600) for p in shards]
    assert [p.returncode for p in shards] == [0, 0], outputs
    edited = [line.split()[1] for o, _ in outputs for line in o.splitlines() if line.startswith("ok ")]
    assert sorted(edited) == [f"face{i}.jpg" for i in range(8)]  # every face, each once
    record = json.loads((out / ".smile-batch.json").read_text())
    assert sorted(record) == [f"face{i}.png" for i in range(8)]
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0 and "0 of 8 faces edited, 8 already done" in rerun.stdout, rerun.stdout


def test_a_rerun_for_another_face_of_the_photos_is_not_skipped(samples_dir, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    import shutil

    shutil.copy(samples_dir / "maskgan_0.jpg", src / "a.jpg")
    out = tmp_path / "out"
    assert main(["batch", str(src), "--set", "hat=on", "--out-dir", str(out)]) == 0
    assert main(["batch", str(src), "--set", "hat=on", "--out-dir", str(out)]) == 0
    assert "1 already done" in capsys.readouterr().out
    main(["batch", str(src), "--set", "hat=on", "--out-dir", str(out), "--face", "2"])
    text = capsys.readouterr().out
    assert "skip  a.jpg" not in text and "0 already done" in text  # another face: new work (this photo has one)


@pytest.mark.parametrize("recipe, field", [
    ({"crop": "false"}, "crop"), ({"size": 300}, "size"), ({"seed": "7"}, "seed"), ({"psi": 3}, "psi"),
    ({"set": {"eyeglasses": True}}, "set.eyeglasses"), ({"version": "two"}, "version"),
    ({"engine": "fastest"}, "engine"), ({"styles": ["hair"]}, "styles")])
def test_a_recipe_with_a_wrong_type_is_refused_naming_the_field(samples_dir, tmp_path, capsys, recipe, field):
    src = three_faces_and_a_broken_file(samples_dir, tmp_path)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(recipe))
    assert main(["batch", str(path), str(src), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "r.json" in err and field in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.png"))


def test_explicit_options_override_the_recipe_and_absent_ones_keep_it(samples_dir, tmp_path, capsys):
    """Precedence: an option on the command line beats the recipe, the recipe beats the default; a recipe without
    ``set`` or ``styles`` does not blank what the command line gave."""
    src = tmp_path / "in"
    src.mkdir()
    import shutil

    for ext in (".jpg", ".png"):
        shutil.copy(samples_dir / f"maskgan_0{ext}", src / f"a{ext}")
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"set": {"eyeglasses": "on"}, "seed": 3, "crop": True}))
    flags = tmp_path / "flags"
    assert main(["batch", str(recipe), str(src), str(flags), "--seed", "0", "--size", "512"]) == 0
    plain = tmp_path / "plain"
    assert main(["batch", str(src), "--set", "eyeglasses=on", "--seed", "0", "--size", "512", "--crop",
                 "--out-dir", str(plain)]) == 0
    assert np.array_equal(read_image(flags / "a.png"), read_image(plain / "a.png"))  # seed 0 and 512 won
    assert read_image(flags / "a.png").shape == (512, 512, 3)  # the recipe's crop kept (not overridden)
    only_seed = tmp_path / "seed.json"
    only_seed.write_text(json.dumps({"seed": 0}))
    mixed = tmp_path / "mixed"
    assert main(["batch", str(only_seed), str(src), str(mixed), "--set", "eyeglasses=on", "--size", "512",
                 "--crop"]) == 0
    assert np.array_equal(read_image(mixed / "a.png"), read_image(plain / "a.png"))  # --set not blanked
    uncropped = tmp_path / "uncropped"
    assert main(["batch", str(recipe), str(src), str(uncropped), "--no-crop"]) == 0
    assert read_image(uncropped / "a.png").shape == read_image(src / "a.jpg").shape  # the photo's own size
    usage = subprocess.run([sys.executable, "-m", "smile_studio", "batch", "--help"], capture_output=True,
                           text=True).stdout
    assert "options given here override the recipe file's values" in " ".join(usage.split())
