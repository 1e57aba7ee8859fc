"""Files our trainer writes carry the architecture each network was built with, and loading builds from that
record instead of guessing from the keys; the files stay loadable by the official code's plain strict
``load_state_dict``, and files without the record (the released ones) still load by their keys."""

from __future__ import annotations

import pytest
import torch

from smile_studio.nets.checkpoint import CheckpointError, record_architecture, recorded_architecture
from smile_studio.nets.sem import MappingNetwork, SemGenerator, StyleEncoder
from smile_studio.nets.syn import SynGenerator
from smile_studio.training.distributed import recorded


def _saved(tmp_path, name, obj):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_the_record_survives_saving_and_the_official_strict_load(tmp_path):
    net = StyleEncoder(64, base=8, max_dim=32)
    path = _saved(tmp_path, "S.pth", recorded(net))
    loaded = torch.load(path, weights_only=True)
    assert recorded_architecture(loaded) == {"network": "StyleEncoder", "size": 64, "base": 8, "max_dim": 32}
    StyleEncoder(64, base=8, max_dim=32).load_state_dict(loaded, strict=True)  # what the official code does
    syn = SynGenerator(64, width=0.0625, n_mlp=2)
    box = torch.load(_saved(tmp_path, "syn.pth", {"g_ema": recorded(syn)}), weights_only=True)
    assert recorded_architecture(box["g_ema"]) == {"network": "SynGenerator", "size": 64, "width": 0.0625,
                                                   "n_mlp": 2}


@pytest.mark.parametrize("make", [lambda: SemGenerator(64, base=8, max_dim=32), lambda: MappingNetwork(32),
                                  lambda: StyleEncoder(64, base=8, max_dim=32),
                                  lambda: SynGenerator(64, width=0.0625, n_mlp=2)])
def test_a_trained_file_is_built_from_its_record(tmp_path, make, monkeypatch):
    net = make()
    box = {"g_ema": recorded(net)} if isinstance(net, SynGenerator) else recorded(net)
    path = _saved(tmp_path, "net.pth", box)
    # the record alone decides: the guess from the keys is never made
    from smile_studio.nets import checkpoint

    def no_guessing(source, shaped_like, *args, **kw):
        def guessed(sd):
            raise AssertionError("the architecture was guessed from the keys")

        return checkpoint.build_from_checkpoint(source, guessed, *args, **kw)

    for module in ("smile_studio.nets.sem", "smile_studio.nets.syn"):
        monkeypatch.setattr(f"{module}.build_from_checkpoint", no_guessing)
    loaded = type(net).from_checkpoint(path)
    assert loaded.architecture == net.architecture
    for a, b in zip(net.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_the_record_is_preferred_to_the_keys_and_checked(tmp_path):
    net = SynGenerator(64, width=0.0625, n_mlp=2)
    # a record that disagrees with the weights: the network is built as recorded, and the strict load says why
    wrong = record_architecture(net.state_dict(), "SynGenerator", size=64, width=0.0625, n_mlp=4)
    with pytest.raises(CheckpointError, match="missing key 'style.3"):
        SynGenerator.from_checkpoint(_saved(tmp_path, "wrong.pth", {"g_ema": wrong}))
    other = recorded(StyleEncoder(64, base=8, max_dim=32))
    with pytest.raises(CheckpointError, match="holds a StyleEncoder, not a SemGenerator"):
        SemGenerator.from_checkpoint(_saved(tmp_path, "other.pth", other))
    bad = record_architecture(net.state_dict(), "SynGenerator", size=100, width=0.0625, n_mlp=2)
    with pytest.raises(CheckpointError, match="its shapes do not fit"):
        SynGenerator.from_checkpoint(_saved(tmp_path, "bad.pth", {"g_ema": bad}))


def test_a_file_without_a_record_is_read_by_its_keys(tmp_path):
    net = SynGenerator(64, width=0.0625, n_mlp=2)
    plain = dict(net.state_dict())  # a plain dict: no metadata at all, as other tools write
    assert recorded_architecture(plain) is None
    loaded = SynGenerator.from_checkpoint(_saved(tmp_path, "plain.pth", {"g_ema": plain}))
    assert loaded.architecture == net.architecture


def test_a_record_is_checked_before_anything_is_allocated_and_a_stranger_one_is_ignored(tmp_path):
    net = SynGenerator(64, width=0.0625, n_mlp=2)
    # a record claiming a network ten thousand times wider: refused from the shapes, nothing of that size made
    huge = record_architecture(net.state_dict(), "SynGenerator", size=64, width=1e4, n_mlp=2)
    with pytest.raises(CheckpointError, match="has shape"):
        SynGenerator.from_checkpoint(_saved(tmp_path, "huge.pth", {"g_ema": huge}))
    # arguments this version does not know (a file from another version): the keys are read instead
    other = record_architecture(net.state_dict(), "SynGenerator", size=64, width=0.0625, n_mlp=2, blur="fir")
    assert SynGenerator.from_checkpoint(_saved(tmp_path, "other.pth", {"g_ema": other})).architecture == \
        net.architecture
    # a record that is not one (not a mapping, no network's name, values that are not numbers) is no record
    for bad in ("x", {"size": 64}, {"network": "SynGenerator", "size": "64"}):
        sd = net.state_dict()
        sd._metadata[""]["smile_studio.architecture"] = bad
        assert recorded_architecture(sd) is None
    sd = net.state_dict()
    sd._metadata = ["not", "a", "mapping"]
    assert recorded_architecture(sd) is None
