"""Training both networks on a tiny configuration (64x64, 1/16 of the widths) on the CPU: the losses fall, a
resumed run equals an uninterrupted one bit for bit, torchrun's ranks hold identical networks, and the
checkpoints load into the app's engines and render."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from smile_studio.cli import main
from smile_studio.training import checkpoints
from smile_studio.training.config import TrainConfig
from smile_studio.training.loop import train

from .conftest import TINY

LOSS = {"sem": "G/cycle", "syn": "G/l1"}  # each network's reconstruction loss


def config(network: str, data, **kw) -> TrainConfig:
    extra = {"lr": 1e-3, "f_lr": 1e-4} if network == "sem" else {"n_mlp": 2}
    return TrainConfig.for_network(network, str(data), **{**TINY, **extra, **kw})


def state_dicts(folder) -> dict[str, dict]:
    out = {}
    for f in sorted(folder.glob("*.pth")):
        obj = torch.load(f, weights_only=True)
        out[f.name] = obj
    return out


def assert_same(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("network", ["sem", "syn"])
def test_thirty_iterations_reduce_the_reconstruction_loss(network, prepared64, tmp_path):
    result = train(config(network, prepared64, iterations=30, checkpoint_every=30), tmp_path / "run",
                   show_progress=False)
    losses = [step[LOSS[network]] for step in result.losses]
    assert len(losses) == 30 and all(np.isfinite(losses))
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert last < 0.9 * first, (first, last)
    run = tmp_path / "run"
    assert TrainConfig.read(run / "config.json") == config(network, prepared64, iterations=30, checkpoint_every=30)
    assert len((run / "scalars.jsonl").read_text().splitlines()) == 30
    grid = sorted((run / "samples").glob("*.png"))
    assert len(grid) == 6
    assert checkpoints.latest(run).name == "step_0000030"


@pytest.mark.parametrize("network", ["sem", "syn"])
def test_resume_continues_exactly(network, prepared64, tmp_path):
    straight = train(config(network, prepared64, iterations=8, checkpoint_every=4), tmp_path / "a",
                     show_progress=False)
    first = train(config(network, prepared64, iterations=4, checkpoint_every=4), tmp_path / "b",
                  show_progress=False)
    assert first.end_step == 4
    resumed = train(config(network, prepared64, iterations=8, checkpoint_every=4), tmp_path / "b", resume=True,
                    show_progress=False)
    assert resumed.start_step == 4 and resumed.end_step == 8
    assert resumed.digests == straight.digests
    assert_same(state_dicts(checkpoints.latest(tmp_path / "a")), state_dicts(checkpoints.latest(tmp_path / "b")))
    # the losses of steps 5-8 are the same numbers: same samples, same random draws
    assert [s[LOSS[network]] for s in list(straight.losses)[4:]] == [s[LOSS[network]] for s in resumed.losses]


def test_a_killed_run_resumes_from_its_last_checkpoint(prepared64, tmp_path):
    """SIGKILL mid-run (no chance to save): the newest complete checkpoint is resumed; a half-written one is
    ignored; the result equals a run that was never interrupted."""
    args = ["train", "sem", str(prepared64), str(tmp_path / "killed"), "--size", "64", "--width", "0.0625",
            "--batch", "2", "--workers", "0", "--fan", "none", "--iterations", "400", "--checkpoint-every", "3",
            "--set", "lr=0.001", "--set", "f_lr=0.0001"]
    proc = subprocess.Popen([sys.executable, "-m", "smile_studio", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while _saved_step(tmp_path / "killed") < 6:
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    reached = _saved_step(tmp_path / "killed")
    (tmp_path / "killed" / "checkpoints" / ".step_9999999.partial").mkdir()  # what a kill mid-save leaves
    target = reached + 3
    assert main(["train", "sem", str(tmp_path / "killed"), "--resume", "--iterations", str(target)]) == 0
    straight = train(config("sem", prepared64, iterations=target, checkpoint_every=3), tmp_path / "straight",
                     show_progress=False)
    saved = checkpoints.read_state(checkpoints.latest(tmp_path / "killed"))
    assert saved["step"] == target and saved["replica_digests"] == straight.digests


def test_sigterm_finishes_the_step_saves_it_and_exits_3(prepared64, tmp_path, capfd):
    run = tmp_path / "preempted"
    proc = subprocess.Popen([sys.executable, "-m", "smile_studio", "train", "sem", str(prepared64), str(run),
                             "--size", "64", "--width", "0.0625", "--batch", "2", "--workers", "0", "--fan", "none",
                             "--iterations", "400", "--checkpoint-every", "1000", "--log-every", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 120
    scalars = run / "scalars.jsonl"
    while not scalars.is_file() or len(scalars.read_text().splitlines()) < 3:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)  # a scheduler's SIGTERM often arrives twice: still one clean stop
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "--resume" in out
    steps = len(scalars.read_text().splitlines())
    assert 3 <= steps < 400 and _saved_step(run) == steps
    assert checkpoints.read_state(checkpoints.latest(run))["step"] == steps


def _saved_step(run) -> int:
    folder = checkpoints.latest(run)
    return int(folder.name.split("_")[1]) if folder is not None else 0


@pytest.mark.slow
@pytest.mark.parametrize("network", ["sem", "syn"])
def test_torchrun_two_ranks_hold_identical_networks(network, prepared64, tmp_path):
    """``torchrun --nproc_per_node 2`` on the CPU (gloo): DDP averages the gradients of different samples, so
    both ranks' networks (and EMA copies) stay bit-identical, and rank 0's files are those networks."""
    from smile_studio.training.distributed import Place, digest
    from smile_studio.training.sem import SemRecipe
    from smile_studio.training.syn import SynRecipe

    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "smile_studio", "train", network, str(prepared64), str(run), "--size", "64", "--width", "0.0625",
           "--batch", "2", "--workers", "0", "--iterations", "6", "--checkpoint-every", "3", "--fan", "none",
           "--lpips", "none", "--set", "n_mlp=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "2 replica(s) identical" in out.stdout
    folder = checkpoints.latest(run)
    state = checkpoints.read_state(folder)
    assert state["step"] == 6 and len(state["replica_digests"]) == 2
    assert state["replica_digests"][0] == state["replica_digests"][1]
    cfg = TrainConfig.read(run / "config.json")
    recipe = (SemRecipe if network == "sem" else SynRecipe)(cfg, Place(0, 1, torch.device("cpu")),
                                                             np.zeros((1, 12), np.float32))
    recipe.load(folder)
    assert digest(recipe.replicas()) == state["replica_digests"][0]
    # a single-process run of the same steps draws other samples per step: the two ranks really split the work
    single = train(cfg.replace(workers=0), tmp_path / "single", show_progress=False)
    assert single.digests[0] != state["replica_digests"][0]


def test_checkpoints_load_into_the_app_engines_and_render(prepared64, tmp_path):
    from smile_studio.core.labelio import read_label_map
    from smile_studio.core.labels import default_attributes
    from smile_studio.engines.base import LayoutRequest, RenderRequest
    from smile_studio.engines.neural import NeuralLayoutEngine, NeuralRenderEngine

    sem = train(config("sem", prepared64, iterations=2, checkpoint_every=2), tmp_path / "sem", show_progress=False)
    syn = train(config("syn", prepared64, iterations=2, checkpoint_every=2), tmp_path / "syn", show_progress=False)
    fs, fy = checkpoints.latest(sem.run), checkpoints.latest(syn.run)
    layout = NeuralLayoutEngine.from_sources(fs / "smileSEM_G_ema.pth", fs / "smileSEM_F_ema.pth",
                                             fs / "smileSEM_S_ema.pth", device="cpu")
    labels = read_label_map(prepared64 / "maps" / "maskgan_0.png").labels
    state = default_attributes()
    edit = layout.edit(LayoutRequest(labels, state, {"eyeglasses": "on"}, seed=3, variations=2))
    assert len(edit.maps) == 2 and edit.maps[0].shape == labels.shape and edit.maps[0].max() < 19
    render = NeuralRenderEngine.from_source(fy / "smileSYN_64.pth", device="cpu")
    out = render.render(RenderRequest(labels, exact=True))
    image = out.image if hasattr(out, "image") else out
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8 and image.std() > 1


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_autocast_trains(prepared64, tmp_path, precision):
    for network in ("sem", "syn"):
        result = train(config(network, prepared64, iterations=2, checkpoint_every=2, precision=precision),
                       tmp_path / network, show_progress=False)
        assert all(np.isfinite(s[LOSS[network]]) for s in result.losses)


def test_released_size_checkpoints_are_recognised_as_the_official_files():
    """At 256 with the released widths, what training writes is what the weights manager recognises (same keys,
    same shapes, same containers) — the app installs and loads it like the official files."""
    from smile_studio.training.distributed import Place
    from smile_studio.training.sem import SemRecipe
    from smile_studio.training.syn import SynRecipe
    from smile_studio.weights.registry import recognise

    place, table = Place(0, 1, torch.device("cpu")), np.zeros((1, 12), np.float32)
    sem = SemRecipe(TrainConfig.for_network("sem", "-", fan="none"), place, table).exports()
    assert recognise(sem["smileSEM_G_ema.pth"]) == ["sem_G"]
    assert recognise(sem["smileSEM_F_ema.pth"]) == ["sem_F"]
    assert recognise(sem["smileSEM_S_ema.pth"]) == ["sem_S"]
    syn = SynRecipe(TrainConfig.for_network("syn", "-", lpips="none"), place, table).exports()
    assert recognise(syn["smileSYN_256.pth"]) == ["syn256"]


def test_train_command_refuses_what_would_lose_or_mix_runs(prepared64, tmp_path, capsys):
    run = tmp_path / "run"
    common = ["--size", "64", "--width", "0.0625", "--batch", "2", "--workers", "0", "--fan", "none"]
    assert main(["train", "sem", str(run), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train", "sem", str(prepared64), str(run), *common, "--iterations", "2", "--checkpoint-every",
                 "2"]) == 0
    assert main(["train", "sem", str(prepared64), str(run), *common, "--iterations", "4"]) == 2
    assert "already holds checkpoints" in capsys.readouterr().err
    assert main(["train", "sem", str(run), "--resume", "--lr", "0.5"]) == 2
    assert "lr cannot change" in capsys.readouterr().err
    assert main(["train", "syn", str(run), "--resume"]) == 2
    assert "trains sem, not syn" in capsys.readouterr().err
    assert main(["train", "sem", str(tmp_path / "nowhere"), str(tmp_path / "r2"), *common]) == 2
    assert "no attributes.json" in capsys.readouterr().err


def _torchrun(network: str, data, run, *extra: str, iterations: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "smile_studio", "train", network, *([str(data)] if data else []), str(run), *extra,
            "--iterations", str(iterations)]


def _rank_pids(launcher: subprocess.Popen) -> dict[int, int]:
    """{rank: pid} of torchrun's worker processes (its children, by the RANK in their environment)."""
    out = {}
    children = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True).stdout.split()
    for pid in children:
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        rank = next((int(v.split(b"=")[1]) for v in env if v.startswith(b"RANK=")), None)
        if rank is not None:
            out[rank] = int(pid)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("network, whom", [("sem", "rank 1 only"), ("syn", "every rank")])
