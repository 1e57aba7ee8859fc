"""The window: banner and title, rendering (latest wins, preview, before/after), references, engines, help."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QApplication, QDockWidget, QTextBrowser

from smile_studio.app.scheduler import FINAL
from smile_studio.core.labelio import colorize, write_indexed_png
from smile_studio.core.labels import ClassId as C

from .conftest import click, drag, make_window
from .driving import SlowEngine, StallMeter, drop_files, grab_rgb, wait_final


def test_title_banner_and_status(window):
    assert window.windowTitle() == "synthetic face — SMILE Studio"
    assert "offline" in window.banner.text() and "weights" in window.banner.text()
    assert "engine: offline" in window.status_engine.text()


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
    w.set_class(C.HAIR)
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


def test_before_after_slider_shows_more_after_towards_after(qtbot, window):
    wait_final(qtbot, window)
    pane = window.preview
    before = np.zeros((256, 256, 3), np.uint8)
    before[..., 0] = 255  # pure red "before"
    pane.set_before(before)
    pane.set_after(np.full((256, 256, 3), (0, 0, 255), np.uint8), "final", 1.0)  # pure blue "after"
    r = pane.target_rect()
    row = grab_rgb(pane)[int(r.center().y()), int(r.left()) + 2:int(r.right()) - 2]
    assert window.split.value() == 100 and (row[:, 2] > 200).all()  # opens at the After end: the edit, whole

    def after_share(value: int) -> float:
        window.split.setValue(value)
        row = grab_rgb(pane)[int(r.center().y()), int(r.left()) + 2:int(r.right()) - 2]
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


def test_the_bundled_sample_opens_aligned_parsed_and_with_its_known_attributes(qtbot):
    w = make_window(qtbot)
    w.open_sample()
    assert w.doc is not None and w.doc.labels.shape == w.doc.photo.shape[:2] and w.doc.original is not None
    counts = np.bincount(w.doc.labels.ravel(), minlength=19)
    assert counts[C.HAIR] > 0.1 * w.doc.labels.size and counts[1] > 0.2 * w.doc.labels.size  # hair, skin
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
    window.set_class(C.HAIR)
    drag(qtbot, window.canvas, [(60, 200), (100, 200)])  # painting works while the engines load
    assert window.doc.labels[200, 80] == C.HAIR
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


def test_dropping_a_reference_restyles_hair(qtbot, window, tmp_path):
    wait_final(qtbot, window)
    from PIL import Image

    lab = window.doc.labels.copy()
    ref_rgb = np.zeros((256, 256, 3), np.uint8)
    ref_rgb[...] = (240, 200, 60)  # a blonde reference (same layout, saturated colour)
    Image.fromarray(ref_rgb).save(tmp_path / "ref.jpg", quality=100)
    write_indexed_png(tmp_path / "ref.png", lab)  # its label map beside it
    before = window.preview.image.copy()
    assert drop_files(window.styles.shelf.viewport(), [tmp_path / "ref.jpg"])
    assert window.styles.shelf.count() == 1 and len(window.doc.references) == 1
    assert window.doc.styles[C.HAIR].kind == "reference" and window.doc.styles[C.SKIN].kind == "source"
    wait_final(qtbot, window)
    hair = lab == C.HAIR
    assert np.abs(window.preview.image[hair].astype(int) - before[hair].astype(int)).mean() > 20
    skin = lab == C.SKIN
    assert np.abs(window.preview.image[skin].astype(int) - before[skin].astype(int)).mean() < 2


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


def test_the_styles_panel_says_which_regions_follow_a_restyled_skin(qtbot, window):
    from smile_studio.core.document import StyleSource

    window.set_style(C.SKIN, StyleSource("seed", seed=3))
    combo = window.styles.combos[C.NECK] if C.NECK in window.styles.combos else None
    assert combo is not None  # the fixture's face has a neck
    assert combo.itemText(0) == "follows skin"
    window.set_style(C.NECK, StyleSource(locked=True))  # keep the photo's own neck
    assert window.styles.combos[C.NECK].itemText(0) == "source photo"
