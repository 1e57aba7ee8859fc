"""Every field of the main window is declared in one place (the annotations of ``MainWindow``): the mixins
(file, reference, proposal, menu actions...) create none a newcomer would have to grep five files for."""

from __future__ import annotations

from PySide6.QtCore import Qt, SignalInstance

from smile_studio.app.window import MainWindow

from .conftest import drag
from .driving import wait_final


def test_every_field_the_window_holds_is_declared_on_it(qtbot, window, tmp_path):
    window.editor.set_class(13)
    drag(qtbot, window.canvas, [(60, 200), (100, 200)])
    wait_final(qtbot, window)
    window.attributes.toggles["eyeglasses"].setChecked(True)
    qtbot.mouseClick(window.attributes.propose, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.proposal is not None, timeout=20000)
    window.accept_proposal()
    window.check_recovery()
    window.show_full_size()
    declared = set(MainWindow.__annotations__)
    # (PySide keeps its meta-object and bound signals there; a test may stand in for a method)
    held = {k for k, v in vars(window).items()
            if not k.startswith("__") and not isinstance(v, SignalInstance) and not hasattr(MainWindow, k)}
    assert held - declared == set(), " ".join(sorted(held - declared))
    assert len(held) > 40  # the whole window, not a part of it
