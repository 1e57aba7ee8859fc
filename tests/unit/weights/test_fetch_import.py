"""The weights manager against a real HTTP server on 127.0.0.1 serving archives built here from our own network
classes: fetch, fallback, resume, timeouts, hostile archives, import by content, pickle payloads, status."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
import zipfile
from pathlib import Path

import pytest
import torch

from smile_studio.cli import main
from smile_studio.weights import checkpoint_path, fetch, installed, smile_ready, state_of
from smile_studio.weights.archive import ImportRefused, import_path
from smile_studio.weights.fetch import Cancelled, FetchError, download, fetch_official, meta_path, part_path
from smile_studio.weights.registry import CHECKPOINT_BY_KEY

from .server import WeightsServer


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _fan() -> dict:
    from smile_studio.nets.fan import FAN

    torch.manual_seed(0)
    return {"state_dict": FAN().state_dict(), "epoch": 3}


def _mapping() -> dict:
    from smile_studio.nets.sem import MappingNetwork

    torch.manual_seed(1)
    return MappingNetwork().state_dict()


def _zip(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)  # a symbolic link
            zf.writestr(info, target)
    return buf.getvalue()


@pytest.fixture(scope="module")
def small_archive() -> bytes:
    """Two official files under names nobody published: recognised by content."""
    return _zip({"SMILE/weights/landmarks_v2.bin": _bytes(_fan()), "SMILE/F.pt": _bytes(_mapping()),
                 "SMILE/README.txt": b"readme"})


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """Retries pause 10 ms here instead of 1, 2, 4... seconds (their count and resume are what is tested)."""
    monkeypatch.setattr(fetch, "BACKOFF", 0.01)


@pytest.fixture
def weights(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "weights"
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(folder))
    return folder


def test_fetch_falls_back_to_the_second_source_and_installs_by_content(weights, small_archive):
    with WeightsServer() as srv:
        srv.files["/a.zip"] = small_archive
        report = fetch_official([srv.url("/busy"), srv.url("/a.zip")], log=lambda s: None)
        assert [p for p, _ in srv.requests] == ["/busy"] * (1 + fetch.RETRIES) + ["/a.zip"]  # 503: retried
    assert set(report.installed) == {"fan", "sem_F"}
    assert checkpoint_path("fan") == weights / "wing.ckpt" and checkpoint_path("sem_F").is_file()
    assert state_of(CHECKPOINT_BY_KEY["fan"]).state in ("unverified", "verified")
    assert not list(weights.glob("*.zip")) and not list(weights.glob("*.part"))  # archive removed after import
    assert "README.txt" in " ".join(report.skipped)


def test_a_download_cut_midway_resumes_and_ends_identical(tmp_path, small_archive):
    dest = tmp_path / "a.zip"
    with WeightsServer() as srv:
        srv.files["/a.zip"] = small_archive
        srv.cuts["/a.zip"] = 1
        with pytest.raises(FetchError, match="resume"):
            download(srv.url("/a.zip"), dest, retries=0)
        part = part_path(dest, srv.url("/a.zip"))
        kept = part.stat().st_size
        assert part.is_file() and 0 < kept < len(small_archive) and not dest.exists()
        seen = []
        download(srv.url("/a.zip"), dest, progress=seen.append)
        assert srv.requests[-1][1] == f"bytes={kept}-"  # resumed where it stopped, not restarted
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == hashlib.sha256(small_archive).hexdigest()
    assert seen[-1].done == seen[-1].total == len(small_archive) and seen[-1].eta == 0
    assert not part.exists() and not list(tmp_path.glob("*.part*"))


def test_one_fetch_survives_a_connection_cut_three_times_and_records_the_sha256(weights, small_archive, capsys):
    """The acceptance case: the archive's link dies a third of the way through three times; one command resumes
    each time (Range requests from where the file stops), installs, and records the archive's sha256."""
    with WeightsServer() as srv:
        srv.files["/a.zip"] = small_archive
        srv.cuts["/a.zip"] = 3
        code = main(["weights", "fetch", "--source", srv.url("/a.zip"), "--no-face-alignment"])
        ranges = [r for p, r in srv.requests if p == "/a.zip"]
    out = capsys.readouterr().out
    digest = hashlib.sha256(small_archive).hexdigest()
    assert code == 1 and "installed wing.ckpt" in out  # installed (the engines need more files: exit 1)
    assert len(ranges) == 4 and ranges[0] is None and all(r and r.startswith("bytes=") for r in ranges[1:])
    assert out.count("retrying in") == 3 and f"sha256 {digest}" in out
    record = json.loads((weights / "fetched.json").read_text())
    assert record[-1]["sha256"] == digest and record[-1]["bytes"] == len(small_archive)
    assert not list(weights.glob("*.part*")) and not list(weights.glob("*.zip"))


