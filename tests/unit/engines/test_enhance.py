"""Enhance: the Real-ESRGAN layouts, tiled inference, and the learned upsampling inside the compositor (which
pixels it may touch, when it runs at all, how much of the render goes through it)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from smile_studio.core.labels import ClassId as C
from smile_studio.engines.base import EngineError
from smile_studio.engines.enhance import Enhancer, upsample_tiled
from smile_studio.face.composite import paste_edit
from smile_studio.face.upscale import enhanced_render, upsample_labels
from smile_studio.nets.enhance import RRDBSR, CompactSR
from smile_studio.weights.registry import CHECKPOINT_BY_KEY, installed_enhancers


@pytest.mark.parametrize(("net", "factor"), [(CompactSR(), 4), (RRDBSR(4, blocks=2), 4), (RRDBSR(2, blocks=2), 2)])
def test_each_layout_upsamples_by_its_factor(net, factor):
    x = torch.rand(1, 3, 20, 24)
    with torch.inference_mode():
        y = net.eval()(x)
    assert y.shape == (1, 3, 20 * factor, 24 * factor)


def test_the_compact_net_is_its_residual_over_nearest_upsampling():
    net = CompactSR(convs=2)
    torch.nn.init.zeros_(net.body[-1].weight)
    torch.nn.init.zeros_(net.body[-1].bias)
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert torch.equal(net(x), x.repeat_interleave(4, 2).repeat_interleave(4, 3))


def test_tiles_equal_the_whole_pass_when_the_overlap_covers_the_receptive_field():
    torch.manual_seed(0)
    net = CompactSR(convs=3).eval()  # five 3x3 convolutions: each output pixel sees 5 input pixels around it
    x = torch.rand(1, 3, 70, 90)
    with torch.inference_mode():
        whole, tiled = net(x), upsample_tiled(net, x, 4, tile=32, overlap=6)
    assert tiled.shape == whole.shape
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5)
    with torch.inference_mode():  # too little overlap: the tiles' seams show
        assert (upsample_tiled(net, x, 4, tile=32, overlap=1) - whole).abs().max() > 1e-3


@pytest.fixture
def weights(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(folder))
    return folder


def test_enhancer_loads_an_installed_file_and_upsamples_uint8(weights):
    assert installed_enhancers() == []
    with pytest.raises(EngineError, match="weights fetch --enhance enhance_general"):
        Enhancer.load("enhance_general")
    torch.manual_seed(0)
    net = CHECKPOINT_BY_KEY["enhance_general"].builder()
    torch.save({"params": net.state_dict()}, weights / "realesr-general-x4v3.pth")
    assert installed_enhancers() == ["enhance_general"]
    enhancer = Enhancer.load("enhance_general", device="cpu")
    img = np.random.default_rng(0).integers(0, 256, (40, 48, 3), np.uint8)
    out = enhancer(img)
    assert out.shape == (160, 192, 3) and out.dtype == np.uint8
    with torch.inference_mode():
        want = net.eval()(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255)
    want = (want[0].clamp(0, 1).permute(1, 2, 0) * 255 + 0.5).to(torch.uint8).numpy()
    assert np.array_equal(out, want)
    (weights / "realesr-general-x4v3.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(EngineError, match="Enhance unavailable: realesr-general-x4v3.pth: not a readable"):
        Enhancer.load("enhance_general")


def _face(side: int = 64) -> np.ndarray:
    labels = np.zeros((side, side), np.uint8)
    cv2.circle(labels, (side // 2, side // 2), side // 3, int(C.SKIN), -1)
    return labels


def test_the_compositor_uses_the_upsampled_render_only_in_what_changed():
    rng = np.random.default_rng(1)
    photo = rng.integers(60, 200, (400, 400, 3), np.uint8)
    source = _face(128)
    labels = source.copy()
    cv2.rectangle(labels, (40, 52), (88, 60), int(C.EYE_G), -1)  # new glasses
    render = np.full((128, 128, 3), 90, np.uint8)
    alignment = np.array([[2.5, 0, 40], [0, 2.5, 40]])  # the face is 320 px in the photo: 2.5x the render
    seen = []

    def brighten(img):  # stands for a network: x4, and visibly different from a plain resize
        seen.append(img.shape)
        return np.full((img.shape[0] * 4, img.shape[1] * 4, 3), 250, np.uint8)

    plain = paste_edit(photo, render, alignment, source, labels)
    enhanced = paste_edit(photo, render, alignment, source, labels, enhance=brighten)
    assert seen and seen[0][0] < 128 and seen[0][1] < 128  # only the changed box (and context) went through
    differs = (plain != enhanced).any(-1)
    assert differs.any()
    assert enhanced[differs].mean() > plain[differs].mean() + 50
    untouched = ~((plain != photo).any(-1) | (enhanced != photo).any(-1))
    assert untouched.mean() > 0.9 and np.array_equal(enhanced[untouched], photo[untouched])
    small = np.array([[1.1, 0, 40], [0, 1.1, 40]])  # a face about the render's size: nothing to enhance
    seen.clear()
    paste_edit(photo, render, small, source, labels, enhance=brighten)
    assert seen == []


def test_the_upsampled_render_is_brought_to_the_faces_size_in_the_photo():
    render = np.zeros((64, 64, 3), np.uint8)
    x4 = lambda img: cv2.resize(img, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)  # noqa: E731
    out = enhanced_render(render, np.array([[3.0, 0, 0], [0, 3.0, 0]]), 64, x4)
    assert out.shape == (192, 192, 3)  # the network gave 256, the photo has room for 192
    out = enhanced_render(render, np.array([[6.0, 0, 0], [0, 6.0, 0]]), 64, x4)
    assert out.shape == (256, 256, 3)
    with pytest.raises(ValueError, match="gave an image of shape"):
        enhanced_render(render, np.array([[6.0, 0, 0], [0, 6.0, 0]]), 64, lambda img: img[:10])


def test_maps_are_upsampled_with_smooth_outlines():
    labels = _face(64)  # a disc of radius 21 centred on pixel 32: at 256, centred on 129.5
    nearest = cv2.resize(labels, (256, 256), interpolation=cv2.INTER_NEAREST)
    smooth = upsample_labels(labels, 256)

    def radii(m):
        contours, _ = cv2.findContours((m == C.SKIN).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        p = contours[0][:, 0].astype(float)
        return np.hypot(p[:, 0] - 129.5, p[:, 1] - 129.5)

    # the outline's distance from the centre: the same mean, half the spread of repeated pixels' steps
    # (measured: 1.09 px nearest, 0.54 smooth)
    assert abs(radii(smooth).mean() - radii(nearest).mean()) < 0.5
    assert radii(smooth).std() < 0.6 * radii(nearest).std()
    thin = np.zeros((64, 64), np.uint8)
    cv2.line(thin, (5, 10), (58, 40), int(C.EYE_G), 1)  # a 1-px frame stays one piece
    n, _ = cv2.connectedComponents((upsample_labels(thin, 256) == C.EYE_G).astype(np.uint8))
    assert n == 2


def test_the_x2_network_takes_odd_sides(weights):
    torch.manual_seed(0)
    net = RRDBSR(2, blocks=1)
    c = CHECKPOINT_BY_KEY["enhance_x2plus"]
    out = Enhancer(c, net, torch.device("cpu"))(np.zeros((33, 47, 3), np.uint8))
    assert out.shape == (66, 94, 3)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # an alpha a hair over 1 made sqrt(1 - alpha) NaN
def test_an_enhanced_render_is_still_composited_at_full_resolution(monkeypatch):
    """The enhanced render is as large as the face in the photo; whether the edit is composited at the photo's
    resolution (or pasted back, for a face no larger than the render) is decided by the render as it came."""
    from smile_studio.face import composite

    def no_paste_back(*args, **kw):
        raise AssertionError("pasted back")

    monkeypatch.setattr(composite, "paste_back", no_paste_back)
    photo = np.random.default_rng(2).integers(60, 200, (400, 400, 3), np.uint8)
    source = _face(128)
    labels = source.copy()
    cv2.rectangle(labels, (40, 52), (88, 60), int(C.EYE_G), -1)
    x4 = lambda img: cv2.resize(img, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)  # noqa: E731
    for scale in (1.5, 2.5):  # faces 1.25-5x the render: the enhanced render is brought to the face's size
        out = paste_edit(photo, np.full((128, 128, 3), 90, np.uint8), np.array([[scale, 0, 10], [0, scale, 10]]),
                         source, labels, enhance=x4)
        assert (out != photo).any()
    calls = []
    paste_edit(photo, np.full((128, 128, 3), 90, np.uint8), np.array([[2.5, 0, 10], [0, 2.5, 10]]), source,
               source, enhance=lambda img: calls.append(img) or x4(img))
    assert calls == []  # nothing changed: the network is not run
