"""The editor driven like a person would: real widgets, synthesised mouse, keyboard and drop events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QDockWidget, QTextBrowser

from smile_studio.app.scheduler import FINAL
from smile_studio.core.labelio import colorize, read_label_map, write_indexed_png
from smile_studio.core.labels import CLASS_BY_KEY as K
from smile_studio.core.project import load_project

from .conftest import click, drag, make_window, view_point

HAIR, SKIN, EYE_G = K["hair"].id, K["skin"].id, K["eye_g"].id


class StallMeter(QTimer):
    """A timer ticking every ``ms`` that records the longest gap between ticks: how long the event loop froze."""

    def __init__(self, ms: int):
        super().__init__()
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timeout.connect(self._tick)
        self.start(ms)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    @property
    def worst_ms(self) -> float:
        return max(self.gaps) * 1000


def wait_final(qtbot, w, timeout=5000):
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.kind == FINAL
                    and not w.worker.mailbox.is_stale(w.last_result.id), timeout=timeout)


def test_title_banner_and_status(window):
    assert window.windowTitle() == "synthetic face — SMILE Studio"
    assert "offline" in window.banner.text() and "weights" in window.banner.text()
    assert "engine: offline" in window.status_engine.text()


def test_drag_paints_and_is_one_undo_step(qtbot, window):
    before = window.doc.labels.copy()
    window.set_class(HAIR)
    window.size_spin.setValue(6)
    drag(qtbot, window.canvas, [(60, 200), (80, 205), (100, 210), (120, 215)])
    after = window.doc.labels.copy()
    painted = (after == HAIR) & (before != HAIR)
    assert painted.sum() > 150
    assert painted[205, 80] and painted[212, 110]  # the pixels between events are painted too
    assert len(window.doc.history) == 1
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(window.doc.labels, before)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(window.doc.labels, after)


def test_click_stamps_and_protection(qtbot, window):
    window.set_class(HAIR)
    window.size_spin.setValue(9)
    window.palette.list.item(0).setCheckState(Qt.CheckState.Unchecked)  # protect background
    before = window.doc.labels.copy()
    click(qtbot, window.canvas, 128, 128)  # on skin
    assert window.doc.labels[128, 128] == HAIR and (window.doc.labels != before).sum() > 40
    click(qtbot, window.canvas, 5, 5)  # on background: protected
    assert window.doc.labels[5, 5] == 0


def test_fill_keeps_enclosed_classes(qtbot, window):
    lab = window.doc.labels.copy()
    eyes = np.isin(lab, [K["l_eye"].id, K["r_eye"].id])
    window.set_tool("fill")
    window.set_class(K["nose"].id)
    ys, xs = np.nonzero(lab == SKIN)
    click(qtbot, window.canvas, xs[len(xs) // 2] + 0.5, ys[len(ys) // 2] + 0.5)
    new = window.doc.labels
    assert (new == K["nose"].id).sum() == (lab == SKIN).sum()
    assert np.array_equal(np.isin(new, [K["l_eye"].id, K["r_eye"].id]), eyes)


def test_eyedropper_and_hotkeys(qtbot, window):
    window.set_tool("eyedropper")
    ys, xs = np.nonzero(window.doc.labels == HAIR)
    click(qtbot, window.canvas, xs[0] + 0.5, ys[0] + 0.5)
    assert window.current_class == HAIR
    qtbot.keyClick(window, Qt.Key.Key_3)
    assert window.current_class == 3 and window.palette.list.currentRow() == 3
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert window.current_class == 12
    size = window.size_spin.value()
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    assert window.size_spin.value() == size - 2 and window.canvas.brush_size == size - 2
    qtbot.keyClick(window, Qt.Key.Key_E)
    assert window.canvas.tool == "eraser"


def test_eyeglasses_proposal_accept_changes_map_and_preview(qtbot, window):
    wait_final(qtbot, window)
    before_img = window.preview.image.copy()
    before = window.doc.labels.copy()
    toggle = window.attributes.toggles["eyeglasses"]
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton, pos=QPoint(10, toggle.height() // 2))
    assert window.attributes.toggles["eyeglasses"].isChecked()
    qtbot.mouseClick(window.attributes.propose, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.proposal is not None, timeout=5000)
    assert window.attributes.accept.isEnabled()
    assert np.array_equal(window.doc.labels, before)  # a proposal does not touch the document
    qtbot.mouseClick(window.attributes.accept, Qt.MouseButton.LeftButton)
    assert (window.doc.labels == EYE_G).sum() > 30 and window.doc.attributes["eyeglasses"] == "on"
    wait_final(qtbot, window)
    glasses = window.doc.labels == EYE_G
    assert np.abs(window.preview.image[glasses].astype(int) - before_img[glasses].astype(int)).mean() > 10
    window.undo()
    assert np.array_equal(window.doc.labels, before) and window.doc.attributes["eyeglasses"] == "off"


def test_reject_restores_and_variations(qtbot, window):
    window.attributes.toggles["hat"].setChecked(True)
    window.attributes.variations.setValue(3)
    qtbot.mouseClick(window.attributes.propose, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.proposal is not None, timeout=5000)
    assert window.attributes.grid.count() == 3
    window.attributes.grid.setCurrentRow(2)
    assert window.proposal[1] == 2
    qtbot.mouseClick(window.attributes.reject, Qt.MouseButton.LeftButton)
    assert window.proposal is None and not (window.doc.labels == K["hat"].id).any()
    assert not window.attributes.toggles["hat"].isChecked()


def _drop(target, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(target.width() / 2, target.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def test_dropping_a_file_opens_it(qtbot, window, tmp_path, face_map):
    path = tmp_path / "dropped_map.png"
    new = face_map[::-1].copy()
    import cv2

    new = cv2.resize(new, (256, 256), interpolation=cv2.INTER_NEAREST)
    write_indexed_png(path, new)
    assert _drop(window.canvas.viewport(), [path])
    assert window.opening  # read and parsed on a worker thread
    qtbot.waitUntil(lambda: not window.opening, timeout=10_000)
    assert window.doc.name == "dropped_map.png" and np.array_equal(window.doc.labels, new)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    _drop(window.canvas.viewport(), [tmp_path / "broken.png"])
    qtbot.waitUntil(lambda: not window.opening, timeout=10_000)
    assert window.doc.name == "dropped_map.png"  # a bad file keeps the current document
    assert window.message.isVisible() and "broken.png" in window.message.text()


def test_dropping_a_reference_restyles_hair(qtbot, window, tmp_path):
    wait_final(qtbot, window)
    from PIL import Image

    lab = window.doc.labels.copy()
    ref_rgb = np.zeros((256, 256, 3), np.uint8)
    ref_rgb[...] = (240, 200, 60)  # a blonde reference (same layout, saturated colour)
    Image.fromarray(ref_rgb).save(tmp_path / "ref.jpg", quality=100)
    write_indexed_png(tmp_path / "ref.png", lab)  # its label map beside it
    before = window.preview.image.copy()
    assert _drop(window.styles.shelf.viewport(), [tmp_path / "ref.jpg"])
    assert window.styles.shelf.count() == 1 and len(window.doc.references) == 1
    assert window.doc.styles[HAIR].kind == "reference" and window.doc.styles[SKIN].kind == "source"
    wait_final(qtbot, window)
    hair = lab == HAIR
    assert np.abs(window.preview.image[hair].astype(int) - before[hair].astype(int)).mean() > 20
    skin = lab == SKIN
    assert np.abs(window.preview.image[skin].astype(int) - before[skin].astype(int)).mean() < 2


def test_export_bundle_and_project_round_trip(qtbot, window, tmp_path):
    window.set_class(HAIR)
    drag(qtbot, window.canvas, [(60, 200), (120, 215)])
    wait_final(qtbot, window)
    files = window.export_to(tmp_path / "bundle")
    names = sorted(p.name for p in files)
    assert names == ["map.png", "map_color.png", "render.png", "settings.json", "side_by_side.png"]
    assert np.array_equal(read_label_map(tmp_path / "bundle" / "map.png").labels, window.doc.labels)
    import json

    settings = json.loads((tmp_path / "bundle" / "settings.json").read_text())
    assert settings["attributes"] == window.doc.attributes and "offline" in settings["engines"]["render"].lower()
    from smile_studio.export import SETTINGS_FORMAT

    assert settings["format"] == SETTINGS_FORMAT and settings["input"] == window.doc.name  # the CLI's schema too
    assert window.modified
    assert window.save_to(tmp_path / "p.smile") and not window.modified
    back = load_project(tmp_path / "p.smile")
    assert np.array_equal(back.labels, window.doc.labels) and np.array_equal(back.photo, window.doc.photo)
    assert back.attributes == window.doc.attributes and back.styles == window.doc.styles
    window.open_path(tmp_path / "p.smile")
    assert np.array_equal(window.doc.labels, back.labels) and window.project_path == tmp_path / "p.smile"


def test_export_that_cannot_render_is_a_message_and_writes_nothing(qtbot, window, tmp_path, monkeypatch):
    def out_of_memory(req):
        raise RuntimeError("DefaultCPUAllocator: not enough memory")

    wait_final(qtbot, window)
    monkeypatch.setattr(window.render_engine, "render", out_of_memory)
    assert window.export_to(tmp_path / "bundle") == []
    assert "Export failed" in window.message.text() and "not enough memory" in window.message.text()
    assert not (tmp_path / "bundle").exists() or not any((tmp_path / "bundle").iterdir())


def test_export_with_original_pastes_back(qtbot, samples_dir, tmp_path):
    w = make_window(qtbot)
    assert w.open_path(samples_dir / "maskgan_0.jpg")
    wait_final(qtbot, w)
    files = {p.name for p in w.export_to(tmp_path / "b")}
    assert "photo_edited.png" in files
    w.worker.stop()


def test_autosave_recovery_after_kill(qtbot, tmp_path, face_map):
    config = tmp_path / "config"
    src = tmp_path / "map.png"
    import cv2

    write_indexed_png(src, cv2.resize(face_map, (256, 256), interpolation=cv2.INTER_NEAREST))
    script = textwrap.dedent(f"""
        import os, signal
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from smile_studio.app.window import MainWindow
        w = MainWindow(autosave_ms=50)
        w.show()
        assert w.open_path({str(src)!r})
        w.doc.paint((20, 20), (60, 60), {HAIR}, 9)
        from PySide6.QtCore import QTimer
        QTimer.singleShot(400, lambda: os.kill(os.getpid(), signal.SIGKILL))
        app.exec()
    """)
    env = dict(os.environ, SMILE_STUDIO_CONFIG_DIR=str(config), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=120, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert list((config / "autosave").glob("session-*.smile"))
    w = make_window(qtbot)  # the same config folder (isolated_config)
    found = w.check_recovery()
    assert found and w.recover_button.isVisible()
    qtbot.mouseClick(w.recover_button, Qt.MouseButton.LeftButton)
    assert w.doc is not None and all(w.doc.labels[i, i] == HAIR for i in range(22, 58))
    assert w.modified and w.windowTitle().startswith("map.png *")  # recovered work is unsaved, and says so
    # the recovered work is on disk again at once, in this session's autosave, before the old one goes: a
    # second crash right now loses nothing
    saves = list((config / "autosave").glob("session-*.smile"))
    assert [p.name for p in saves] == [f"session-{os.getpid()}.smile"]
    assert np.array_equal(load_project(saves[0]).labels, w.doc.labels)
    w.worker.stop()


class SlowEngine:
    """A fake render engine taking 300 ms; its image encodes the map so the final preview can be checked."""

    name = "slow"
    description = "slow fake engine"

    def __init__(self):
        self.calls = 0

    def render(self, req):
        self.calls += 1
        time.sleep(0.3)
        img = colorize(req.labels)
        if img.shape[0] != req.size:
            img = np.repeat(np.repeat(img, req.size // img.shape[0], 0), req.size // img.shape[1], 1)
        return img


def test_latest_wins_and_responsive_event_loop(qtbot, face_doc):
    engine = SlowEngine()
    w = make_window(qtbot, render=engine)
    w.set_document(face_doc)
    w.canvas.resetTransform()
    w.canvas.auto_fit = False
    w.canvas.centerOn(128, 128)
    qtbot.waitUntil(lambda: w.last_result is not None, timeout=5000)
    engine.calls = 0
    w.worker.completed = 0
    timer = StallMeter(5)
    w.set_class(HAIR)
    clicks = []

    def next_click():  # 20 rapid edits, 15 ms apart, delivered by the event loop as a user's clicks would be
        click(qtbot, w.canvas, 40 + 8 * len(clicks), 230)
        clicks.append(1)
        if len(clicks) == 20:
            clicker.stop()

    clicker = QTimer()
    clicker.timeout.connect(next_click)
    clicker.start(15)
    qtbot.waitUntil(lambda: len(clicks) == 20, timeout=10000)
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.kind == FINAL
                    and not w.worker.mailbox.is_stale(w.last_result.id), timeout=10000)
    qtbot.wait(700)  # nothing else may arrive
    timer.stop()
    assert engine.calls <= 3, f"{engine.calls} renders for 20 edits"
    assert np.array_equal(w.preview.image, colorize(w.doc.labels))
    worst = timer.worst_ms
    print(f"renders: {engine.calls} for 20 edits; worst event-loop stall {worst:.1f} ms")
    assert worst < 50, f"event loop stalled {worst:.0f} ms"
    w.worker.stop()


def _grab_rgb(widget) -> np.ndarray:
    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    return np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, :img.width() * 3] \
        .reshape(img.height(), img.width(), 3).copy()


def test_before_after_slider_shows_more_after_towards_after(qtbot, window):
    wait_final(qtbot, window)
    pane = window.preview
    before = np.zeros((256, 256, 3), np.uint8)
    before[..., 0] = 255  # pure red "before"
    pane.set_before(before)
    pane.set_after(np.full((256, 256, 3), (0, 0, 255), np.uint8), "final", 1.0)  # pure blue "after"
    r = pane.target_rect()
    row = _grab_rgb(pane)[int(r.center().y()), int(r.left()) + 2:int(r.right()) - 2]
    assert window.split.value() == 100 and (row[:, 2] > 200).all()  # opens at the After end: the edit, whole

    def after_share(value: int) -> float:
        window.split.setValue(value)
        row = _grab_rgb(pane)[int(r.center().y()), int(r.left()) + 2:int(r.right()) - 2]
        return float((row[:, 2] > 200).mean())

    shares = [after_share(v) for v in (0, 30, 70, 100)]
    assert shares[0] < 0.02 and shares[-1] > 0.98
    assert shares == sorted(shares) and abs(shares[1] - 0.3) < 0.05  # towards After: more of the edit


def test_preview_split_and_views(qtbot, window):
    window.split.setValue(50)
    assert window.preview.split == 0.5
    window.view_mode.setCurrentText("contour")
    assert window.canvas.view_mode == "contour"
    window.opacity.setValue(20)
    assert abs(window.canvas.opacity - 0.2) < 1e-6
    z = window.canvas.zoom_level
    window.canvas.zoom(1.25)
    assert window.canvas.zoom_level > z


@pytest.mark.parametrize("bad", [b"", b"not an image at all"])
def test_bad_photo_is_a_message_not_a_crash(qtbot, window, tmp_path, bad):
    p = tmp_path / "bad.jpg"
    p.write_bytes(bad)
    name = window.doc.name
    assert not window.open_path(p)
    assert window.doc.name == name and "bad.jpg" in window.message.text()


def test_point_mapping_is_pinned(window):
    assert view_point(window.canvas, 10, 10) - view_point(window.canvas, 0, 0) == QPoint(10, 10)


def test_recent_files_and_geometry_are_remembered(qtbot, tmp_path, face_map):
    import cv2

    path = tmp_path / "face_map.png"
    write_indexed_png(path, cv2.resize(face_map, (256, 256), interpolation=cv2.INTER_NEAREST))
    w = make_window(qtbot)
    assert w.open_path(path)
    w.resize(790, 555)  # inside the offscreen screen (800x800); Qt clamps it to the layout's minimum width
    w.saved_version = w.doc.version
    w.close()
    saved = bytes(w.saveGeometry())
    from smile_studio.app.window import MainWindow

    again = MainWindow(autosave_ms=3600_000)  # same config folder: settings come back
    qtbot.addWidget(again)
    # one remembered file comes back from the INI file as a plain string, not a list: one entry, not characters
    assert again.recent_files() == [str(path)]
    assert [a.text() for a in again.recent_menu.actions()] == [str(path)]
    assert bytes(again.settings.value("geometry")) == saved
    assert again.height() == 555  # restored (the width is clamped to the 800-px offscreen screen)
    again.worker.stop()


def test_no_face_then_eyes_placed_by_hand(qtbot, tmp_path, monkeypatch):
    from PIL import Image
    from PySide6.QtWidgets import QDialog

    from smile_studio.app.eyes import EyeDialog
    from smile_studio.core.imageio import read_image
    from smile_studio.face.pipeline import parse_face
    from smile_studio.resources import SAMPLE_PHOTO, resources_dir

    upright = read_image(resources_dir() / SAMPLE_PHOTO)
    rotated = np.ascontiguousarray(np.rot90(upright))  # Haar cascades find no face lying on its side
    path = tmp_path / "sideways.png"
    Image.fromarray(rotated).save(path)
    w = make_window(qtbot)
    assert not w.open_path(path)
    assert w.place_eyes_button.isVisible() and "No face" in w.message.text()
    ref = parse_face(upright, 256)
    (rx, ry), (lx, ly) = ref.eyes
    width = upright.shape[1]
    clicks = [(ly, width - 1 - lx), (ry, width - 1 - rx)]  # where the eyes are in the rotated photo

    def dialog_with_clicks(rgb, name):
        d = EyeDialog(rgb, name, w)
        d.show()
        qtbot.waitExposed(d)
        for x, y in clicks:
            qtbot.mouseClick(d.view.viewport(), Qt.MouseButton.LeftButton, pos=d.view.mapFromScene(QPointF(x, y)))
        assert d.ok.isEnabled() and "Both eyes" in d.prompt.text()
        d.exec = lambda: QDialog.DialogCode.Accepted
        return d

    monkeypatch.setattr(w, "eye_dialog", dialog_with_clicks)
    qtbot.mouseClick(w.place_eyes_button, Qt.MouseButton.LeftButton)
    assert w.doc is not None and w.doc.name == "sideways.png" and not w.place_eyes_button.isVisible()
    # the hand-placed alignment turns the face upright: the crop matches the automatic one of the upright photo
    assert np.abs(w.doc.photo.astype(int) - ref.crop.astype(int)).mean() < 12
    w.worker.stop()


def test_autosave_failure_is_reported_and_keeps_the_work(qtbot, window, monkeypatch):
    from smile_studio.core import imageio

    window.doc.paint((10, 10), (10, 10), HAIR, 5)

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(imageio.os, "replace", full_disk)
    assert not window.autosave()
    assert "Autosave failed" in window.message.text() and "No space left" in window.message.text()
    assert window.doc.labels[10, 10] == HAIR and window.modified
    monkeypatch.undo()
    assert window.autosave() and window.autosaver.path.is_file()


def test_middle_drag_and_space_drag_pan(qtbot, window):
    c = window.canvas
    c.zoom(4.0)
    qtbot.wait(10)
    hbar, vbar = c.horizontalScrollBar(), c.verticalScrollBar()
    start = (hbar.value(), vbar.value())
    vp = c.viewport()
    p0 = QPoint(200, 200)
    qtbot.mousePress(vp, Qt.MouseButton.MiddleButton, pos=p0)
    qtbot.mouseMove(vp, pos=QPoint(150, 170))
    qtbot.mouseRelease(vp, Qt.MouseButton.MiddleButton, pos=QPoint(150, 170))
    assert (hbar.value(), vbar.value()) == (start[0] + 50, start[1] + 30)
    labels = window.doc.labels.copy()
    qtbot.keyPress(c, Qt.Key.Key_Space)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=p0)
    qtbot.mouseMove(vp, pos=QPoint(210, 220))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=QPoint(210, 220))
    qtbot.keyRelease(c, Qt.Key.Key_Space)
    assert (hbar.value(), vbar.value()) == (start[0] + 40, start[1] + 10)
    assert np.array_equal(window.doc.labels, labels)  # panning never paints


def test_preview_follows_canvas_zoom_and_pan(qtbot, window):
    wait_final(qtbot, window)
    c = window.canvas
    c.fit()
    assert window.preview.source_rect().width() == pytest.approx(256, abs=1)
    c.zoom(4.0)
    c.centerOn(60, 200)
    qtbot.wait(10)
    shown, visible = window.preview.source_rect(), c.visible_rect()
    assert shown.width() < 200 and abs(shown.center().x() - visible.center().x()) < 1
    assert abs(shown.center().y() - visible.center().y()) < 1 and abs(shown.center().x() - 60) < 3
    # what the preview paints is that part of the image: with a coordinate-coded image, the pixel at the centre
    # of the preview encodes the image position shown there
    yy, xx = np.mgrid[0:256, 0:256]
    coded = np.dstack([xx, yy, np.zeros_like(xx)]).astype(np.uint8)
    window.preview.set_after(coded, "final", None)
    img = window.preview.grab().toImage()
    r = window.preview.target_rect()
    px = img.pixelColor(int(r.center().x()), int(r.center().y()))
    assert abs(px.red() - shown.center().x()) <= 2 and abs(px.green() - shown.center().y()) <= 2


def test_close_with_unsaved_changes_asks_first(qtbot, window, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    window.doc.paint((30, 30), (30, 30), HAIR, 5)
    assert window.modified
    asked = []
    window.ask_save = lambda: asked.append(1) or QMessageBox.StandardButton.Cancel
    assert not window.close() and window.isVisible() and asked  # Cancel keeps the window and the work
    window.project_path = tmp_path / "kept.smile"
    window.ask_save = lambda: QMessageBox.StandardButton.Save
    assert window.close() and (tmp_path / "kept.smile").is_file()  # Save writes the project, then closes
    assert load_project(tmp_path / "kept.smile").labels[30, 30] == HAIR


def test_the_bundled_sample_opens_aligned_parsed_and_with_its_known_attributes(qtbot):
    w = make_window(qtbot)
    w.open_sample()
    assert w.doc is not None and w.doc.labels.shape == w.doc.photo.shape[:2] and w.doc.original is not None
    counts = np.bincount(w.doc.labels.ravel(), minlength=19)
    assert counts[HAIR] > 0.1 * w.doc.labels.size and counts[1] > 0.2 * w.doc.labels.size  # hair, skin
    assert w.doc.attributes["gender"] == "female" and w.attributes.toggles["gender"].isChecked()
    assert w.doc.attributes["eyeglasses"] == "off" and not w.attributes.toggles["eyeglasses"].isChecked()
    w.worker.stop()


def test_engines_load_in_the_background_while_the_window_works(qtbot, window):
    import threading

    from smile_studio.engines.exemplar import ExemplarRenderEngine
    from smile_studio.engines.offline import OfflineLayoutEngine

    class LoadedRender(ExemplarRenderEngine):
        description = "loaded test engine"

    gate = threading.Event()

    def load():
        assert gate.wait(10)
        return OfflineLayoutEngine(), LoadedRender(), "SMILE (test)"

    window.set_engines(window.layout_engine, window.render_engine, "offline default for now", loading=True)
    assert "Loading the SMILE networks" in window.banner.text()
    window.load_engines_in_background(load)
    window.set_class(HAIR)
    drag(qtbot, window.canvas, [(60, 200), (100, 200)])  # painting works while the engines load
    assert window.doc.labels[200, 80] == HAIR
    wait_final(qtbot, window)
    assert "SMILE (test)" not in window.banner.text()
    gate.set()
    qtbot.waitUntil(lambda: "SMILE (test)" in window.banner.text(), timeout=10000)
    assert isinstance(window.render_engine, LoadedRender) and "Loading" not in window.banner.text()

    def broken():
        raise RuntimeError("smileSYN_256.pth: truncated")

    window.load_engines_in_background(broken)
    qtbot.waitUntil(lambda: "could not be loaded" in window.message.text(), timeout=10000)
    assert "truncated" in window.message.text() and isinstance(window.render_engine, LoadedRender)


def test_wheel_zooms_at_the_cursor(qtbot, window):
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent

    canvas = window.canvas
    canvas.fit()
    canvas.zoom(3.0)  # larger than the view both ways: every point can stay under the cursor
    at = view_point(canvas, 150, 100)
    for _ in range(3):
        scene_before = canvas.mapToScene(at)
        ev = QWheelEvent(QPointF(at), QPointF(canvas.viewport().mapToGlobal(at)), P(0, 0), P(0, 120),
                         Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(canvas.viewport(), ev)
        after = canvas.mapToScene(at)
        assert abs(after.x() - scene_before.x()) <= 2 and abs(after.y() - scene_before.y()) <= 2
    assert canvas.zoom_level > 5


def test_choosing_a_variation_updates_summary_seed_and_shows_rendered_faces(qtbot, window):
    window.attributes.toggles["hat"].setChecked(True)
    window.attributes.variations.setValue(3)
    window.attributes.seed.setValue(5)
    qtbot.mouseClick(window.attributes.propose, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.proposal is not None, timeout=5000)
    res = window.proposal[0]
    info = window.attributes.info.text()
    assert "variation 1 of 3" in info and f"seed {res.seeds[0]}" in info
    grid = window.attributes.grid
    rect = grid.visualItemRect(grid.item(2))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.proposal[1] == 2
    info = window.attributes.info.text()
    assert "variation 3 of 3" in info and f"seed {res.seeds[2]}" in info
    hat_change = int(res.class_changes(window.doc.labels, 2)[K["hat"].id])
    assert f"Hat {hat_change:+d}" in info
    assert window.attributes.seed.value() == res.seeds[2]
    # the thumbnails become rendered faces (the photo's colours), not flat class colours
    from smile_studio.core.labelio import colorize as paint

    def icon_rgb(i):
        img = grid.item(i).icon().pixmap(72, 72).toImage().convertToFormat(QImage.Format.Format_RGB888)
        return np.frombuffer(img.constBits(), np.uint8).reshape(72, img.bytesPerLine())[:, :216].reshape(72, 72, 3)

    qtbot.waitUntil(lambda: len(np.unique(icon_rgb(0).reshape(-1, 3), axis=0)) > 200, timeout=10_000)
    assert len(np.unique(paint(res.maps[0]).reshape(-1, 3), axis=0)) < 20
    assert grid.currentRow() == 2  # the choice survives the thumbnails' arrival


def test_reference_by_menu_button_and_paste(qtbot, window, tmp_path, monkeypatch):
    import shutil

    from PySide6.QtCore import QMimeData as Mime
    from PySide6.QtWidgets import QFileDialog

    from smile_studio.resources import SAMPLE_PHOTO, resources_dir

    ref = tmp_path / "ref.png"  # a real face photo, no map beside it: detected, aligned and parsed
    shutil.copy(resources_dir() / SAMPLE_PHOTO, ref)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(ref)], ""))
    qtbot.mouseClick(window.styles.add_reference, Qt.MouseButton.LeftButton)
    assert [r.name for r in window.doc.references] == ["ref.png"]
    add = next(a for a in window.findChildren(QAction) if a.text() == "Add &reference photo…")
    add.trigger()
    assert len(window.doc.references) == 2
    clip = QApplication.clipboard()
    clip.setImage(QImage(str(ref)))
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(window.doc.references) == 3 and window.doc.references[-1].name.startswith("pasted-")
    mime = Mime()
    mime.setUrls([QUrl.fromLocalFile(str(ref))])
    clip.setMimeData(mime)
    window.paste_reference()
    assert len(window.doc.references) == 4
    clip.clear()
    assert window.paste_reference() == [] and "no image" in window.message.text()


def test_help_menu_shortcuts_and_closed_docks_come_back(qtbot, window):
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    assert "&Help" in menus
    texts = [a.text() for a in menus["&Help"].actions()]
    assert "&Keyboard shortcuts" in texts and "&About SMILE Studio" in texts
    qtbot.keyClick(window, Qt.Key.Key_F1)
    dialog = window.shortcuts_dialog
    html = dialog.findChild(QTextBrowser).toPlainText()
    for expected in ("Ctrl+Z", "Undo", "Ctrl+E", "Alt+5", "Earring (ear_r)", "zoom at the cursor",
                     "Remove islands (< 16 px)"):
        assert expected in html, expected
    dialog.close()
    dock = window.findChild(QDockWidget, "dock_Classes")
    dock.close()
    assert not dock.isVisible()
    panels = next(a.menu() for a in menus["&View"].actions() if a.text() == "&Panels")
    toggle = next(a for a in panels.actions() if a.text() == "Classes")
    toggle.trigger()
    assert dock.isVisible()


def test_title_names_the_project_and_save_as_proposes_a_clean_name(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window.doc.name = "sample (astronaut.png)"
    assert window.suggested_project_name() == "sample-astronaut.smile"
    offered = []

    def fake_dialog(parent, title, name, filt):
        offered.append(name)
        return str(tmp_path / "portrait"), filt

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    assert window.save_as()
    assert offered == ["sample-astronaut.smile"] and (tmp_path / "portrait.smile").is_file()
    assert window.windowTitle() == "portrait.smile — SMILE Studio"
    window.set_class(HAIR)
    drag(qtbot, window.canvas, [(60, 200), (90, 205)])
    assert window.windowTitle() == "portrait.smile * — SMILE Studio"
    assert window.suggested_project_name() == "portrait.smile"


def test_palette_shows_the_class_keys_the_command_line_uses(window):
    texts = [window.palette.list.item(i).text() for i in range(window.palette.list.count())]
    assert texts[K["ear_r"].id].startswith("Earring (ear_r)") and texts[K["u_lip"].id].startswith("Upper lip (u_lip)")


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a zip", None])
def test_starting_with_a_bad_project_opens_the_sample_says_why_and_offers_recovery(qtbot, tmp_path, monkeypatch,
                                                                                   face_doc, content):
    from smile_studio.app.config import config_dir
    from smile_studio.app.main import start_up
    from smile_studio.core.project import save_project

    autosaves = config_dir() / "autosave"
    autosaves.mkdir(parents=True)
    save_project(face_doc, autosaves / "session-999999999.smile")  # left by a process that no longer runs
    bad = tmp_path / "BAD.smile"
    bad.write_bytes(content or b"")
    if content is None:  # a failure nobody foresaw inside the opener must not leave an empty window either
        import smile_studio.app.files as files_module

        monkeypatch.setattr(files_module, "open_document", lambda *a, **k: (_ for _ in ()).throw(
            RecursionError("maximum recursion depth exceeded")))
    w = make_window(qtbot)
    start_up(w, str(bad), background=False)
    assert w.doc is not None and w.doc.name.startswith("sample")
    assert "BAD.smile" in w.message.text() and "autosave" in w.message.text()
    assert w.recover_button.isVisible()
    w.worker.stop()


def test_export_to_a_disk_that_fills_up_leaves_no_partial_bundle(qtbot, window, tmp_path, monkeypatch):
    """The disk refuses the fourth file: no file of the bundle is left (no bundle without settings.json), the
    folder the export created is gone, the document is untouched and the message says why."""
    import smile_studio.core.imageio as imageio

    real, calls = imageio._stage, []

    def filling_disk(path, data):
        calls.append(path.name)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(imageio, "_stage", filling_disk)
    wait_final(qtbot, window)
    labels = window.doc.labels.copy()
    assert window.export_to(tmp_path / "bundle") == []
    assert not (tmp_path / "bundle").exists() and "No space left" in window.message.text()
    existing = tmp_path / "kept"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    calls.clear()
    assert window.export_to(existing) == []
    assert sorted(p.name for p in existing.iterdir()) == ["notes.txt"]  # nothing of the bundle, nothing of mine lost
    assert np.array_equal(window.doc.labels, labels)
    monkeypatch.setattr(imageio, "_stage", real)
    names = sorted(p.name for p in window.export_to(existing))
    assert "settings.json" in names and len(calls) == 4


def test_opening_says_what_it_decided(qtbot, window, samples_dir, tmp_path):
    photo = tmp_path / "face.jpg"
    photo.write_bytes((samples_dir / "maskgan_0.jpg").read_bytes())
    (tmp_path / "face.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")  # a damaged map beside it
    assert window.open_path(photo)
    text = window.message.text()
    assert "Opened face.jpg" in text and "face.png" in text and "parsed the photo instead" in text


def test_a_huge_map_opens_off_the_interface_thread(qtbot, window, samples_dir, tmp_path):
    """A 38-Mpx colour map dropped on the window: the window keeps answering while it is read, and only the
    newest of two quick drops is shown."""
    from PIL import Image

    labels = read_label_map(samples_dir / "maskgan_0.png").labels
    Image.fromarray(np.repeat(np.repeat(colorize(labels), 12, 0), 12, 1)).save(tmp_path / "big.png",
                                                                               compress_level=1)
    write_indexed_png(tmp_path / "small.png", labels)
    timer = StallMeter(10)
    t0 = time.perf_counter()
    _drop(window.canvas.viewport(), [tmp_path / "big.png"])
    qtbot.waitUntil(lambda: not window.opening, timeout=30_000)
    took = time.perf_counter() - t0
    timer.stop()
    assert window.doc.name == "big.png"
    worst = timer.worst_ms
    print(f"big map opened in {took:.2f} s; worst event-loop stall {worst:.0f} ms")
    assert worst < 250, f"the window froze for {worst:.0f} ms while the map was read"
    _drop(window.canvas.viewport(), [tmp_path / "big.png"])
    _drop(window.canvas.viewport(), [tmp_path / "small.png"])  # the user changed their mind
    qtbot.waitUntil(lambda: not window.opening, timeout=30_000)
    qtbot.wait(1500)  # the superseded open finishes and must not replace the newer one
    assert window.doc.name == "small.png"


def test_start_up_with_damaged_optional_weights_still_edits(qtbot, tmp_path, monkeypatch):
    """Broken face-parser and attribute-classifier files: the editor starts on the offline engines with the
    sample parsed, instead of an empty window."""
    from smile_studio.app.main import start_up
    from smile_studio.resources import bundled_sample
    from smile_studio.weights import checkpoint_path

    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))
    checkpoint_path("bisenet").write_bytes(b"\x80\x04 damaged")
    checkpoint_path("attnet").write_bytes(b"PK\x03\x04 truncated")
    bundled_sample.cache_clear()
    try:
        w = make_window(qtbot)
        start_up(w, None, background=False)
        assert w.doc is not None and w.doc.photo is not None and w.layout_engine is not None
        assert len(np.unique(w.doc.labels)) > 5
        w.worker.stop()
    finally:
        bundled_sample.cache_clear()
