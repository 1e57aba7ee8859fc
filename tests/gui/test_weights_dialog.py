"""File > Weights…: fetch with progress and Cancel off the interface thread; on success the window renders
with the SMILE engines without a restart."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.unit.weights.server import WeightsServer
from tests.unit.weights.test_fetch_import import _bytes, _fan, _zip

from .conftest import make_window


@pytest.fixture(scope="module")
def full_archive() -> bytes:
    import torch

    from smile_studio.nets.sem import MappingNetwork, SemGenerator, StyleEncoder
    from smile_studio.nets.syn import SynGenerator

    torch.manual_seed(5)
    return _zip({"a/smileSYN_256.pth": _bytes({"g_ema": SynGenerator(256).state_dict()}),
                 "a/b.pth": _bytes(SemGenerator(256).state_dict()), "a/c.pth": _bytes(MappingNetwork().state_dict()),
                 "a/d.pth": _bytes(StyleEncoder(256).state_dict()), "a/e.ckpt": _bytes(_fan())})


@pytest.mark.slow
def test_fetch_cancel_then_fetch_switches_the_window_to_smile(qtbot, face_doc, tmp_path, monkeypatch, full_archive):
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path / "weights"))
    w = make_window(qtbot)
    w.set_document(face_doc)
    assert w.render_engine.name == "offline" and "Get the SMILE weights" in w.banner.text()
    with WeightsServer() as srv:
        srv.files["/full.zip"] = full_archive
        srv.throttled.add("/full.zip")  # a slow link, so that the cancel lands mid-download
        dialog = w.weights_dialog(sources=[srv.url("/full.zip")])
        assert "not ready" in dialog.summary.text()
        qtbot.mouseClick(dialog.fetch_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=10_000)  # progress while it downloads
        assert "MB" in dialog.message.text() and not dialog.fetch_button.isEnabled()
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.thread is None, timeout=10_000)
        assert "Cancelled" in dialog.message.text() and w.render_engine.name == "offline"
        parts = list((tmp_path / "weights").glob("*.part"))
        assert parts, "the partial download is kept for a resume"
        kept = parts[0].stat().st_size
        srv.throttled.clear()  # the same source, fast again
        qtbot.mouseClick(dialog.fetch_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.thread is None, timeout=60_000)
        assert "Installed" in dialog.message.text() and "ready" in dialog.summary.text()
        assert srv.requests[-1] == ("/full.zip", f"bytes={kept}-")  # resumed where the cancel left it
    qtbot.waitUntil(lambda: w.render_engine.info.official_weights, timeout=60_000)  # no restart
    assert "SMILE" in w.banner.text() and "SMILE" in w.message.text()
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.kind == "final"
                    and not w.worker.mailbox.is_stale(w.last_result.id), timeout=60_000)
    dialog.close()
    w.worker.stop()


def test_the_banner_and_the_file_menu_open_the_dialog(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path / "w"))
    window.banner.linkActivated.emit("weights")
    dialog = window._weights_dialog
    assert dialog.isVisible() and dialog.table.rowCount() >= 8
    assert dialog.table.item(0, 1).text() == "missing" and "w" in dialog.where.text()
    dialog.close()
    from PySide6.QtGui import QAction

    act = next(a for a in window.findChildren(QAction) if a.text() == "&Weights…")
    act.trigger()
    assert window._weights_dialog is not dialog and window._weights_dialog.isVisible()
    window._weights_dialog.close()
