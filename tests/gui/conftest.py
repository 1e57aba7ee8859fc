"""GUI fixtures: a real MainWindow (offscreen), real widgets, settings and autosaves in a temporary folder."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from smile_studio.core.document import Document
from smile_studio.core.labelmap import LabelMap


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("SMILE_STUDIO_CONFIG_DIR", str(tmp_path / "config"))


def make_window(qtbot, layout=None, render=None, note="offline default (classical algorithms, not SMILE)"):
    from smile_studio.app.window import MainWindow
    from smile_studio.engines.exemplar import ExemplarRenderEngine
    from smile_studio.engines.offline import OfflineLayoutEngine

    w = MainWindow(autosave_ms=3600_000)
    qtbot.addWidget(w)
    w.ask_save = lambda *a: __import__("PySide6.QtWidgets", fromlist=["QMessageBox"]).QMessageBox.StandardButton.Discard
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    w.set_engines(layout or OfflineLayoutEngine(), render or ExemplarRenderEngine(), note)
    return w


@pytest.fixture
def face_doc(face_map):
    import cv2

    lab = cv2.resize(face_map, (256, 256), interpolation=cv2.INTER_NEAREST)
    rng = np.random.default_rng(0)
    photo = np.clip(np.array([200, 160, 140])[None, None] + rng.normal(0, 12, (256, 256, 3)), 0, 255).astype(np.uint8)
    return Document(LabelMap(lab), photo=photo, name="synthetic face")


@pytest.fixture
def window(qtbot, face_doc):
    w = make_window(qtbot)
    w.set_document(face_doc)
    w.canvas.resetTransform()  # 1 image pixel = 1 view pixel, pinned for deterministic input
    w.canvas.auto_fit = False
    w.canvas.centerOn(128, 128)
    yield w
    w.worker.stop()


def view_point(canvas, x: float, y: float) -> QPoint:
    return canvas.mapFromScene(QPointF(x, y))


def drag(qtbot, canvas, points):
    vp = canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_point(canvas, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(vp, pos=view_point(canvas, *p))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(canvas, *points[-1]))


def click(qtbot, canvas, x, y):
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(canvas, x, y))
