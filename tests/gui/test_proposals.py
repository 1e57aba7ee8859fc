"""Attribute proposals: propose, choose a variation, accept (one undo step) or reject."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from smile_studio.core.labels import CLASS_BY_KEY as K
from smile_studio.core.labels import ClassId as C

from .driving import wait_final


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
    assert (window.doc.labels == C.EYE_G).sum() > 30 and window.doc.attributes["eyeglasses"] == "on"
    wait_final(qtbot, window)
    glasses = window.doc.labels == C.EYE_G
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
    assert window.attributes.seed.value() == res.seeds[0]  # the box keeps the proposal's seed, not the click
    # the thumbnails become rendered faces (the photo's colours), not flat class colours
    from smile_studio.core.labelio import colorize as paint

    def icon_rgb(i):
        img = grid.item(i).icon().pixmap(72, 72).toImage().convertToFormat(QImage.Format.Format_RGB888)
        return np.frombuffer(img.constBits(), np.uint8).reshape(72, img.bytesPerLine())[:, :216].reshape(72, 72, 3)

    qtbot.waitUntil(lambda: len(np.unique(icon_rgb(0).reshape(-1, 3), axis=0)) > 200, timeout=10_000)
    assert len(np.unique(paint(res.maps[0]).reshape(-1, 3), axis=0)) < 20
    assert grid.currentRow() == 2  # the choice survives the thumbnails' arrival


def test_a_wrong_detection_is_visible_and_correctable_without_editing(qtbot, window):
    labels = window.doc.labels.copy()
    gender = window.doc.attributes["gender"]
    other = "male" if gender == "female" else "female"
    assert f"This face now: {gender}" in window.attributes.state.text()
    assert not window.attributes.correct.isVisible()
    toggle = window.attributes.toggles["gender"]
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton, pos=QPoint(10, toggle.height() // 2))
    assert f"You ask for: {other}" in window.attributes.state.text() and window.attributes.correct.isVisible()
    qtbot.mouseClick(window.attributes.correct, Qt.MouseButton.LeftButton)
    assert window.doc.attributes["gender"] == other and np.array_equal(window.doc.labels, labels)
    assert f"This face now: {other}" in window.attributes.state.text() and not window.attributes.correct.isVisible()
    window.undo()
    assert window.doc.attributes["gender"] == gender
