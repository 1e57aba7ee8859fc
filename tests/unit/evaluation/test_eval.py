"""``smile-studio eval`` on synthetic weights: PSNR and SSIM agree with scikit-image on the same pairs, FID of a
set against itself is ~0 (and not for another set), the report is a table and JSON, and judges whose files are
missing are named and skipped while the rest is still measured."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from smile_studio.cli import main
from smile_studio.core.imageio import read_image
from smile_studio.evaluation import metrics
from smile_studio.nets.inception import FIDInception
from smile_studio.nets.sem import MappingNetwork, SemGenerator, StyleEncoder
from smile_studio.nets.syn import SynGenerator
from smile_studio.weights.registry import CHECKPOINT_BY_KEY

JUDGES = ("inception", "alexnet", "lpips", "attnet", "hopenet", "bisenet")


def photo_pairs(samples_dir, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Real photos and degraded copies of them (JPEG at quality 20, then a slight blur): (N, S, S, 3) in [0, 1]."""
    real, degraded = [], []
    for path in sorted(samples_dir.glob("*.jpg"))[:5]:
        rgb = cv2.resize(read_image(path), (size, size), interpolation=cv2.INTER_AREA)
        jpeg = cv2.imdecode(cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 20])[1], cv2.IMREAD_UNCHANGED)
        real.append(rgb)
        degraded.append(cv2.GaussianBlur(jpeg, (3, 3), 0.8))
    return np.stack(real).astype(np.float32) / 255, np.stack(degraded).astype(np.float32) / 255


def as_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


@pytest.mark.parametrize("size", [64, 256])
def test_psnr_ssim_rmse_agree_with_scikit_image(samples_dir, size):
    a, b = photo_pairs(samples_dir, size)
    ours_psnr = metrics.psnr(as_tensor(a), as_tensor(b)).numpy()
    ours_ssim = metrics.ssim(as_tensor(a), as_tensor(b)).numpy()
    ref_psnr = [peak_signal_noise_ratio(x, y, data_range=1.0) for x, y in zip(a, b, strict=True)]
    ref_ssim = [structural_similarity(x, y, data_range=1.0, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False) for x, y in zip(a, b, strict=True)]
    assert 15 < min(ref_psnr) and max(ref_psnr) < 40  # real, different pairs
    np.testing.assert_allclose(ours_psnr, ref_psnr, atol=1e-3)
    np.testing.assert_allclose(ours_ssim, ref_ssim, atol=1e-4)  # float32 sums; 1e-12 in float64
    rmse = metrics.rmse(as_tensor(a), as_tensor(b)).numpy()
    np.testing.assert_allclose(rmse, np.sqrt((((a - b) * 255) ** 2).mean((1, 2, 3))), rtol=1e-5)


def calibrated_inception(images: torch.Tensor) -> FIDInception:
    """Seeded random weights with batch-norm statistics measured on real photos: features that tell images
    apart (the released file is not downloadable here)."""
    torch.manual_seed(0)
    net = FIDInception()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average
    net.train()
    with torch.no_grad():
        net(images)
    return net.eval()


def test_fid_of_a_set_against_itself_is_zero(samples_dir):
    a, b = photo_pairs(samples_dir, 96)
    real, other = as_tensor(a), as_tensor(b)
    inception = calibrated_inception(real)
    same = metrics.FID(inception)
    same.add(real, real=True)
    same.add(real, real=False)
    different = metrics.FID(inception)
    different.add(real, real=True)
    different.add(other.flip(3).flip(2), real=False)
    assert abs(same.score()) < 1e-3
    assert different.score() > 100 * max(abs(same.score()), 1e-6)


@pytest.fixture
def judges(tmp_path, monkeypatch, samples_dir):
    """Every judge's file, from seeded random weights, installed in a fresh weights folder."""
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(folder))
    torch.manual_seed(1)
    for key in JUDGES:
        c = CHECKPOINT_BY_KEY[key]
        sd = (calibrated_inception(as_tensor(photo_pairs(samples_dir, 96)[0])) if key == "inception"
              else c.builder()).state_dict()
        torch.save({c.container: sd} if c.container else sd, folder / c.filename)
    return folder


@pytest.fixture
def tiny_networks(tmp_path):
    """A 64x64 SMILE_SYN file (rosinality layout) and a SMILE_SEM checkpoint folder, seeded random weights."""
    torch.manual_seed(2)
    syn = tmp_path / "smileSYN_64.pth"
    torch.save({"g_ema": SynGenerator(64, width=1 / 16, n_mlp=2).state_dict()}, syn)
    sem = tmp_path / "sem"
    sem.mkdir()
    for name, net in (("G", SemGenerator(64, 8, 32)), ("F", MappingNetwork(32)), ("S", StyleEncoder(64, 16, 32))):
        torch.save(net.state_dict(), sem / f"smileSEM_{name}_ema.pth")
    return syn, sem


