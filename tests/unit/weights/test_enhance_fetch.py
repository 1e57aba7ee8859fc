"""`weights fetch --enhance` against a real HTTP server on 127.0.0.1 serving Real-ESRGAN files built here from our
own network classes (laid out as the published files: the state dict under ``params`` / ``params_ema``): the
published sha256 is checked, a file of another network or a pickle payload is refused and removed."""

from __future__ import annotations

import hashlib
import io
import pickle

import pytest
import torch

from smile_studio.cli import main
from smile_studio.weights import checkpoint_path
from smile_studio.weights.fetch import FetchError, fetch_published
from smile_studio.weights.registry import CHECKPOINT_BY_KEY, ENHANCE_KEYS

from .server import WeightsServer


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def synthetic_enhancer(key: str, seed: int = 0) -> bytes:
    """A file of registry entry ``key``'s network with seeded weights, in the published layout."""
    torch.manual_seed(seed)
    net = CHECKPOINT_BY_KEY[key].builder()
    return _bytes({"params": net.state_dict()} if key == "enhance_general" else {"params_ema": net.state_dict()})


@pytest.fixture
def weights(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(folder))
    return folder


@pytest.fixture(scope="module")
def general() -> bytes:
    return synthetic_enhancer("enhance_general")


def test_every_enhancer_has_a_published_digest_url_and_licence():
    assert ENHANCE_KEYS == ("enhance_general", "enhance_x4plus", "enhance_x2plus")
    for key in ENHANCE_KEYS:
        c = CHECKPOINT_BY_KEY[key]
        assert len(c.sha256) == 64 and int(c.sha256, 16) >= 0
        assert c.url.startswith("https://github.com/xinntao/Real-ESRGAN/releases/download/")
        assert c.url.endswith("/" + c.filename)
        assert "BSD-3-Clause" in c.licence and c.enhancer


def test_a_file_that_is_not_the_published_one_is_refused_and_removed(weights, general):
    with WeightsServer() as srv:
        srv.files["/mirror/realesr-general-x4v3.pth"] = general
        with pytest.raises(FetchError, match="is not the published file's"):
            fetch_published(("enhance_general",), base_url=srv.url("/mirror"), log=lambda s: None)
    assert not (weights / "realesr-general-x4v3.pth").exists()
    assert not any(weights.glob("*.part"))


def test_the_published_bytes_install_and_load_after_a_dropped_connection(weights, general):
    from smile_studio.engines.enhance import Enhancer

    digest = hashlib.sha256(general).hexdigest()
    lines = []
    with WeightsServer() as srv:
        srv.files["/mirror/realesr-general-x4v3.pth"] = general
        srv.cuts["/mirror/realesr-general-x4v3.pth"] = 1  # the first transfer dies a third of the way
        paths = fetch_published(("enhance_general",), base_url=srv.url("/mirror"), log=lines.append,
                                digests={"enhance_general": digest})
    assert paths == [weights / "realesr-general-x4v3.pth"] == [checkpoint_path("enhance_general")]
    assert paths[0].read_bytes() == general
    assert any(digest in line and "BSD-3-Clause" in line for line in lines)  # sha256 and licence said
    enhancer = Enhancer.load("enhance_general")
    assert enhancer.scale == 4 and enhancer.record()["file"] == "realesr-general-x4v3.pth"


def test_a_file_of_another_network_is_refused_even_with_its_own_digest(weights):
    from smile_studio.nets.parser import BiSeNet

    torch.manual_seed(0)
    parser = _bytes(BiSeNet(19).state_dict())  # a segmentation network, not a restoration one
    with WeightsServer() as srv:
        srv.files["/m/RealESRGAN_x4plus.pth"] = parser
        with pytest.raises(FetchError, match="missing key 'conv_first.weight'"):
            fetch_published(("enhance_x4plus",), base_url=srv.url("/m"), log=lambda s: None,
                            digests={"enhance_x4plus": hashlib.sha256(parser).hexdigest()})
    assert not (weights / "RealESRGAN_x4plus.pth").exists()


def test_the_x2_file_is_not_taken_for_the_x4_one(weights):
    x2 = synthetic_enhancer("enhance_x2plus")
    with WeightsServer() as srv:
        srv.files["/m/RealESRGAN_x4plus.pth"] = x2
        with pytest.raises(FetchError, match="conv_first.weight' has shape \\(64, 12, 3, 3\\)"):
            fetch_published(("enhance_x4plus",), base_url=srv.url("/m"), log=lambda s: None,
                            digests={"enhance_x4plus": hashlib.sha256(x2).hexdigest()})


class _Payload:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('x')",))


def test_a_pickle_payload_is_refused_and_never_runs(weights, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = pickle.dumps({"params": _Payload()})
    with WeightsServer() as srv:
        srv.files["/m/realesr-general-x4v3.pth"] = evil
        with pytest.raises(FetchError, match="refused|not a readable checkpoint"):
            fetch_published(("enhance_general",), base_url=srv.url("/m"), log=lambda s: None,
                            digests={"enhance_general": hashlib.sha256(evil).hexdigest()})
    assert not (tmp_path / "PWNED").exists()
    assert not (weights / "realesr-general-x4v3.pth").exists()


def test_cli_fetch_enhance_names_the_problem_and_refuses_unknown_keys(weights, general, capsys):
    with WeightsServer() as srv:
        srv.files["/m/realesr-general-x4v3.pth"] = general
        assert main(["weights", "fetch", "--enhance", "--enhance-from", srv.url("/m")]) != 0
    err = capsys.readouterr().err
    assert "realesr-general-x4v3.pth" in err and "not the published file" in err
    assert main(["weights", "fetch", "--enhance", "enhance_x8"]) != 0
    assert "no network enhance_x8" in capsys.readouterr().err