def test_sigterm_under_torchrun_stops_every_rank_with_exit_3_and_resumes_bit_identical(network, whom,
                                                                                        prepared64, tmp_path):
    """A pre-empted cluster job: SIGTERM reaches one rank (or all of them, as a scheduler sends it). Every rank
    finishes the same step, rank 0 saves it, every rank exits 3 (torchrun reports each exit code); resuming
    under torchrun ends bit-identical to a run that was never interrupted."""
    common = ["--size", "64", "--width", "0.0625", "--batch", "2", "--workers", "0", "--fan", "none", "--lpips",
              "none", "--log-every", "1", "--checkpoint-every", "1000", "--set", "n_mlp=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = tmp_path / "preempted"
    proc = subprocess.Popen(_torchrun(network, prepared64, run, *common, iterations=400), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    scalars, deadline = run / "scalars.jsonl", time.time() + 240
    while not scalars.is_file() or len(scalars.read_text().splitlines()) < 2:
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.05)
    pids = _rank_pids(proc)
    assert sorted(pids) == [0, 1]
    for rank in ([1] if whom == "rank 1 only" else [0, 1]):
        os.kill(pids[rank], signal.SIGTERM)
    out, err = proc.communicate(timeout=240)
    assert "Continue with" in out and "--resume" in out, err[-3000:]
    assert err.count("exitcode  : 3 ") == 2 and "SIGTERM" not in err.split("Failures:")[-1], err[-3000:]
    stopped = _saved_step(run)
    assert 2 <= stopped < 400 and checkpoints.read_state(checkpoints.latest(run))["machine"]["world_size"] == 2
    target = stopped + 2
    resumed = subprocess.run(_torchrun(network, None, run, "--resume", iterations=target), env=env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    straight = subprocess.run(_torchrun(network, prepared64, tmp_path / "straight", *common, iterations=target),
                              env=env, capture_output=True, text=True, timeout=600)
    assert straight.returncode == 0, straight.stderr[-3000:]
    a = checkpoints.read_state(checkpoints.latest(run))
    b = checkpoints.read_state(checkpoints.latest(tmp_path / "straight"))
    assert a["step"] == b["step"] == target and a["replica_digests"] == b["replica_digests"]


def test_a_resume_on_another_machine_is_refused_or_says_what_exactness_is_lost(prepared64, tmp_path, capsys):
    from smile_studio.training.loop import resume_notes

    now = {"world_size": 1, "device": "cpu", "precision": "fp32", "torch": torch.__version__}
    assert resume_notes(dict(now), now) == []
    with pytest.raises(ValueError, match="trained by 2 process.*resumed by 1.*--nproc_per_node 2"):
        resume_notes({**now, "world_size": 2}, now)
    (note,) = resume_notes({**now, "device": "cuda"}, now)
    assert "device cuda, resumed with cpu" in note and "not bit-identical" in note
    # end to end: a checkpoint that says it was trained on a GPU
    run = tmp_path / "run"
    common = ["--size", "64", "--width", "0.0625", "--batch", "2", "--workers", "0", "--fan", "none"]
    assert main(["train", "sem", str(prepared64), str(run), *common, "--iterations", "2",
                 "--checkpoint-every", "2"]) == 0
    state_file = checkpoints.latest(run) / checkpoints.STATE
    state = torch.load(state_file, weights_only=True)
    assert state["machine"]["world_size"] == 1 and state["machine"]["device"] == "cpu"
    state["machine"]["device"] = "cuda"
    torch.save(state, state_file)
    capsys.readouterr()
    assert main(["train", "sem", str(run), "--resume", "--iterations", "3"]) == 0
    assert "note: trained with device cuda, resumed with cpu" in capsys.readouterr().out
    state = torch.load(checkpoints.latest(run) / checkpoints.STATE, weights_only=True)
    state["machine"]["world_size"] = 4
    torch.save(state, checkpoints.latest(run) / checkpoints.STATE)
    assert main(["train", "sem", str(run), "--resume", "--iterations", "4"]) == 2
    assert "trained by 4 process(es)" in capsys.readouterr().err


def test_a_finished_run_resumed_at_its_end_trains_nothing(prepared64, tmp_path, capsys):
    run = tmp_path / "run"
    common = ["--size", "64", "--width", "0.0625", "--batch", "2", "--workers", "0", "--fan", "none"]
    assert main(["train", "sem", str(prepared64), str(run), *common, "--iterations", "2",
                 "--checkpoint-every", "2"]) == 0
    before = (run / "scalars.jsonl").read_text()
    capsys.readouterr()
    assert main(["train", "sem", str(run), "--resume", "--iterations", "2"]) == 0
    assert "is complete: step 2 of 2; nothing to train" in capsys.readouterr().out
    assert (run / "scalars.jsonl").read_text() == before and _saved_step(run) == 2


def test_losses_are_streamed_and_only_the_newest_are_kept(prepared64, tmp_path, monkeypatch):
    from smile_studio.training import loop

    monkeypatch.setattr(loop, "LOSSES_KEPT", 3)
    result = train(config("sem", prepared64, iterations=6, checkpoint_every=6), tmp_path / "r", show_progress=False)
    assert len(result.losses) == 3
    logged = [json.loads(line) for line in (tmp_path / "r" / "scalars.jsonl").read_text().splitlines()]
    assert [e["step"] for e in logged] == [1, 2, 3, 4, 5, 6]
    assert [e["G/cycle"] for e in logged[3:]] == [float(s["G/cycle"]) for s in result.losses]


def test_checkpoint_files_and_folders_reach_the_disk_before_latest_names_them(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def record(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(checkpoints.os, "fsync", record)
    monkeypatch.setattr("smile_studio.core.imageio.os.fsync", record)
    checkpoints.save(tmp_path, 7, {"a.pth": {"w": torch.ones(2)}, checkpoints.STATE: {"step": 7}}, keep=2)
    root = str(tmp_path / "checkpoints")
    staging = f"{root}/.step_0000007.partial"
    assert synced.index(f"{staging}/a.pth") < synced.index(staging) < synced.index(root)
    assert f"{staging}/{checkpoints.STATE}" in synced
    latest_write = next(i for i, p in enumerate(synced) if p.startswith(f"{root}/") and "latest" in p)
    assert synced.index(root) < latest_write and synced[-1] == root


def test_r1_differentiates_a_float32_pass_under_fp16_autocast(prepared64):
    """R1's gradient through fp16 activations underflows: the discriminator's pass over the real samples that
    R1 differentiates runs outside autocast, the fake pass inside."""
    from smile_studio.training.distributed import Place
    from smile_studio.training.sem import SemRecipe

    cfg = config("sem", prepared64, precision="fp16")
    row = np.array([[1, 0] * 6], np.float32)  # one value of each of the 6 attributes
    recipe = SemRecipe(cfg, Place(0, 1, torch.device("cpu")), row)
    D = recipe.trained["D"]
    calls = []
    real_forward = D.forward

    def spy(x, y):
        calls.append((x.requires_grad, torch.is_autocast_enabled("cpu")))
        return real_forward(x, y)

    D.forward = spy
    b = 2
    batch = (torch.rand(b, 3, 64, 64) * 2 - 1, torch.randint(0, 19, (b, 64, 64)), torch.tensor(row).repeat(b, 1))
    loss, parts = recipe._d_loss(recipe._prepare(batch))
    assert (True, False) in calls and (False, True) in calls  # R1's pass in float32, the fake one autocast
    assert torch.isfinite(loss) and float(parts["D/r1"]) > 0


def test_sem_trains_with_the_installed_fan_on_the_default_path(prepared64, golden_dir, tmp_path, monkeypatch):
    """``--fan auto`` (the default) with a wing.ckpt installed: heatmaps feed G's skips and mask the diversity
    loss. Synthetic FAN weights (the golden manifest) stand in for the official file."""
    from smile_studio.nets.golden import synth_state_dict

    weights = tmp_path / "weights"
    weights.mkdir()
    torch.save({"state_dict": synth_state_dict(golden_dir / "manifests" / "sem256_FAN.json", 1)},
               weights / "wing.ckpt")
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(weights))
    cfg = config("sem", prepared64, iterations=2, checkpoint_every=2, fan="auto")
    assert cfg.fan == "auto"
    used = []
    from smile_studio.nets.fan import FAN

    real = FAN.get_heatmap
    monkeypatch.setattr(FAN, "get_heatmap", lambda self, x, *a, **k: used.append(x.shape) or real(self, x, *a, **k))
    result = train(cfg, tmp_path / "run", show_progress=False)
    assert used and all(np.isfinite(float(s["G/cycle"])) for s in result.losses)
    assert all(np.isfinite(float(s["G/ds"])) for s in result.losses if "G/ds" in s)
