"""SMILE_SYN: official key layout, strict safe loading, golden equality, style helpers, batching."""

import re

import numpy as np
import pytest
import torch

from smile_studio.nets.checkpoint import CheckpointError
from smile_studio.nets.golden import compare_continuous, syn_checks, synth_state_dict
from smile_studio.nets.syn import (
    SynGenerator,
    apply_region_codes,
    fill_missing_codes,
    mix_styles,
    official_render,
    one_hot,
)
from smile_studio.nets.syn_fast import map_features, map_features_update, synthesize
from smile_studio.nets.syn_fast_layers import prepared


def _listing(shared_dir, size):
    text = (shared_dir / "docs" / "smile_syn_state_dict.txt").read_text()
    section = text.split("SECTION 2")[0] if size == 256 else text.split("SECTION 2")[1]
    return [(k, tuple(int(x) for x in s.split(",") if x.strip()))
            for k, s in re.findall(r"^(\S+)\t\(([\d, ]*)\)", section, re.M)]


@pytest.mark.parametrize("size", [256, 512])
def test_state_dict_equals_official_listing(shared_dir, size):
    ours = [(k, tuple(v.shape)) for k, v in SynGenerator(size).state_dict().items()]
    assert ours == _listing(shared_dir, size)
    assert len(ours) == {256: 752, 512: 902}[size]


@pytest.fixture(scope="module")
def golden_syn(golden_dir):
    d = np.load(golden_dir / "syn256_seed1.npz")
    sd = synth_state_dict(golden_dir / "manifests" / "syn256_G.json", 1)
    gen = SynGenerator(256).eval()
    gen.load_official(sd)
    return {k: d[k] for k in d.files}, sd, gen


def test_official_layout_checkpoint_loads_strict(tmp_path, golden_syn):
    _, sd, gen = golden_syn
    path = tmp_path / "smileSYN_256.pth"
    torch.save({"g_ema": sd, "g": {"x": torch.zeros(1)}, "d": {}, "g_optim": {}}, path)
    fresh = SynGenerator(256)
    fresh.load_official(path)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_bad_checkpoints_name_file_and_first_bad_key(tmp_path, golden_syn):
    _, sd, _ = golden_syn
    gen = SynGenerator(256)
    wrong = dict(sd)
    wrong["conv1.conv.weight"] = torch.zeros(3, 3)
    p = tmp_path / "wrong.pth"
    torch.save({"g_ema": wrong}, p)
    with pytest.raises(CheckpointError, match=r"wrong\.pth.*'conv1\.conv\.weight' has shape \(3, 3\)"):
        gen.load_official(p)
    missing = {k: v for k, v in sd.items() if k != "style.3.bias"}
    torch.save({"g_ema": missing}, p)
    with pytest.raises(CheckpointError, match=r"missing key 'style\.3\.bias'"):
        gen.load_official(p)
    good = tmp_path / "good.pth"
    torch.save({"g_ema": sd}, good)
    trunc = tmp_path / "trunc.pth"
    trunc.write_bytes(good.read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match=r"trunc\.pth.*truncated or damaged"):
        gen.load_official(trunc)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        gen.load_official(tmp_path / "absent.pth")
    sem512 = SynGenerator(512)
    with pytest.raises(CheckpointError, match="good.pth"):
        sem512.load_official(good)


def test_pickled_code_is_never_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    p = tmp_path / "evil.pth"
    torch.save({"g_ema": Evil()}, p)
    with pytest.raises(CheckpointError, match="refused"):
        SynGenerator(256).load_official(p)


def test_golden_outputs_match(golden_syn, golden_dir):
    d, _, _ = golden_syn
    import json

    meta = json.loads((golden_dir / "syn256_seed1.json").read_text())
    results = [c for c in syn_checks(d, meta, golden_dir / "manifests") if not isinstance(c, str)]
    names = {c.name for c in results}
    assert {"codes_A", "codes_B", "style_mapping", "fill_codes", "noise_00", "noise_10", "img_i", "img_ii",
            "img_iii", "img_iv"} <= names
    failed = [c for c in results if not c.passed]
    assert not failed, failed


def test_the_fast_path_equals_the_official_forward(golden_syn):
    d, sd, gen = golden_syn
    ref = SynGenerator(256).eval()
    ref.load_official(sd)
    sem = torch.from_numpy(d["semE"])
    style = torch.from_numpy(d["style_iv"])
    a = synthesize(gen, sem, style)
    b = official_render(ref, sem, style)
    assert compare_continuous("fast vs reference", a.numpy(), b.numpy()).passed


