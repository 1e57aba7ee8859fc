"""The SMILE engines behind the same protocols as the offline ones, run on golden synthetic weights (the
official checkpoints cannot be downloaded here)."""

import numpy as np
import pytest
import torch

from smile_studio.core.document import Reference, StyleSource
from smile_studio.core.labels import CLASS_BY_KEY as K
from smile_studio.core.labels import NUM_CLASSES
from smile_studio.engines.base import LayoutEngine, LayoutRequest, RenderEngine, RenderRequest


@pytest.fixture(scope="module")
def engines(smile_engines):
    return smile_engines


def test_protocols_and_layout_edit(engines):
    layout, render, lab, rgb, *_ = engines
    assert isinstance(layout, LayoutEngine) and isinstance(render, RenderEngine)
    state = {"gender": "female", "eyeglasses": "off", "bald": "off", "bangs": "off", "earrings": "on", "hat": "off"}
    res = layout.edit(LayoutRequest(lab, state, {"hat": "on"}, seed=2, variations=2, photo=rgb))
    assert len(res.maps) == 2 and res.maps[0].shape == lab.shape and res.attributes["hat"] == "on"
    assert res.style.shape == (2, 6, 64) and res.engine == "smile"


def test_render_styles_per_region(engines):
    _, render, lab, rgb, lab_b, rgb_b = engines
    base = render.render(RenderRequest(lab, rgb, lab))
    assert base.shape == (256, 256, 3) and base.dtype == np.uint8 and base.std() > 1
    assert np.array_equal(render.render(RenderRequest(lab, rgb, lab)), base)  # deterministic
    styles = [StyleSource()] * NUM_CLASSES
    styles[K["hair"].id] = StyleSource("seed", seed=9)
    seeded = render.render(RenderRequest(lab, rgb, lab, tuple(styles)))
    assert not np.array_equal(seeded, base)
    styles[K["hair"].id] = StyleSource("reference", ref="r")
    ref = render.render(RenderRequest(lab, rgb, lab, tuple(styles), (Reference("r", "b", rgb_b, lab_b),)))
    assert not np.array_equal(ref, base) and not np.array_equal(ref, seeded)
    torch.manual_seed(3)
    x = torch.rand(2)
    torch.manual_seed(3)
    render.render(RenderRequest(lab, rgb, lab, tuple(styles)))
    assert torch.equal(torch.rand(2), x)  # rendering never touches the process RNG


def test_previews_may_use_bf16_while_exports_are_float32(engines):
    from smile_studio.engines.neural import NeuralRenderEngine

    _, render, lab, rgb, *_ = engines
    exact = render.render(RenderRequest(lab, rgb, lab, exact=True))
    preview = render.render(RenderRequest(lab, rgb, lab))
    float32_only = NeuralRenderEngine(render.exact_gen, device=str(render.device), precision="exact")
    assert float32_only.preview_dtype == torch.float32
    assert np.array_equal(float32_only.render(RenderRequest(lab, rgb, lab)), exact)
    diff = np.abs(preview.astype(int) - exact.astype(int))
    if render.preview_dtype == torch.float32:
        assert diff.max() == 0
    else:  # bf16 previews: the same picture to a few grey levels
        assert render.preview_dtype == torch.bfloat16 and "bfloat16 previews" in render.description
        assert diff.mean() <= 1.5 and diff.max() <= 16, (diff.mean(), diff.max())


def test_preview_dtype_policy():
    from smile_studio.nets.runtime import has_bf16_matrix_units, preview_dtype

    cpu = torch.device("cpu")
    assert preview_dtype(cpu, "exact") == torch.float32
    assert preview_dtype(torch.device("cuda"), "auto") == torch.float32
    assert preview_dtype(cpu, "auto") == (torch.bfloat16 if has_bf16_matrix_units() else torch.float32)
    with pytest.raises(ValueError):
        preview_dtype(cpu, "half")


def test_a_stroke_updates_the_previous_maps_features(engines, monkeypatch):
    from smile_studio.engines.neural import NeuralRenderEngine, changed_box

    _, render, lab, rgb, *_ = engines
    render.render(RenderRequest(lab, rgb, lab, exact=True))
    stroked = lab.copy()
    stroked[100:112, 60:75] = K["hat"].id  # a class the map does not have there
    assert changed_box(lab, stroked) == (100, 60, 112, 75) and changed_box(lab, lab) is None
    calls = []
    update = render.exact_gen.map_features_update
    monkeypatch.setattr(render.exact_gen, "map_features_update", lambda *a, **k: calls.append(a[2]) or update(*a, **k))
    after_stroke = render.render(RenderRequest(stroked, rgb, lab, exact=True))
    assert calls == [(100, 60, 112, 75)]  # the stroke's box, not a full recompute
    fresh = NeuralRenderEngine(render.exact_gen, device=str(render.device), precision="exact")
    expected = fresh.render(RenderRequest(stroked, rgb, lab))
    assert np.abs(after_stroke.astype(int) - expected.astype(int)).max() <= 1
    assert not np.array_equal(after_stroke, render.render(RenderRequest(lab, rgb, lab, exact=True)))


def test_half_size_previews_stop_at_the_matching_level(engines, monkeypatch):
    from smile_studio.engines import neural
    from smile_studio.engines.cache import nbytes

    _, render, lab, rgb, *_ = engines
    render._maps_cache.clear()
    full = render.render(RenderRequest(lab, rgb, lab))
    for i in range(4):  # a stroke drawn at half size, then the full-size render of its result
        half = lab[::2, ::2].copy()
        half[40:44, 30 + 2 * i:34 + 2 * i] = K["hat"].id
        preview = render.render(RenderRequest(half, rgb[::2, ::2], lab[::2, ::2], size=256))
        assert render._context.side == 128 and len(render._context.outputs) == 14  # up to the 128 image
        if i == 0:  # room for the full-size map's features and one and a half half-size ones
            full_bytes, half_bytes = (nbytes(v) for v in render._maps_cache.values())
            monkeypatch.setattr(neural, "MAP_CACHE_BYTES", int(full_bytes + 1.5 * half_bytes))
    assert preview.shape == (256, 256, 3) and preview.std() > 1
    assert np.abs(preview.astype(int) - full.astype(int)).mean() < 40  # the same picture, coarser
    # bounded in bytes: the previews pushed out each other, not the full-size map
    assert [k[1] for k in render._maps_cache] == [(256, 256), (128, 128)]


def test_render_many_batches_different_faces_as_single_renders_would(engines):
    """A folder's faces through SMILE_SYN as one batch (what ``batch`` does on a GPU): each image equals its own
    render (batched convolutions may round differently: at most 1 level, on few pixels)."""
    from smile_studio.engines.base import render_batch

    _, render, lab, rgb, lab_b, rgb_b = engines
    styles = [StyleSource()] * NUM_CLASSES
    styles[K["hair"].id] = StyleSource("seed", seed=4)
    reqs = [RenderRequest(lab, rgb, lab, exact=True), RenderRequest(lab_b, rgb_b, lab_b, exact=True),
            RenderRequest(lab_b, rgb, lab, tuple(styles), exact=True)]
    batched = render_batch(render, reqs)
    for req, img in zip(reqs, batched, strict=True):
        alone = render.render(req)
        diff = np.abs(alone.astype(int) - img)
        assert img.shape == alone.shape and diff.max() <= 1 and (diff > 0).mean() < 0.01
    assert not np.array_equal(batched[0], batched[1])
