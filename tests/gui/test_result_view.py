"""View > Result at full size: the edit in the user's photo at 100 %, before and after, and the status bar's
render-size line."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from smile_studio.core.imageio import read_image

from .conftest import make_window
from .driving import wait_final


def test_the_result_at_full_size_shows_the_photo_s_own_pixels_before_and_after(qtbot, samples_dir):
    w = make_window(qtbot)
    assert w.open_path(samples_dir / "maskgan_0.jpg")
    wait_final(qtbot, w)
    assert w.status_render.text() == ("render 256 px · photo 1024×1024 (face ×4.0) · composited at full "
                                      "resolution")
    toggle = w.attributes.toggles["eyeglasses"]
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton, pos=QPoint(10, toggle.height() // 2))
    qtbot.mouseClick(w.attributes.propose, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.proposal is not None, timeout=10000)
    qtbot.mouseClick(w.attributes.accept, Qt.MouseButton.LeftButton)
    assert w.doc.attributes["eyeglasses"] == "on"
    wait_final(qtbot, w, timeout=10000)
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: w.result_window is not None and w.result_window.result is not None, timeout=20000)
    view = w.result_window
    assert view.isVisible() and "composited at full resolution" in view.info.text()
    photo = read_image(samples_dir / "maskgan_0.jpg")
    after = view.shown_image()
    assert after.shape == photo.shape  # the photo's own size, not the render's
    pixmap = view.image.pixmap()
    assert (pixmap.width(), pixmap.height()) == (1024, 1024)
    changed = (after != photo).any(-1)
    rows = np.nonzero(changed.any(1))[0]
    assert changed.sum() > 5000 and 300 < rows.mean() < 700  # glasses: around the eyes, nowhere else
    assert not changed[:200].any() and not changed[-200:].any()
    qtbot.keyClick(view, Qt.Key.Key_B)
    assert view.before_box.isChecked() and np.array_equal(view.shown_image(), photo)
    w.worker.stop()


def test_a_document_without_its_original_photo_has_no_full_size_result_and_says_so(qtbot, window):
    assert window.status_render.text() == "render 256 px (no original photo to put it back into)"
    window.show_full_size()
    assert window.result_window is None and "render itself is the result" in window.message.text()


def test_an_older_composite_arriving_late_is_dropped_and_a_failure_clears_the_view(qtbot):
    from smile_studio.app.result_view import ResultWindow

    view = ResultWindow()
    qtbot.addWidget(view)
    photo = np.zeros((40, 60, 3), np.uint8)
    first = view.expect(photo, "first")
    second = view.expect(photo, "second")
    view.composited((first, np.full_like(photo, 7), (30, 20)))
    assert view.result is None and view.info.text() == "compositing…"  # superseded: not shown
    view.composited((second, np.full_like(photo, 9), (30, 20)))
    assert view.shown_image()[0, 0, 0] == 9 and view.info.text() == "second"
    view.expect(photo, "third")
    view.composited(RuntimeError("out of memory"))
    assert view.result is None and view.info.text() == "compositing failed: out of memory"


def test_enhance_is_chosen_in_the_result_window_and_used_by_the_view_the_status_and_the_export(
        qtbot, samples_dir, tmp_path, monkeypatch):
    import json

    import torch

    from smile_studio.engines.enhance import shared_enhancer
    from smile_studio.weights.registry import CHECKPOINT_BY_KEY

    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(weights))
    shared_enhancer.cache_clear()
    torch.manual_seed(0)
    net = CHECKPOINT_BY_KEY["enhance_general"].builder()
    with torch.no_grad():
        net.body[-1].bias.add_(0.3)  # visibly brighter than a plain upsampling
    torch.save({"params": net.state_dict()}, weights / "realesr-general-x4v3.pth")
    w = make_window(qtbot)
    assert w.open_path(samples_dir / "maskgan_0.jpg")
    wait_final(qtbot, w)
    w.doc.labels[110:118, 90:170] = 6  # a glasses bar across the eyes, painted into the map
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: w.result_window is not None and w.result_window.result is not None, timeout=20000)
    view = w.result_window
    plain = view.shown_image().copy()
    box = view.enhance_box
    model = box.model()
    states = {box.itemData(i): model.item(i).isEnabled() for i in range(box.count())}
    assert states == {None: True, "enhance_general": True, "enhance_x4plus": False, "enhance_x2plus": False}
    assert "weights fetch --enhance enhance_x4plus" in model.item(box.findData("enhance_x4plus")).toolTip()
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Down)  # the keyboard moves to the next enabled entry
    assert box.currentData() == "enhance_general"
    qtbot.waitUntil(lambda: view.result is not None and not np.array_equal(view.result, plain), timeout=30000)
    photo = read_image(samples_dir / "maskgan_0.jpg")
    enhanced = view.shown_image()
    differs = (enhanced != plain).any(-1)
    assert differs.sum() > 1000 and enhanced[differs].mean() > plain[differs].mean()
    untouched = ~((plain != photo).any(-1) | differs)
    assert np.array_equal(enhanced[untouched], photo[untouched])
    assert w.status_render.text().endswith("Enhance: Real-ESRGAN general x4 v3 (compact)")
    assert w.settings.value("render/enhance") == "enhance_general"
    written = w.export_to(tmp_path / "bundle")
    assert written
    settings = json.loads((tmp_path / "bundle" / "settings.json").read_text())
    assert settings["enhance"]["file"] == "realesr-general-x4v3.pth" and settings["enhance"]["scale"] == 4
    exported = read_image(tmp_path / "bundle" / "photo_edited.png")
    assert np.array_equal(exported, enhanced)  # the export is what the window showed
    (weights / "realesr-general-x4v3.pth").unlink()  # the file goes away while the window is open
    w.show_full_size()
    assert "no longer installed" in w.message.text()
    assert box.currentData() is None and not w.settings.value("render/enhance")
    assert "Enhance" not in w.status_render.text()
    qtbot.waitUntil(lambda: view.result is not None and np.array_equal(view.result, plain), timeout=30000)
    w.worker.stop()
    shared_enhancer.cache_clear()