def test_retries_are_bounded_and_a_part_is_never_continued_from_another_source(tmp_path, small_archive):
    dest = tmp_path / "a.zip"
    with WeightsServer() as srv:
        srv.files["/a.zip"] = srv.files["/b.zip"] = small_archive
        srv.cuts["/a.zip"] = 10
        with pytest.raises(FetchError, match="gave up after 3 tries"):
            download(srv.url("/a.zip"), dest, retries=2)
        assert len(srv.requests) == 3
        download(srv.url("/b.zip"), dest)  # another source: its own part, from its first byte
        assert srv.requests[-1] == ("/b.zip", None)
        assert part_path(dest, srv.url("/a.zip")).is_file()  # kept for a later fetch from that source
    assert dest.read_bytes() == small_archive


def test_a_transfer_without_a_length_must_be_checked_whole(tmp_path, small_archive):
    """No Content-Length: an early close cannot be told from the end, so the file is refused unless the caller
    checks it whole (a zip's CRCs); a truncated archive from such a server is fetched again, never installed."""
    from smile_studio.weights.fetch import fetch_official

    with WeightsServer() as srv:
        srv.files["/a.zip"] = small_archive
        srv.files["/short.zip"] = small_archive[: len(small_archive) * 2 // 3]
        with pytest.raises(FetchError, match="did not say how large"):
            download(srv.url("/nolength/a.zip"), tmp_path / "x.zip")
        with pytest.raises(FetchError, match="not whole") as info:
            fetch_official([srv.url("/nolength/short.zip")], dest=tmp_path / "w", log=lambda s: None, retries=1)
        assert "no source delivered" in str(info.value)
        report = fetch_official([srv.url("/nolength/a.zip")], dest=tmp_path / "w", log=lambda s: None)
    assert set(report.installed) == {"fan", "sem_F"}
    assert not list((tmp_path / "w").glob("*.part*"))


def left_part(dest: Path, url: str, data: bytes, announced: int) -> Path:
    """What an interrupted fetch of ``url`` leaves: its partial file and the size its server announced."""
    part = part_path(dest, url)
    part.write_bytes(data)
    meta_path(part).write_text(json.dumps({"total": announced}))
    return part


def test_416_completes_only_a_part_of_the_announced_size(tmp_path, small_archive):
    dest = tmp_path / "a.zip"
    with WeightsServer() as srv:
        srv.files["/a.zip"] = small_archive
        url = srv.url("/a.zip")
        part = left_part(dest, url, small_archive + b"junk after the end", len(small_archive))  # 416, and wrong
        download(url, dest)
        assert [r for _, r in srv.requests] == [f"bytes={len(small_archive) + 18}-", None]  # refused, restarted
        assert dest.read_bytes() == small_archive
        dest.unlink()
        left_part(dest, url, small_archive, len(small_archive))  # the whole file, interrupted before the rename
        download(url, dest)
    assert dest.read_bytes() == small_archive and not part.exists()


def test_an_archive_with_a_damaged_member_installs_nothing(weights, small_archive):
    from smile_studio.weights.fetch import fetch_official

    first = zipfile.ZipFile(io.BytesIO(small_archive)).infolist()[0]
    i = first.header_offset + 30 + len(first.filename) + first.file_size // 2  # inside its (stored) data
    damaged = small_archive[:i] + bytes([small_archive[i] ^ 0xFF]) + small_archive[i + 1:]
    with WeightsServer() as srv:
        srv.files["/bad.zip"] = damaged
        with pytest.raises(FetchError, match="CRC"):
            fetch_official([srv.url("/bad.zip")], log=lambda s: None)
    assert not weights.exists() or not [p for p in weights.rglob("*") if p.is_file()]


def test_two_files_of_one_network_are_reported_and_the_ema_copy_wins(weights, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    plain, ema = _mapping(), _mapping()
    for v in ema.values():
        v.add_(1.0)
    torch.save(plain, run / "smileSEM_F.pth")
    torch.save(ema, run / "smileSEM_F_ema.pth")
    report = import_path(run)
    assert set(report.installed) == {"sem_F"}
    assert any("2 files hold the SMILE_SEM mapping network: installed smileSEM_F_ema.pth" in line
               for line in report.lines())
    got = torch.load(report.installed["sem_F"], weights_only=True)
    assert all(torch.equal(got[k], ema[k]) for k in ema)


def test_404_and_a_stalled_server_fail_fast_with_clear_messages(tmp_path):
    with WeightsServer() as srv:
        with pytest.raises(FetchError, match="HTTP 404"):
            download(srv.url("/nothing.zip"), tmp_path / "x.zip")
        t0 = time.perf_counter()
        with pytest.raises(FetchError, match="stopped answering"):
            download(srv.url("/stall"), tmp_path / "y.zip", timeout=(2, 0.5), retries=0)
        assert time.perf_counter() - t0 < 4  # the read timeout fired: no hang
        with pytest.raises(FetchError, match="no source delivered") as info:
            fetch_official([srv.url("/busy"), srv.url("/nothing.zip")], dest=tmp_path, log=lambda s: None)
        assert "503" in str(info.value) and "404" in str(info.value)
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "smile_official_weights.zip").exists()


def test_cancel_keeps_the_partial_file_for_a_resume(tmp_path, small_archive):
    cancel = threading.Event()
    dest = tmp_path / "a.zip"

    def stop_after_first_chunk(p):
        cancel.set()

    with WeightsServer() as srv:
        srv.files["/a.zip"] = small_archive
        with pytest.raises(Cancelled):
            download(srv.url("/a.zip"), dest, progress=stop_after_first_chunk, cancel=cancel)
        assert not dest.exists() and part_path(dest, srv.url("/a.zip")).is_file()
        download(srv.url("/a.zip"), dest)
    assert dest.read_bytes() == small_archive


def test_drive_confirmation_page_is_followed(tmp_path, small_archive):
    with WeightsServer() as srv:
        srv.files["/FILEID123"] = small_archive
        download(srv.url("/drive/uc?export=download&id=FILEID123"), tmp_path / "a.zip")
        assert [p.split("?")[0] for p, _ in srv.requests] == ["/drive/uc", "/drive/download"]
    assert (tmp_path / "a.zip").read_bytes() == small_archive


def test_a_full_disk_is_refused_before_writing(tmp_path, small_archive, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 10**6, 10**6))
    with WeightsServer() as srv:
        srv.files["/a.zip"] = small_archive
        with pytest.raises(FetchError, match="MB free"):
            download(srv.url("/a.zip"), tmp_path / "a.zip")
    assert list(tmp_path.iterdir()) == []
    archive = tmp_path / "a.zip"
    archive.write_bytes(small_archive)
    with pytest.raises(ImportRefused, match="MB free"):
        import_path(archive, tmp_path / "w")
    assert not list((tmp_path / "w").glob("*.ckpt"))


