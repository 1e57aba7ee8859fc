"""SMILE_SEM, FAN, parser and attribute networks: official layouts, strict safe loading, golden equality,
eval noise, and the attribute-editing API with golden-weight networks."""

import json
import re

import numpy as np
import pytest
import torch

from smile_studio.core.labels import ATTRIBUTES, label_vector
from smile_studio.engines.base import LayoutRequest
from smile_studio.nets.attributes import AttNet
from smile_studio.nets.checkpoint import CheckpointError
from smile_studio.nets.fan import FAN
from smile_studio.nets.golden import aux_checks, sem_checks, synth_state_dict
from smile_studio.nets.parser import BiSeNet
from smile_studio.nets.sem import Discriminator, MappingNetwork, SemGenerator, StyleEncoder, eval_noise


def _listing(shared_dir, size, net):
    text = (shared_dir / "docs" / "smile_sem_state_dict.txt").read_text()
    section = text.split("SECTION 2")[0] if size == 256 else text.split("SECTION 2")[1].split("SECTION 3")[0]
    block = section.split(f"## {net} ")[1].split("\n## ")[0]
    return [(k, tuple(int(x) for x in s.split(",") if x.strip()))
            for k, s in re.findall(r"^(\S+)\t\(([\d, ]*)\)", block, re.M)]


@pytest.mark.parametrize("size", [256, 512])
@pytest.mark.parametrize("net,cls", [("G", SemGenerator), ("F", MappingNetwork), ("S", StyleEncoder),
                                     ("D", Discriminator)])
def test_state_dicts_equal_official_listing(shared_dir, size, net, cls):
    model = cls() if cls is MappingNetwork else cls(size)
    ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert ours == _listing(shared_dir, size, net)


@pytest.mark.parametrize("manifest,factory", [("sem256_FAN.json", FAN), ("bisenet.json", lambda: BiSeNet(19)),
                                              ("attnet_rgb.json", lambda: AttNet().model),
                                              ("sem256_G.json", lambda: SemGenerator(256))])
def test_state_dicts_equal_manifests(golden_dir, manifest, factory):
    entries = json.loads((golden_dir / "manifests" / manifest).read_text())
    ours = [(k, list(v.shape)) for k, v in factory().state_dict().items()]
    assert ours == [(e["key"], e["shape"]) for e in entries]


def test_loading_strips_module_prefix_and_names_bad_keys(tmp_path, golden_dir):
    sd = synth_state_dict(golden_dir / "manifests" / "sem256_S.json", 1)
    p = tmp_path / "smileSEM_S_ema.pth"
    torch.save({f"module.{k}": v for k, v in sd.items()}, p)
    enc = StyleEncoder(256)
    enc.load_official(p)
    assert torch.equal(enc.state_dict()["shared.0.weight"], sd["shared.0.weight"])
    bad = dict(sd)
    bad["unshared.3.weight"] = torch.zeros(64, 512)
    torch.save(bad, p)
    with pytest.raises(CheckpointError, match=r"smileSEM_S_ema\.pth.*'unshared\.3\.weight' has shape \(64, 512\)"):
        enc.load_official(p)
    with pytest.raises(CheckpointError, match=r"smileSEM_S_ema\.pth.*missing key 'from_rgb\.weight'"):
        SemGenerator(256).load_official(p)
    fan_sd = synth_state_dict(golden_dir / "manifests" / "sem256_FAN.json", 1)
    torch.save({"state_dict": dict(fan_sd, extra_key=torch.zeros(1)), "epoch": 3}, tmp_path / "wing.ckpt")
    FAN().load_official(tmp_path / "wing.ckpt")  # the official loader also ignores keys it does not know


def test_eval_noise_matches_official_and_leaves_rng_alone(golden_dir):
    d = np.load(golden_dir / "sem256_seed1.npz")
    torch.manual_seed(77)
    expected = torch.rand(4)
    torch.manual_seed(77)
    for h in (8, 16, 32, 64, 128, 256):
        assert torch.equal(eval_noise(1, h, h), torch.from_numpy(d[f"eval_noise_{h}"]))
        assert torch.equal(eval_noise(2, h, h), torch.from_numpy(d[f"eval_noise_b2_{h}"]))
    assert torch.equal(torch.rand(4), expected)


