"""Painting and viewing the map: tools, hotkeys, protection, undo, pan and zoom."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from smile_studio.core.labels import CLASS_BY_KEY as K
from smile_studio.core.labels import ClassId as C

from .conftest import click, drag, view_point


def test_drag_paints_and_is_one_undo_step(qtbot, window):
    before = window.doc.labels.copy()
    window.set_class(C.HAIR)
    window.size_spin.setValue(6)
    drag(qtbot, window.canvas, [(60, 200), (80, 205), (100, 210), (120, 215)])
    after = window.doc.labels.copy()
    painted = (after == C.HAIR) & (before != C.HAIR)
    assert painted.sum() > 150
    assert painted[205, 80] and painted[212, 110]  # the pixels between events are painted too
    assert len(window.doc.history) == 1
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(window.doc.labels, before)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(window.doc.labels, after)


def test_click_stamps_and_protection(qtbot, window):
    window.set_class(C.HAIR)
    window.size_spin.setValue(9)
    window.palette.list.item(0).setCheckState(Qt.CheckState.Unchecked)  # protect background
    before = window.doc.labels.copy()
    click(qtbot, window.canvas, 128, 128)  # on skin
    assert window.doc.labels[128, 128] == C.HAIR and (window.doc.labels != before).sum() > 40
    click(qtbot, window.canvas, 5, 5)  # on background: protected
    assert window.doc.labels[5, 5] == 0


def test_fill_keeps_enclosed_classes(qtbot, window):
    lab = window.doc.labels.copy()
    eyes = np.isin(lab, [K["l_eye"].id, K["r_eye"].id])
    window.set_tool("fill")
    window.set_class(K["nose"].id)
    ys, xs = np.nonzero(lab == C.SKIN)
    click(qtbot, window.canvas, xs[len(xs) // 2] + 0.5, ys[len(ys) // 2] + 0.5)
    new = window.doc.labels
    assert (new == K["nose"].id).sum() == (lab == C.SKIN).sum()
    assert np.array_equal(np.isin(new, [K["l_eye"].id, K["r_eye"].id]), eyes)


def test_eyedropper_and_hotkeys(qtbot, window):
    window.set_tool("eyedropper")
    ys, xs = np.nonzero(window.doc.labels == C.HAIR)
    click(qtbot, window.canvas, xs[0] + 0.5, ys[0] + 0.5)
    assert window.current_class == C.HAIR
    qtbot.keyClick(window, Qt.Key.Key_3)
    assert window.current_class == 3 and window.palette.list.currentRow() == 3
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert window.current_class == 12
    size = window.size_spin.value()
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    assert window.size_spin.value() == size - 2 and window.canvas.brush_size == size - 2
    qtbot.keyClick(window, Qt.Key.Key_E)
    assert window.canvas.tool == "eraser"


def test_point_mapping_is_pinned(window):
    assert view_point(window.canvas, 10, 10) - view_point(window.canvas, 0, 0) == QPoint(10, 10)


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


def test_palette_shows_the_class_keys_the_command_line_uses(window):
    texts = [window.palette.list.item(i).text() for i in range(window.palette.list.count())]
    assert texts[K["ear_r"].id].startswith("Earring (ear_r)") and texts[K["u_lip"].id].startswith("Upper lip (u_lip)")


def test_widgets_and_the_editor_state_follow_each_other(qtbot, window):
    e = window.editor
    e.set_brush_size(31)
    assert window.size_spin.value() == 31 and window.canvas.brush_size == 31
    qtbot.mouseClick(window.mirror_paint, Qt.MouseButton.LeftButton)
    assert e.mirror
    e.set_mirror(False)
    assert not window.mirror_paint.isChecked()
    qtbot.mouseClick(window.contiguous, Qt.MouseButton.LeftButton)
    assert not e.contiguous
    e.protect(C.HAIR)
    assert window.palette.list.item(C.HAIR).checkState() == Qt.CheckState.Unchecked
    window.palette.list.item(C.HAIR).setCheckState(Qt.CheckState.Checked)
    assert e.paintable is None
    e.set_tool("fill")
    assert window.canvas.tool == "fill" and window.tool_actions["fill"].isChecked()
    e.set_class(K["nose"].id)
    assert window.palette.list.currentRow() == K["nose"].id and window.canvas.selected_class == K["nose"].id
