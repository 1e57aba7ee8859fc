"""What the editor says stays true of what is on screen: the unsaved-changes question guards every way of
replacing the document (File > Open sample included), and messages that describe a document or one of its
versions go when it is replaced or changed."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from smile_studio.core.labels import ClassId as C

from .conftest import drag
from .driving import wait_final


def _menu_action(window, text: str) -> QAction:
    return next(a for a in window.findChildren(QAction) if a.text() == text)


def test_open_sample_asks_before_replacing_unsaved_work(qtbot, window):
    window.doc.paint((30, 30), (30, 30), C.HAIR, 5)
    work = window.doc.labels.copy()
    asked = []
    window.ask_save = lambda *a: asked.append(a) or QMessageBox.StandardButton.Cancel
    _menu_action(window, "Open &sample").trigger()
    assert asked == [("opening the sample",)]
    assert window.doc.name == "synthetic face" and np.array_equal(window.doc.labels, work) and window.modified
    assert "was not opened" in window.message.text() and "synthetic face stays open" in window.message.text()
    window.ask_save = lambda *a: QMessageBox.StandardButton.Discard
    _menu_action(window, "Open &sample").trigger()
    assert window.doc.name != "synthetic face" and not window.modified


def test_a_cancelled_prompt_does_not_leave_opening_on_screen(qtbot, window, samples_dir):
    window.doc.paint((30, 30), (30, 30), C.HAIR, 5)
    window.ask_save = lambda *a: QMessageBox.StandardButton.Cancel
    window.open_in_background(samples_dir / "maskgan_0.jpg")
    assert "Opening maskgan_0.jpg" in window.message.text()
    qtbot.waitUntil(lambda: not window.opening, timeout=30_000)
    assert "Opening" not in window.message.text() and "maskgan_0.jpg was not opened" in window.message.text()
    assert window.doc.name == "synthetic face"


def test_the_question_names_the_document_and_what_is_about_to_happen(qtbot, window, monkeypatch):
    window.doc.paint((30, 30), (30, 30), C.HAIR, 5)
    shown = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda parent, title, text, buttons: shown.append(text) or QMessageBox.StandardButton.Cancel)
    fixture_answer = window.ask_save
    del window.ask_save  # the window's own question, not the fixture's stand-in
    assert not window.maybe_save("opening b.jpg")
    window.ask_save = fixture_answer  # closing the window at the end must not ask
    assert shown == ["Save your changes to synthetic face before opening b.jpg?"]


def test_accepted_variation_line_goes_with_the_undo(qtbot, window):
    wait_final(qtbot, window)
    toggle = window.attributes.toggles["eyeglasses"]
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton, pos=QPoint(10, toggle.height() // 2))
    qtbot.mouseClick(window.attributes.propose, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.proposal is not None, timeout=5000)
    qtbot.mouseClick(window.attributes.accept, Qt.MouseButton.LeftButton)
    assert "Accepted variation 1" in window.attributes.info.text()
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.doc.attributes["eyeglasses"] == "off"  # the undo happened
    assert "Accepted" not in window.attributes.info.text()


def test_a_message_about_one_document_goes_when_another_opens(qtbot, window, samples_dir):
    window.notify("Recovered synthetic face from the autosave.")
    assert window.message.isVisible()
    assert window.open_path(samples_dir / "maskgan_0.jpg")
    assert "Recovered" not in window.message.text() and "Opened maskgan_0.jpg" in window.message.text()
    window.notify("Painted hair; Ctrl+Z undoes it.", until_edit=True)
    window.canvas.resetTransform()
    window.canvas.centerOn(128, 128)
    drag(qtbot, window.canvas, [(100, 100), (110, 104), (120, 108)])  # a real stroke: a new version
    assert not window.message.isVisible()


def test_no_face_says_the_open_document_stays(qtbot, window, tmp_path):
    from smile_studio.core.imageio import write_image

    blank = tmp_path / "wall.png"
    write_image(blank, np.full((300, 300, 3), 128, np.uint8))
    assert not window.open_path(blank)
    assert "No face was detected in wall.png. synthetic face stays open." in window.message.text()
    assert window.doc.name == "synthetic face"


def test_the_eraser_restores_the_class_the_face_was_opened_with(qtbot, window):
    opened = window.doc.source_labels.copy()
    window.set_class(C.HAIR)
    drag(qtbot, window.canvas, [(60, 70), (70, 72), (80, 74)])  # hair over the skin
    painted = window.doc.labels.copy()
    assert ((painted == C.HAIR) & (opened != C.HAIR)).sum() > 50
    qtbot.keyClick(window, Qt.Key.Key_E)
    assert window.canvas.tool == "eraser"
    window.size_spin.setValue(30)
    drag(qtbot, window.canvas, [(55, 72), (70, 72), (85, 72)])
    erased = (painted != window.doc.labels)
    assert erased.sum() > 50 and np.array_equal(window.doc.labels[erased], opened[erased])
    assert not (window.doc.labels[erased] == 0).all()  # skin came back, not background
    window.undo()
    assert np.array_equal(window.doc.labels, painted)  # one undo step


def test_file_dialogs_start_in_the_last_folder_used_and_export_makes_its_folder(qtbot, window, tmp_path,
                                                                                monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    offered = []

    def save_dialog(parent, title, start, *rest, **kw):
        offered.append(start)
        return str(tmp_path / "work" / "portrait.smile"), ""

    (tmp_path / "work").mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    assert window.save_as()
    assert offered[-1].endswith("synthetic-face.smile")
    opened = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda parent, title, start, filt: opened.append(start)
                        or ("", ""))
    window.open_dialog()
    assert opened == [str(tmp_path / "work")]  # where the project was just saved

    def export_dialog(parent, title, start, *rest, **kw):
        offered.append(start)
        return str(tmp_path / "work" / "new-export"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", export_dialog)
    window.export_dialog()
    assert offered[-1] == str(tmp_path / "work" / "portrait-export")
    written = sorted(p.name for p in (tmp_path / "work" / "new-export").iterdir())
    assert "render.png" in written or len(written) >= 3, written


def test_ticking_an_attribute_never_moves_propose_under_the_cursor(qtbot, window):
    panel = window.attributes
    before = panel.propose.mapTo(window, QPoint(0, 0))
    toggle = panel.toggles["hat"]
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton, pos=QPoint(10, toggle.height() // 2))
    qtbot.wait(20)
    assert panel.correct.isVisible() and panel.correct.text().startswith("Fix detection")
    assert panel.propose.mapTo(window, QPoint(0, 0)) == before


def test_the_attribute_panel_explains_itself(qtbot, window):
    panel = window.attributes
    assert all(t.toolTip() for t in panel.toggles.values())
    assert "with eyeglasses" in panel.toggles["eyeglasses"].toolTip()
    assert "Truncation" in panel.psi.toolTip() and "typical" in panel.psi.toolTip()
    assert panel.seed.toolTip() and panel.variations.toolTip() and panel.reference.toolTip()


def test_accepting_moves_the_seed_past_the_proposal_so_the_next_one_differs(qtbot, window):
    wait_final(qtbot, window)
    panel = window.attributes
    panel.variations.setValue(3)
    toggle = panel.toggles["hat"]
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton, pos=QPoint(10, toggle.height() // 2))
    qtbot.mouseClick(panel.propose, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.proposal is not None, timeout=5000)
    seeds = window.proposal[0].seeds
    grid = panel.grid
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.visualItemRect(grid.item(1)).center())
    assert panel.seed.value() == seeds[0]
    qtbot.mouseClick(panel.accept, Qt.MouseButton.LeftButton)
    assert panel.seed.value() == max(seeds) + 1 and f"seed {seeds[1]}" in panel.info.text()


def test_reference_mode_warns_when_the_reference_lacks_the_accessory(qtbot, window, samples_dir):
    from smile_studio.core.labelio import read_label_map

    ref_map = samples_dir / "maskgan_0.png"
    assert not (read_label_map(ref_map).labels == C.HAT).any()
    window.add_references([str(ref_map)])
    panel = window.attributes
    panel.reference.setChecked(True)
    toggle = panel.toggles["hat"]
    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton, pos=QPoint(10, toggle.height() // 2))
    qtbot.mouseClick(panel.propose, Qt.MouseButton.LeftButton)
    assert "shows no hat in its map" in window.message.text() and "generated shape" in window.message.text()


def test_the_weights_dialogs_import_starts_in_the_last_folder_used(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window.remember_folder(tmp_path)
    dialog = window.weights_dialog()
    seen = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda parent, title, start, filt: seen.append(start)
                        or ("", ""))
    dialog.import_dialog()
    assert seen == [str(tmp_path)]
    dialog.close()