@pytest.fixture(scope="module")
def sem_fixture(golden_dir):
    d = np.load(golden_dir / "sem256_seed1.npz")
    return {k: d[k] for k in d.files}, json.loads((golden_dir / "sem256_seed1.json").read_text())


def test_golden_sem_and_fan(sem_fixture, golden_dir):
    d, meta = sem_fixture
    checks = [c for c in sem_checks(d, meta, golden_dir / "manifests") if not isinstance(c, str)]
    names = {c.name for c in checks}
    assert {"fan_raw", "pp_x", "pp_x2", "s_lat", "s_A", "s_B", "d_A", "g_lat", "g_lat_argmax", "g_ref", "g_b2",
            "g_lat_fanA", "eval_noise_256"} <= names
    assert not [c for c in checks if not c.passed]


def test_golden_parser_and_attributes(golden_dir):
    d = np.load(golden_dir / "aux_seed1.npz")
    meta = json.loads((golden_dir / "aux_seed1.json").read_text())
    checks = [c for c in aux_checks({k: d[k] for k in d.files}, meta, golden_dir / "manifests")
              if not isinstance(c, str)]
    assert len(checks) == 10 and all(c.passed for c in checks), [c for c in checks if not c.passed]


# -- the editing API ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def editor(golden_dir):
    from smile_studio.engines.sem_edit import SemEditor

    m = golden_dir / "manifests"
    nets = []
    for cls, name in ((SemGenerator, "G"), (MappingNetwork, "F"), (StyleEncoder, "S")):
        net = cls() if cls is MappingNetwork else cls(256)
        net.load_official(synth_state_dict(m / f"sem256_{name}.json", 1))
        nets.append(net)
    fan = FAN()
    fan.load_official(synth_state_dict(m / "sem256_FAN.json", 1))
    return SemEditor(*nets, fan=fan)


STATE = {"gender": "female", "eyeglasses": "off", "bald": "off", "bangs": "off", "earrings": "on", "hat": "off"}


@pytest.mark.parametrize("target", [{"eyeglasses": "on"}, {"eyeglasses": "on", "hat": "on"},
                                    {"gender": "male", "eyeglasses": "on", "bald": "on", "bangs": "on",
                                     "earrings": "off", "hat": "on"}])
