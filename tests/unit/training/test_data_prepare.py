"""``data prepare`` on a tiny CelebAMask-HQ-shaped folder made here from the samples: maps assembled from part
masks in our class order, the six attributes from the 40 flags, a missing mask and a bad image reported."""

from __future__ import annotations

import json

import cv2
import numpy as np

from smile_studio.cli import main
from smile_studio.core.imageio import read_image
from smile_studio.core.labelio import read_label_map
from smile_studio.core.labels import CLASSES

FLAGS = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
         "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
         "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
         "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
         "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()


def _celebamask(root, samples_dir) -> dict[int, np.ndarray]:
    (root / "CelebA-HQ-img").mkdir(parents=True)
    maps = {}
    rows = []
    for image_id, stem in ((0, "maskgan_0"), (1, "maskgan_1"), (2001, "e4s_28426"), (7, "maskgan_2")):
        rgb = read_image(samples_dir / f"{stem}.jpg")
        cv2.imwrite(str(root / "CelebA-HQ-img" / f"{image_id}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        lab = cv2.resize(read_label_map(samples_dir / f"{stem}.png").labels, (512, 512),
                         interpolation=cv2.INTER_NEAREST)
        maps[image_id] = lab
        folder = root / "CelebAMask-HQ-mask-anno" / str(image_id // 2000)
        folder.mkdir(parents=True, exist_ok=True)
        if image_id != 7:  # image 7 has no part masks at all
            for c in CLASSES[1:]:
                if (lab == c.id).any():
                    cv2.imwrite(str(folder / f"{image_id:05d}_{c.key}.png"), ((lab == c.id) * 255).astype(np.uint8))
        values = ["-1"] * len(FLAGS)
        if image_id == 1:
            values[FLAGS.index("Male")] = values[FLAGS.index("Eyeglasses")] = "1"
        rows.append(f"{image_id}.jpg " + " ".join(values))
    (root / "CelebA-HQ-img" / "3.jpg").write_bytes(b"\xff\xd8 broken")  # a bad image
    rows.append("3.jpg " + " ".join(["-1"] * len(FLAGS)))
    (root / "CelebAMask-HQ-mask-anno" / "0" / "00003_skin.png").write_bytes(
        cv2.imencode(".png", np.full((512, 512), 255, np.uint8))[1].tobytes())
    (root / "CelebAMask-HQ-attribute-anno.txt").write_text(f"{len(rows)}\n{' '.join(FLAGS)}\n" + "\n".join(rows))
    return maps


def test_prepare_celebamask_reports_what_it_skips(samples_dir, tmp_path, capsys):
    src, out = tmp_path / "CelebAMask-HQ", tmp_path / "prepared"
    maps = _celebamask(src, samples_dir)
    assert main(["data", "prepare", str(src), str(out), "--size", "128"]) == 0
    text = capsys.readouterr().out
    assert "skipped 3: unreadable image" in text and "skipped 7: no part masks" in text
    assert "3 images prepared, 2 skipped" in text
    index = json.loads((out / "attributes.json").read_text())
    assert sorted(index["attributes"]) == ["0", "1", "2001"] and index["size"] == 128
    assert index["attributes"]["1"] == {"gender": "male", "eyeglasses": "on", "bald": "off", "bangs": "off",
                                        "earrings": "off", "hat": "off"}
    assert index["attributes"]["0"]["gender"] == "female"
    for image_id in (0, 1, 2001):
        got = read_label_map(out / "maps" / f"{image_id}.png").labels
        want = cv2.resize(maps[image_id], (128, 128), interpolation=cv2.INTER_NEAREST)
        assert got.shape == (128, 128) and (got == want).mean() > 0.99  # the part masks, back in our order
        assert read_image(out / "images" / f"{image_id}.png").shape == (128, 128, 3)
    report = json.loads((out / "report.json").read_text())
    assert set(report["skipped"]) == {"3", "7"}
    assert main(["data", "prepare", str(tmp_path / "nowhere"), str(out)]) == 2
    assert main(["data", "prepare", str(samples_dir), str(out)]) == 2  # not a CelebAMask-HQ folder


def test_prepare_splits_by_celeba_official_partition_when_its_files_are_there(samples_dir, tmp_path, capsys):
    src = tmp_path / "CelebAMask-HQ"
    _celebamask(src, samples_dir)
    # CelebAMask-HQ's mapping (idx orig_idx orig_file) and CelebA's partition (file, 0 train / 1 val / 2 test)
    (src / "CelebA-HQ-to-CelebA-mapping.txt").write_text(
        "idx orig_idx orig_file\n0 119613 119614.jpg\n1 99094 099095.jpg\n2001 200 000201.jpg\n")
    (src / "list_eval_partition.txt").write_text("119614.jpg 0\n099095.jpg 2\n000201.jpg 1\n")
    assert main(["data", "prepare", str(src), str(tmp_path / "out"), "--size", "64"]) == 0
    split = json.loads((tmp_path / "out" / "split.json").read_text())
    assert split["train"] == ["0"] and split["test"] == ["1", "2001"] and "official" in split["method"]
    assert "1 train, 2 held out (CelebA official partition" in capsys.readouterr().out


def test_prepare_without_a_partition_holds_out_a_seeded_set_and_training_never_reads_it(samples_dir, tmp_path):
    from smile_studio.training.dataset import PreparedData

    src = tmp_path / "CelebAMask-HQ"
    _celebamask(src, samples_dir)
    out = tmp_path / "out"
    assert main(["data", "prepare", str(src), str(out), "--size", "64", "--test", "1", "--split-seed", "3"]) == 0
    split = json.loads((out / "split.json").read_text())
    assert len(split["test"]) == 1 and len(split["train"]) == 2 and split["seed"] == 3
    assert sorted(split["train"] + split["test"]) == ["0", "1", "2001"]
    assert PreparedData(out, 64, "train").ids == split["train"]
    assert PreparedData(out, 64, "test").ids == split["test"]
    again = tmp_path / "again"
    assert main(["data", "prepare", str(src), str(again), "--size", "64", "--test", "1", "--split-seed", "3"]) == 0
    assert json.loads((again / "split.json").read_text()) == split  # seeded: the same draw
    (out / "split.json").unlink()
    assert main(["data", "split", str(out), "--test", "2"]) == 0
    assert len(json.loads((out / "split.json").read_text())["test"]) == 2
    assert main(["data", "split", str(out), "--test", "3"]) == 2  # nothing would be left to train on