@pytest.mark.parametrize("kind", ["corrupt", "dotdot", "absolute", "symlink"])
def test_hostile_archives_are_refused_and_nothing_is_installed(weights, tmp_path, kind):
    fan = _bytes(_fan())
    if kind == "corrupt":
        blob = _zip({"wing.ckpt": fan})
        blob = blob[: len(blob) // 3] + b"\0" * 100 + blob[len(blob) // 3 + 100:]
    elif kind == "dotdot":
        blob = _zip({"ok.ckpt": fan, "../../evil.ckpt": fan})
    elif kind == "absolute":
        blob = _zip({"/tmp/evil.ckpt": fan})
    else:
        blob = _zip({"ok.ckpt": fan}, links={"link.ckpt": "/etc/passwd"})
    archive = tmp_path / f"{kind}.zip"
    archive.write_bytes(blob)
    with pytest.raises(ImportRefused):
        import_path(archive)
    assert installed() == {} and not (tmp_path.parent / "evil.ckpt").exists()
    assert not any(p.name.startswith(".import-") for p in weights.iterdir()) if weights.exists() else True


def test_import_from_a_folder_recognises_files_by_content(weights, tmp_path):
    src = tmp_path / "downloads"
    (src / "nested").mkdir(parents=True)
    (src / "nested" / "model_final.pth").write_bytes(_bytes(_fan()))
    (src / "whatever.pt").write_bytes(_bytes({"conv.weight": torch.zeros(3, 3)}))  # no known network
    (src / "notes.txt").write_text("hello")
    report = import_path(src)
    assert list(report.installed) == ["fan"] and (weights / "wing.ckpt").is_file()
    assert report.unrecognised == ["whatever.pt"] and (src / "nested" / "model_final.pth").is_file()  # copied


def test_a_pickle_payload_is_refused_and_never_executed(weights, tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "wing.ckpt").write_bytes(_bytes({"state_dict": Payload()}))
    report = import_path(evil)
    assert report.installed == {} and "pickled objects" in report.unrecognised[0]
    weights.mkdir(parents=True, exist_ok=True)
    (weights / "wing.ckpt").write_bytes((evil / "wing.ckpt").read_bytes())
    st = state_of(CHECKPOINT_BY_KEY["fan"])
    assert st.state == "unusable" and "pickled" in st.detail
    assert main(["weights", "status"]) == 1
    assert not marker.exists()


def test_wrong_network_or_size_names_the_file_and_first_key(weights):
    from smile_studio.nets.syn import SynGenerator

    weights.mkdir(parents=True)
    torch.save(_mapping(), weights / "smileSEM_G_ema.pth")  # F offered as G
    st = state_of(CHECKPOINT_BY_KEY["sem_G"])
    assert st.state == "unusable" and "smileSEM_G_ema.pth" in st.detail and "key" in st.detail
    torch.save({"g_ema": SynGenerator(512).state_dict()}, weights / "smileSYN_256.pth")  # 512 as 256
    st = state_of(CHECKPOINT_BY_KEY["syn256"])
    assert st.state == "unusable" and "smileSYN_256.pth" in st.detail


def test_cli_fetch_with_source_then_verify_records_hashes(weights, small_archive, capsys):
    with WeightsServer() as srv:
        srv.files["/a.zip"] = small_archive
        code = main(["weights", "fetch", "--source", srv.url("/a.zip"), "--no-face-alignment"])
    out = capsys.readouterr().out
    assert code == 1  # installed, but the SMILE engines need more files than this archive holds
    assert "installed wing.ckpt" in out and "SMILE engines: not ready" in out
    assert main(["weights", "verify"]) == 1
    lock = (weights / "weights.lock.json").read_text()
    assert "wing.ckpt" in lock and hashlib.sha256((weights / "wing.ckpt").read_bytes()).hexdigest() in lock
    with open(weights / "wing.ckpt", "ab") as f:
        f.write(b"tampered")
    assert state_of(CHECKPOINT_BY_KEY["fan"]).state == "changed"
    assert main(["weights", "import", str(weights / "nothing-here")]) == 2


@pytest.mark.slow
def test_full_fetch_makes_the_smile_engines_ready_and_they_render(weights):
    """Every file the SMILE engines need, fetched from the local server: status exits 0, the engines load
    them and render."""
    import numpy as np

    from smile_studio.engines.base import RenderRequest
    from smile_studio.engines.registry import select_engines
    from smile_studio.nets.sem import MappingNetwork, SemGenerator, StyleEncoder
    from smile_studio.nets.syn import SynGenerator

    torch.manual_seed(3)
    archive = _zip({"smileSYN_256.pth": _bytes({"g_ema": SynGenerator(256).state_dict(), "args": None}),
                    "x/G.pth": _bytes(SemGenerator(256).state_dict()), "x/F.pth": _bytes(MappingNetwork().state_dict()),
                    "x/S.pth": _bytes(StyleEncoder(256).state_dict()), "x/wing.ckpt": _bytes(_fan())})
    with WeightsServer() as srv:
        srv.files["/full.zip"] = archive
        assert main(["weights", "fetch", "--source", srv.url("/full.zip"), "--no-face-alignment"]) == 0
    assert smile_ready()
    layout, render, why = select_engines("auto", interactive=False)
    assert render.info.official_weights and why.startswith("SMILE")
    labels = np.zeros((256, 256), np.uint8)
    labels[60:200, 70:190] = 1
    img = render.render(RenderRequest(labels, exact=True))
    assert img.shape == (256, 256, 3) and img.dtype == np.uint8 and img.std() > 1


def test_face_alignment_files_are_fetched_into_our_hub_and_checked_against_their_hash(weights, monkeypatch):
    from dataclasses import replace

    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    from smile_studio.weights import registry
    from smile_studio.weights.fetch import fetch_face_alignment

    torch.manual_seed(2)
    s3fd_bytes, fan_bytes = _bytes(s3fd().state_dict()), _bytes(FAN(4).state_dict())
    with WeightsServer() as srv:
        srv.files["/fa/s3fd-619a316812.pth"] = s3fd_bytes
        srv.files["/fa/2DFAN4-11f355bf06.pth.tar"] = fan_bytes
        with pytest.raises(FetchError, match="sha256 does not start with 619a316812"):
            fetch_face_alignment(base_url=srv.url("/fa"), log=lambda s: None)  # not the published file
        assert not (weights / "hub" / "checkpoints" / "s3fd-619a316812.pth").exists()
        # the same check passes for a file that carries its own hash (here: our synthetic files' hashes)
        table = {c.key: c for c in registry.CHECKPOINTS}
        for key, data in (("s3fd", s3fd_bytes), ("fan68", fan_bytes)):
            table[key] = replace(table[key], sha256_prefix=hashlib.sha256(data).hexdigest()[:10])
        monkeypatch.setattr(registry, "CHECKPOINTS", tuple(table.values()))
        monkeypatch.setattr(registry, "CHECKPOINT_BY_KEY", table)
        from smile_studio.weights import fetch as fetch_module
        from smile_studio.weights import verify as verify_module

        monkeypatch.setattr(fetch_module, "CHECKPOINTS", tuple(table.values()))
        monkeypatch.setattr(verify_module, "CHECKPOINT_BY_KEY", table)
        paths = fetch_face_alignment(base_url=srv.url("/fa"), log=lambda s: None)
    assert [p.relative_to(weights).as_posix() for p in paths] == [
        "hub/checkpoints/s3fd-619a316812.pth", "hub/checkpoints/2DFAN4-11f355bf06.pth.tar"]
    assert checkpoint_path("s3fd") == paths[0]


def test_ctrl_c_cancels_a_cli_fetch_cleanly_and_keeps_the_partial_file(weights, small_archive):
    """Ctrl+C in a terminal mid-download. The child starts with SIGINT's default disposition (as a terminal gives
    it, whatever this test process inherited), and a separate watcher process sends the SIGINT as soon as the
    first MiB is on disk, so the cancel lands mid-download however busy this process is."""
    import signal
    import subprocess
    import sys

    with WeightsServer() as srv:
        srv.files["/a.zip"] = small_archive
        env = dict(os.environ, SMILE_STUDIO_WEIGHTS=str(weights))
        proc = subprocess.Popen([sys.executable, "-m", "smile_studio", "weights", "fetch", "--source",
                                 srv.url("/stall/a.zip"), "--no-face-alignment"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        part = part_path(weights / "smile_official_weights.zip", srv.url("/stall/a.zip"))
        watcher = subprocess.Popen(["bash", "-c", f'for i in $(seq 1200); do [ -s "{part}" ] && break; sleep 0.05; '
                                                  f'done; kill -INT {proc.pid}'])
        out, err = proc.communicate(timeout=120)
        watcher.wait(10)
    assert proc.returncode == 2 and "cancelled" in err and "Traceback" not in err, err[-2000:]
    assert part.is_file() and 0 < part.stat().st_size < len(small_archive) and installed() == {}


def test_evaluation_networks_are_recognised_even_from_files_older_than_batchnorm_counters(weights, tmp_path):
    from smile_studio.nets.lpips import lpips_heads
    from smile_studio.nets.pose import HopeNet
    from smile_studio.weights import recognise

    old = {k: v for k, v in HopeNet().state_dict().items() if not k.endswith("num_batches_tracked")}
    assert recognise(old) == ["hopenet"] and recognise(lpips_heads().state_dict()) == ["lpips"]
    src = tmp_path / "eval"
    src.mkdir()
    torch.save(old, src / "pose_model.pkl")  # HopeNet's official file is a .pkl (a state_dict all the same)
    assert list(import_path(src).installed) == ["hopenet"] and (weights / "hopenet_robust_alpha1.pkl").is_file()


@pytest.fixture
def small_disk(tmp_path):
    """A real 40 MB filesystem (tmpfs), where root may mount one; elsewhere the simulated full-disk test covers
    the refusal."""
    import subprocess

    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root; test_a_full_disk_is_refused_before_writing covers this")
    yield mnt
    subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_disk_that_really_fills_up_leaves_no_installed_file(small_disk, monkeypatch):
    """A 67 MB archive of unknown size onto a 40 MB disk: the write fails with ENOSPC, the message says so, and no
    file is installed under a final name."""
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(small_disk))
    monkeypatch.setattr("smile_studio.weights.fetch.FREE_MARGIN", 0)
    blob = _zip({"wing.ckpt": _bytes(_fan()), "F.pt": _bytes(_mapping())})
    assert len(blob) > 60 * 2**20
    with WeightsServer() as srv:
        srv.files["/a.zip"] = blob
        with pytest.raises(FetchError, match="No space left|MB free") as info:
            fetch_official([srv.url("/nolength/a.zip")], log=lambda s: None)
    assert "smile_official_weights.zip" in str(info.value) or "MB free" in str(info.value)
    assert installed() == {} and not (small_disk / "smile_official_weights.zip").exists()


def test_import_from_a_tar_archive_and_a_tar_with_a_link_is_refused(weights, tmp_path):
    import tarfile

    fan = tmp_path / "model.ckpt"
    fan.write_bytes(_bytes(_fan()))
    good = tmp_path / "w.tar.gz"
    with tarfile.open(good, "w:gz") as tf:
        tf.add(fan, arcname="release/model.ckpt")
    assert list(import_path(good).installed) == ["fan"]
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tf:
        tf.add(fan, arcname="model.ckpt")
        link = tarfile.TarInfo("escape.ckpt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(ImportRefused, match="is a link"):
        import_path(bad, tmp_path / "other")


def test_a_single_checkpoint_file_is_imported_as_itself(weights, tmp_path):
    single = tmp_path / "2DFAN-or-anything.pth.tar"  # PyTorch checkpoints are zips: not to be taken for archives
    single.write_bytes(_bytes(_fan()))
    assert list(import_path(single).installed) == ["fan"]


def test_status_shows_long_names_and_what_each_file_enables_whole(weights, capsys):
    assert main(["weights", "status"]) == 1
    out = capsys.readouterr().out
    for c in CHECKPOINT_BY_KEY.values():
        assert any(line.startswith(c.filename + " ") and c.enables in line for line in out.splitlines()), c.key


def test_an_empty_or_wrong_answer_without_a_length_is_not_an_archive_and_the_next_source_is_tried(weights,
                                                                                                 small_archive):
    readme = _zip({"README.txt": b"no weights here"})
    with WeightsServer() as srv:
        srv.files["/empty.zip"] = b""
        srv.files["/readme.zip"] = readme
        srv.files["/a.zip"] = small_archive
        report = fetch_official([srv.url("/nolength/empty.zip"), srv.url("/readme.zip"), srv.url("/a.zip")],
                                log=lambda s: None, retries=0)
    assert set(report.installed) == {"fan", "sem_F"}
    record = json.loads((weights / "fetched.json").read_text())
    assert [e["source"].rsplit("/", 1)[-1] for e in record] == ["a.zip"]  # only the archive that installed


def test_a_resume_of_a_file_that_changed_size_on_the_server_starts_again(tmp_path, small_archive):
    dest = tmp_path / "a.zip"
    with WeightsServer() as srv:
        srv.files["/a.zip"] = small_archive
        url = srv.url("/a.zip")
        left_part(dest, url, b"x" * 1000, len(small_archive) + 500)  # an older, longer file (no validators)
        download(url, dest)
        assert [r for _, r in srv.requests] == ["bytes=1000-", None]
    assert dest.read_bytes() == small_archive


def test_a_drive_resume_follows_a_confirmation_page_that_refuses_the_range(tmp_path, small_archive):
    dest = tmp_path / "a.zip"
    with WeightsServer() as srv:
        srv.files["/FILEID9"] = small_archive
        srv.cuts["/FILEID9"] = 1
        url = srv.url("/drive416/uc?export=download&id=FILEID9")
        with pytest.raises(FetchError):
            download(url, dest, retries=0)
        kept = part_path(dest, url).stat().st_size
        download(url, dest)
        assert srv.requests[-1][0].startswith("/drive/download") and srv.requests[-1][1] == f"bytes={kept}-"
    assert dest.read_bytes() == small_archive