def test_edit_changes_exactly_the_requested_bits_and_slots(editor, sem_fixture, target):
    d, _ = sem_fixture
    lab = d["labA"]
    res = editor.edit(LayoutRequest(lab, STATE, target, seed=5))
    changed = [i for i, a in enumerate(ATTRIBUTES) if a.key in target]
    assert res.slots == tuple(changed)
    flipped = np.nonzero(res.y_src != res.y_trg)[0]
    assert sorted({int(i) // 2 for i in flipped}) == changed and len(flipped) == 2 * len(changed)
    assert np.array_equal(res.y_src, label_vector(STATE))
    for k in range(6):
        same = torch.equal(res.style[0, k], res.source_style[0, k])
        assert same == (k not in changed), f"slot {k}"
    assert res.maps.shape == (1, 256, 256) and res.maps.dtype == np.uint8
    again = editor.edit(LayoutRequest(lab, STATE, target, seed=5))
    assert np.array_equal(again.maps, res.maps)
    other = editor.edit(LayoutRequest(lab, STATE, target, seed=6))
    assert not torch.equal(other.style, res.style)


def test_edit_equals_the_networks_run_whole_without_caches(editor, sem_fixture):
    """The editor's shortcuts (only the mapping heads of the changed values, cached heatmaps, style, encoder
    features and FAN skips) give what the whole networks give: the replaced slots are the full mapping
    network's truncated output for the target label, and the map is G's argmax on that style."""
    from smile_studio.nets.runtime import image_tensor
    from smile_studio.nets.sem import NOISE_DIM

    d, _ = sem_fixture
    photo = ((d["rgbA"][0].transpose(1, 2, 0) + 1) * 127.5).round().astype(np.uint8)
    target = {"eyeglasses": "on", "hat": "on"}
    editor.edit(LayoutRequest(d["labA"], STATE, {"bald": "on"}, seed=1, photo=photo))  # caches filled
    res = editor.edit(LayoutRequest(d["labA"], STATE, target, seed=7, psi=0.7, photo=photo))
    with torch.no_grad():
        z = torch.randn(NOISE_DIM, generator=torch.Generator().manual_seed(7))[None]
        y_trg = torch.from_numpy(label_vector({**STATE, **target}))[None]
        full = editor.F(z, y_trg)  # (1, 6, 64), every head
        mean = editor.F.all_heads(torch.randn(1000, NOISE_DIM, generator=torch.Generator().manual_seed(12345))
                                  ).mean(0)[y_trg[0].bool()]
        want = mean + 0.7 * (full[0] - mean)
        for k in res.slots:
            assert torch.allclose(res.style[0, k], want[k], atol=1e-5), k
        x = editor.one_hot(d["labA"])
        fan = editor.fan.get_heatmap(image_tensor(photo) / 127.5 - 1)
        logits = editor.G(x, res.style, fan)
    assert (logits.argmax(1).numpy().astype(np.uint8) == res.maps).mean() > 0.9999


def test_psi_zero_gives_the_domain_mean_and_reference_mode(editor, sem_fixture):
    d, _ = sem_fixture
    res = editor.edit(LayoutRequest(d["labA"], STATE, {"hat": "on"}, seed=1, psi=0.0, variations=2))
    hat_slot = 5
    mean = editor.domain_means()[torch.from_numpy(res.y_trg).bool()][hat_slot]
    assert torch.allclose(res.style[0, hat_slot], mean) and torch.allclose(res.style[1, hat_slot], mean)
    ref_state = dict(STATE, gender="male", earrings="off")
    ref = editor.edit(LayoutRequest(d["labA"], STATE, {"gender": "male"}, reference_labels=d["labB"],
                      reference_attributes=ref_state))
    s_b = editor.source_style(d["labB"], label_vector(ref_state))
    assert torch.equal(ref.style[0, 0], s_b[0, 0])  # the gender slot comes from the reference
    assert torch.equal(ref.style[0, 1:], ref.source_style[0, 1:])  # every other slot from the source


def test_batched_variations_equal_single_runs(editor, sem_fixture):
    d, _ = sem_fixture
    batch = editor.edit(LayoutRequest(d["labA"], STATE, {"bangs": "on"}, seed=10, variations=3))
    single = editor.edit(LayoutRequest(d["labA"], STATE, {"bangs": "on"}, seed=11, variations=1))
    assert batch.seeds == (10, 11, 12)
    # the mapping network runs batched: the same style up to float summation order
    assert torch.allclose(batch.style[1], single.style[0], atol=1e-5)
    assert not torch.allclose(batch.style[0], batch.style[1])


def test_unencodable_states_are_refused(editor, sem_fixture):
    d, _ = sem_fixture
    with pytest.raises(ValueError, match="gender"):
        editor.edit(LayoutRequest(d["labA"], STATE, {"gender": "both"}))


def _official_modulated_conv(conv, x, w, upsample):
    """The official formulation: per-sample weights W * m, demodulated, as one grouped convolution."""
    from torch.nn import functional as F
    if upsample:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
    b = x.shape[0]
    m = conv.affine(w) + 1
    weights = conv.weight[None] * m[:, None, :, None, None]
    if conv.demod:
        weights = weights * torch.rsqrt((weights**2).sum((2, 3, 4), keepdim=True) + 1e-8)
    out = F.conv2d(x.reshape(1, -1, *x.shape[2:]), weights.reshape(-1, *conv.weight.shape[1:]),
                   padding=(conv.k - 1) // 2, groups=b)
    return out.reshape(b, -1, *out.shape[2:])


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("k, upsample, side", [(3, True, 8), (3, True, 20), (3, False, 8), (3, False, 20),
                                               (1, False, 20)])
def test_modulated_convolution_paths_equal_the_official_formulation(channels_last, batch, k, upsample, side):
    """Every inference path of Conv2DMod (coarse levels with reordered weights and the polyphase upsampling,
    finer levels with m and d folded into the weights for one image, the modulated input for a batch) and the
    training path give the official per-sample grouped convolution."""
    from smile_studio.nets.sem import PACK_MAX_SIDE, Conv2DMod

    assert (side <= PACK_MAX_SIDE) == (side == 8)
    torch.manual_seed(side + 10 * batch + k)
    conv = Conv2DMod(24, 16, 144, k, demod=k == 3)
    x = torch.randn(batch, 24, side, side)
    w = torch.randn(batch, 144)
    if channels_last:
        conv, x = conv.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = _official_modulated_conv(conv, x, w, upsample)
        out = conv(x, w, upsample=upsample)
        again = conv(x, w, upsample=upsample)  # cached weights (reordered, polyphase) reused
    train = conv(x, w, upsample=upsample)
    assert train.requires_grad
    for got in (out, again, train.detach()):
        assert got.shape == ref.shape == (batch, 16, side * (1 + upsample), side * (1 + upsample))
        assert torch.allclose(got, ref, atol=2e-5, rtol=1e-4), (got - ref).abs().max()


def test_generator_inference_equals_its_training_formulation(sem_fixture, golden_dir):
    """The whole generator as the editor runs it (channels_last, reordered coarse weights, polyphase upsampling,
    folded modulations) against the plain formulation autograd uses, one map and a batch of two styles (the
    official eval noise depends on the batch size: a single style is compared with the first of the batch)."""
    d, _ = sem_fixture
    gen = SemGenerator(256)
    gen.load_official(synth_state_dict(golden_dir / "manifests" / "sem256_G.json", 1))
    gen.eval().requires_grad_(False)
    x = torch.from_numpy(d["xA"])
    fan = (torch.from_numpy(d["pp_x"]), torch.from_numpy(d["pp_x2"]))
    style = torch.randn(2, 6, 64, generator=torch.Generator().manual_seed(3))
    with torch.enable_grad():
        plain = gen(x.requires_grad_(True), style, fan).detach()
    fast = gen.to(memory_format=torch.channels_last)
    with torch.no_grad():
        got = fast(x.detach().contiguous(memory_format=torch.channels_last), style, fan)
        one = fast(x.detach().contiguous(memory_format=torch.channels_last), style[:1], fan)
    scale = plain.abs().max()
    assert (got - plain).abs().max() <= 1e-5 * scale and (one[0] - plain[0]).abs().max() <= 1e-5 * scale
    assert (got.argmax(1) == plain.argmax(1)).float().mean() > 0.9999


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("side", [8, 16, 32, 40])
def test_downsampling_block_inference_equals_its_training_formulation(channels_last, side):
    """The pooled 4x4 form of conv-then-pool (reordered once at coarse sides, kept as it is at fine ones, not used
    below POOLED_MIN_SIDE) and the layout-keeping instance norm give the plain block's output."""
    from smile_studio.nets.sem import POOLED_MIN_SIDE, ResBlk

    torch.manual_seed(side)
    block = ResBlk(24, 32, normalize=True, downsample=True)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # instance norms' affine away from 1 and 0
    block.requires_grad_(False)
    x = torch.randn(2, 24, side, side) * 2 + 0.5
    if channels_last:
        block, x = block.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    with torch.enable_grad():
        plain = block(x)
    with torch.no_grad():
        fast, again = block(x), block(x)
    assert fast.shape == plain.shape == (2, 32, side // 2, side // 2)
    assert torch.allclose(fast, plain, atol=1e-5, rtol=1e-4) and torch.equal(fast, again)
    assert ("_pooled" in vars(block) or "_packed_pooled" in vars(block)) == (side >= POOLED_MIN_SIDE)