def test_make_noise_leaves_global_rng_untouched(golden_syn):
    d, _, gen = golden_syn
    torch.manual_seed(1234)
    expected = torch.randn(3)
    torch.manual_seed(1234)
    noise = gen.make_noise(0)
    assert torch.equal(torch.randn(3), expected)
    assert torch.equal(noise[0], torch.from_numpy(d["noise_00"]))
    assert len(noise) == 12 and noise[-1].shape[-1] == 512  # the official list ends with an unused 2S x 2S entry


def test_batch_and_cached_map_features_match_single_renders(golden_syn):
    d, _, gen = golden_syn
    sem = torch.from_numpy(d["semA"])
    styles = torch.cat([torch.from_numpy(d["style_i"]), torch.from_numpy(d["style_ii"])]).view(2, 19, 64)
    feats = map_features(gen, sem)
    batch = synthesize(gen, sem, styles, features=feats)  # sem batch 1 broadcast over 2 styles
    assert batch.shape == (2, 3, 256, 256)
    for i, key in enumerate(["img_i", "img_ii"]):
        assert compare_continuous(key, batch[i:i + 1].numpy(), d[key]).passed
    both = synthesize(gen, sem.expand(2, -1, -1, -1).contiguous(), styles)
    assert compare_continuous("batched sem", both.numpy(), batch.numpy()).passed


def test_style_helpers_copy_whole_codes():
    a = torch.randn(2, 19, 64)
    b = torch.randn(2, 19, 64)
    mixed = mix_styles([a, b], [1 if j == 13 else 0 for j in range(19)])
    assert torch.equal(mixed[:, 13], b[:, 13]) and torch.equal(mixed[:, 12], a[:, 12])
    with pytest.raises(ValueError):
        mix_styles([a, b], [2] * 19)
    present = torch.ones(2, 19, dtype=torch.bool)
    present[:, 3] = False
    filled = fill_missing_codes(a, present, b)
    assert torch.equal(filled[:, 3], b[:, 3]) and torch.equal(filled[:, 4], a[:, 4])
    ref = b.clone()
    ref[0, 13] = 0  # the reference lacks hair in sample 0
    out = apply_region_codes(a, ref, [13], present)
    assert torch.equal(out[0, 13], a[0, 13]) and torch.equal(out[1, 13], b[1, 13])


def test_one_hot_matches_scatter_mask():
    lab = torch.tensor([[[0, 13], [18, 1]]])
    oh = one_hot(lab)
    assert oh.shape == (1, 19, 2, 2) and oh[0, 13, 0, 1] == 1 and oh.sum() == 4


def test_cli_verify_golden(golden_dir, capsys):
    from smile_studio.cli import main

    code = main(["verify-golden", str(golden_dir), "-q"])
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert re.search(r"(\d+) outputs checked, \1 passed, 0 failed", out)
    assert code == 0