@pytest.mark.slow
def test_eval_reports_a_table_and_json(prepared64, judges, tiny_networks, tmp_path, capsys):
    syn, sem = tiny_networks
    out = tmp_path / "report.json"
    code = main(["eval", str(prepared64), "--size", "64", "--syn", str(syn), "--sem", str(sem), "--fakes", "2",
                 "--limit", "3", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "== Reconstruction (SMILE_SYN)" in text and "== Attribute edits" in text and "skipped" not in text
    report = json.loads(out.read_text())
    recon, edits = report["sections"]
    row = recon["rows"]["all"]
    assert set(row) == {"ms/image", "PSNR", "SSIM", "RMSE", "LPIPS", "FID"}
    assert 0 < row["PSNR"] < 60 and -1 <= row["SSIM"] <= 1 and row["FID"] > 0
    overall = edits["rows"]["overall"]
    assert 0 <= overall["cycle agreement"] <= 1 and 0 <= overall["parse agreement (BiSeNet)"] <= 1
    aps = [v for k, v in overall.items() if k.startswith("AP ") and v is not None]
    assert aps and all(0 <= v <= 1 for v in aps)
    assert {"pose MSE yaw", "pose MSE pitch", "pose MSE roll"} <= set(overall)
    per_value = {k: v for k, v in edits["rows"].items() if k != "overall"}
    assert len(per_value) >= 6 and all("LPIPS div." in r and r["ms/edit"] > 0 for r in per_value.values())
    assert report["meta"]["images"] == 2 and report["meta"]["fakes"] == 2  # the two held-out images


def test_missing_judges_are_named_and_skipped(prepared64, tiny_networks, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path / "empty"))
    syn, _ = tiny_networks
    assert main(["eval", str(prepared64), "--size", "64", "--syn", str(syn), "--only", "reconstruction",
                 "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert "skipped FID: pt_inception-2015-12-05-6726825d.pth not installed" in text
    assert "skipped LPIPS:" in text and "PSNR" in text
    assert main(["eval", str(prepared64), "--size", "64", "--only", "edits", "--limit", "1"]) == 1
    assert "skipped SMILE_SEM:" in capsys.readouterr().out


def test_eval_edits_held_out_images_only_and_keeps_them_out_of_fids_real_side(prepared64, judges, tiny_networks,
                                                                               tmp_path, monkeypatch, capsys):
    """The documented workflow (prepare, train, eval on one folder): the sources are the test split, every real
    sample of FID is a training image, and the report says which split it used."""
    from smile_studio.engines.sem_edit import SemEditor
    from smile_studio.evaluation import metrics as metrics_module
    from smile_studio.training.dataset import PreparedData

    split = json.loads((prepared64 / "split.json").read_text())
    read: list[tuple[str | None, str]] = []
    real_getitem = PreparedData.__getitem__

    def spy_getitem(self, i):
        read.append((self.split, self.ids[i]))
        return real_getitem(self, i)

    monkeypatch.setattr(PreparedData, "__getitem__", spy_getitem)
    edited, real_edit = [], SemEditor.edit
    monkeypatch.setattr(SemEditor, "edit", lambda self, req: edited.append(req.labels.copy()) or real_edit(self, req))
    reals, real_add = [], metrics_module.FID.add_features
    monkeypatch.setattr(metrics_module.FID, "add_features",
                        lambda self, f, real: (reals.append(len(f)) if real else None) or real_add(self, f, real))
    syn, sem = tiny_networks
    out = tmp_path / "report.json"
    assert main(["eval", str(prepared64), "--size", "64", "--syn", str(syn), "--sem", str(sem), "--fakes", "2",
                 "--only", "edits", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"held-out images: 2 of {len(split['train']) + 2}" in text and "not measured: attribute AP/F1" in text
    sources = {i for s, i in read if s == "test"}
    assert sources == set(split["test"]) and {i for s, i in read if s == "train"} == set(split["train"])
    assert {s for s, _ in read} == {"test", "train"}
    test_maps = [PreparedData(prepared64, 64, "test")[k][1].numpy() for k in range(2)]
    train_maps = [PreparedData(prepared64, 64, "train")[k][1].numpy() for k in range(len(split["train"]))]
    assert edited and all(any(np.array_equal(m, t) for t in test_maps) for m in edited)
    assert not any(np.array_equal(m, t) for m in edited for t in train_maps)
    # each training photo enters the real side once per value it has, and no test photo ever does
    states = json.loads((prepared64 / "attributes.json").read_text())["attributes"]
    assert sum(reals) == sum(len(states[k]) for k in split["train"])
    meta = json.loads(out.read_text())["meta"]
    assert meta["source_ids"] == split["test"] and "seeded random held-out set of 2" in meta["split"]
