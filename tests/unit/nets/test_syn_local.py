"""Local re-rendering of SMILE_SYN around a change: crops computed exactly, whole updates equal to renders."""

import numpy as np
import pytest
import torch

from smile_studio.nets import syn_local
from smile_studio.nets.syn import SynGenerator, one_hot
from smile_studio.nets.syn_fast import map_features, synthesize
from smile_studio.nets.syn_local import render_recorded, update_local


@pytest.fixture(scope="module")
def small():
    """A 64x64 generator with a quarter of the widths (levels 8..64), seeded weights, and a blocky map."""
    torch.manual_seed(0)
    gen = SynGenerator(64, width=0.25).eval()
    with torch.no_grad():
        for name, p in gen.named_parameters():
            if "blending_gamma" in name or "noise" in name or name.endswith("bias"):
                p.normal_(0, 0.5)  # zeros at init: make the blend, noise and biases matter
    rng = np.random.default_rng(1)
    labels = np.kron(rng.integers(0, 19, (8, 8)), np.ones((8, 8), np.int64)).astype(np.uint8)
    style = torch.randn(1, 19, 64, generator=torch.Generator().manual_seed(2))
    return gen, labels, style, gen.make_noise(0)


def features(gen, labels):
    sem = one_hot(torch.from_numpy(labels.astype(np.int64))[None])
    return map_features(gen, sem, upto=sem.shape[-1])


@pytest.mark.parametrize("box", [(20, 22, 29, 33), (0, 0, 6, 9), (50, 40, 64, 64), (31, 0, 33, 64)])
def test_updating_a_window_of_an_unchanged_map_reproduces_every_layer(small, box, monkeypatch):
    """With the map unchanged every layer's kept output is already exact, so recomputing a window from crops
    must give it back: any error in a crop's reach or in its alignment across an up-sampling shows here."""
    gen, labels, style, noise = small
    feats = features(gen, labels)
    ctx = render_recorded(gen, feats, style, noise, labels)
    before = {k: v.clone() for k, v in ctx.outputs.items()}
    windows = []
    window = syn_local._window
    monkeypatch.setattr(syn_local, "_window", lambda *a: windows.append(a[4]) or window(*a))
    image = update_local(gen, ctx, feats, labels, box)
    assert len(windows) >= 6  # the crop path ran (at 16, 32 and 64 at least)
    for name, out in before.items():
        assert torch.allclose(ctx.outputs[name], out, atol=2e-5, rtol=1e-5), name
    assert torch.allclose(image, before[next(reversed(before))], atol=2e-5)


def test_a_crop_without_enough_context_is_caught(small, monkeypatch):
    """The check above can fail: with a reach of 1 pixel the crops' borders are wrong."""
    gen, labels, style, noise = small
    feats = features(gen, labels)
    ctx = render_recorded(gen, feats, style, noise, labels)
    image = ctx.image.clone()
    monkeypatch.setattr(syn_local, "REACH", 1)
    assert (update_local(gen, ctx, feats, labels, (20, 22, 29, 33)) - image).abs().max() > 1e-3


def test_an_update_over_the_whole_map_is_the_render_of_the_new_map(small):
    gen, labels, style, noise = small
    ctx = render_recorded(gen, features(gen, labels), style, noise, labels)
    changed = labels.copy()
    changed[10:30, 12:40] = 13
    feats = features(gen, changed)
    image = update_local(gen, ctx, feats, changed, (0, 0, 64, 64))
    fresh = render_recorded(gen, feats, style, noise, changed)
    assert torch.equal(image, fresh.image) and np.array_equal(ctx.labels, changed)
    assert torch.equal(image, synthesize(gen, feats.sem, style, noise, features=feats))  # the fast path's render


def test_a_local_update_changes_the_window_and_keeps_the_rest(small):
    """A dab's update: the image changes around it, the far side of the image keeps the last render."""
    gen, labels, style, noise = small
    ctx = render_recorded(gen, features(gen, labels), style, noise, labels)
    old = ctx.image.clone()
    changed = labels.copy()
    changed[40:46, 40:46] = (labels[40, 40] + 5) % 19
    image = update_local(gen, ctx, features(gen, changed), changed, (34, 34, 52, 52))
    diff = (image - old).abs()[0].amax(0)
    assert diff[40:46, 40:46].max() > 1e-2
    assert diff[:, :24].max() == 0 and diff[:24].max() == 0  # outside the window at every level: untouched


def test_a_float16_context_halves_the_memory_and_stays_within_its_rounding(small):
    """Kept in float16, the convolutions' outputs take half the bytes, the images stay float32, an unchanged
    window comes back within float16's rounding, and a dab's update differs from the float32 context's by far
    less than the preview's own error (8-bit levels)."""
    gen, labels, style, noise = small
    feats = features(gen, labels)
    full = render_recorded(gen, feats, style, noise, labels)
    half = render_recorded(gen, feats, style, noise, labels, store=torch.float16)
    images = {name for name, layer, _ in gen.layers(64) if isinstance(layer, syn_local.ToRGB)}
    for name, out in half.outputs.items():
        assert out.dtype == (torch.float32 if name in images else torch.float16), name
        assert torch.allclose(out.float(), full.outputs[name], atol=1e-3 * full.outputs[name].abs().max()), name
    convs = sum(t.numel() * t.element_size() for n, t in full.outputs.items() if n not in images)
    assert full.nbytes - half.nbytes == convs // 2
    assert torch.equal(half.image, full.image)
    update_local(gen, half, feats, labels, (20, 22, 29, 33))
    for name, out in full.outputs.items():
        assert torch.allclose(half.outputs[name].float(), out, atol=2e-3 * out.abs().max()), name
    changed = labels.copy()
    changed[40:46, 40:46] = (labels[40, 40] + 5) % 19
    dab = features(gen, changed)
    a = update_local(gen, full, dab, changed, (34, 34, 52, 52))
    b = update_local(gen, half, dab, changed, (34, 34, 52, 52))
    levels = (a - b).abs() * 127.5
    assert levels.max() < 1.0 and levels.mean() < 0.05


def test_values_float16_cannot_hold_stay_as_computed():
    big = torch.tensor([[1.0, -7e4]])
    assert syn_local._narrowed(big, torch.float16) is big
    assert syn_local._narrowed(torch.tensor([float("nan")]), torch.float16).dtype == torch.float32
    assert syn_local._narrowed(torch.tensor([1.0, -6e4]), torch.float16).dtype == torch.float16
    bf = torch.ones(2, dtype=torch.bfloat16)
    assert syn_local._narrowed(bf, torch.float16) is bf  # never widened or swapped between 16-bit types