@pytest.mark.parametrize("shape", [(1, 5, 7, 6, 9), (3, 4, 2, 1, 1), (2, 8, 8, 11, 4)])
def test_polyphase_transposed_conv_equals_conv_transpose(shape):
    from smile_studio.nets.onednn import conv_transpose3x3_s2, polyphase_weight

    b, cin, cout, h, w = shape
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.randn(b, cin, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(cout, cin, 3, 3, generator=g, dtype=torch.float64)
    out = conv_transpose3x3_s2(x, polyphase_weight(weight))
    ref = torch.nn.functional.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
    assert out.shape == ref.shape == (b, cout, 2 * h + 1, 2 * w + 1)
    assert torch.allclose(out, ref, rtol=0, atol=1e-12)


def test_bf16_renders_stay_close_to_float32(golden_syn):
    """The bf16 path (polyphase up-sampling convolutions on the CPU) renders what float32 renders, to bf16
    precision, for a single style and for a batch."""
    d, sd, _ = golden_syn
    gen = SynGenerator(256).eval()
    gen.load_official(sd)
    gen = gen.to(torch.bfloat16)
    sem = torch.from_numpy(d["semA"]).to(torch.bfloat16)
    styles = torch.cat([torch.from_numpy(d["style_i"]), torch.from_numpy(d["style_ii"])]).view(2, 19, 64)
    noise = [torch.from_numpy(d[k]) for k in sorted(k for k in d if k.startswith("noise_"))]
    single = synthesize(gen, sem, styles[:1].to(torch.bfloat16), noise)
    batch = synthesize(gen, sem, styles.to(torch.bfloat16), noise)
    assert "poly" in prepared(gen.convs[0].conv, torch.bfloat16)
    for out, keys in ((single, ["img_i"]), (batch, ["img_i", "img_ii"])):
        for i, key in enumerate(keys):
            ref = d[key][0]
            err = np.abs(out[i].float().numpy() - ref)
            assert err.max() <= 0.03 * np.abs(ref).max(), (key, err.max(), np.abs(ref).max())
            assert err.mean() <= 4e-3 * np.abs(ref).max()


@pytest.mark.parametrize("box", [(100, 60, 120, 90), (0, 0, 12, 256), (240, 230, 256, 256)])
def test_map_features_update_equals_a_full_recompute(golden_syn, box):
    """A stroke's features from the previous map's: the same SPADE terms, demodulations and render."""
    d, _, gen = golden_syn
    lab = torch.from_numpy(d["labA"]).long()[None]
    old = map_features(gen, one_hot(lab))
    y0, x0, y1, x1 = box
    lab2 = lab.clone()
    lab2[0, y0:y1, x0:x1] = torch.where(lab2[0, y0:y1, x0:x1] == 13, 1, 13)
    sem = one_hot(lab2)
    full, inc = map_features(gen, sem), map_features_update(gen, old, sem, box)
    assert set(inc.spade) == set(full.spade) and set(inc.demod) == set(full.demod)
    for k in full.spade:
        assert compare_continuous(k, inc.spade[k].numpy(), full.spade[k].numpy()).passed, k
    for k in full.demod:
        assert compare_continuous(k, inc.demod[k].numpy(), full.demod[k].numpy()).passed, k
        # the window sums behind it were updated by the box's contributions, its edges included
        assert torch.allclose(inc.sums[k], full.sums[k], rtol=1e-6), k  # the crops round their own way
    style = torch.from_numpy(d["style_iv"])
    a, b = synthesize(gen, sem, style, features=full), synthesize(gen, sem, style, features=inc)
    assert compare_continuous("render", b.numpy(), a.numpy()).passed
    assert not torch.equal(inc.spade["convs.9"], old.spade["convs.9"])  # the stroke did change the features
    spent = map_features_update(gen, old, sem, box, in_place=True)  # a stroke in the old features' own tensors
    assert spent.spade["convs.9"] is old.spade["convs.9"] and torch.equal(spent.spade["convs.9"], inc.spade["convs.9"])
    assert all(torch.equal(spent.sums[k], inc.sums[k]) for k in inc.sums)


def test_rendering_up_to_a_level_gives_the_skip_image_at_that_level(golden_syn):
    d, sd, gen = golden_syn
    ref = SynGenerator(256).eval()
    ref.load_official(sd)
    captured = {}
    forward = ref.to_rgbs[3].forward

    def capture(*args, **kwargs):
        captured["skip"] = forward(*args, **kwargs)
        return captured["skip"]

    ref.to_rgbs[3].forward = capture  # the 128x128 image the last level adds detail to
    sem, style = torch.from_numpy(d["semA"]), torch.from_numpy(d["style_i"])
    official_render(ref, sem, style)
    assert gen.levels() == (8, 16, 32, 64, 128, 256)
    coarse = synthesize(gen, sem, style, upto=128)
    assert coarse.shape == (1, 3, 128, 128)
    assert compare_continuous("skip 128", coarse.numpy(), captured["skip"].numpy()).passed
    half = sem[:, :, ::2, ::2].contiguous()  # the map given at the level's side: the same image
    assert compare_continuous("half map", synthesize(gen, half, style, upto=128).numpy(), coarse.numpy()).passed
    with pytest.raises(ValueError):
        synthesize(gen, sem, style, upto=100)


def test_the_style_map_painted_in_one_contraction_equals_the_official_loop(golden_syn):
    """``RegionModConv.style_map`` (one contraction, what the forward uses, differentiable) paints what the
    official per-region loop paints (one non-zero term per pixel): bit for bit for one face; for a batch the
    region MLPs run as one matrix product instead of one per face, which rounds the last bit its own way."""
    d, _, gen = golden_syn
    style = torch.randn(2, 19, 64, generator=torch.Generator().manual_seed(5))
    sem = torch.nn.functional.interpolate(one_hot(torch.from_numpy(np.stack([d["labA"], d["labB"]]))), (32, 32),
                                          mode="nearest")
    with torch.no_grad():
        for conv in (gen.convs[2].conv, gen.to_rgbs[1].conv):
            assert torch.equal(conv.style_map(style[:1], sem[:1]), conv.style_map_loop(style[:1], sem[:1]))
            batch, loop = conv.style_map(style, sem), conv.style_map_loop(style, sem)
            assert (batch - loop).abs().max() <= 1e-5 * loop.abs().max()
