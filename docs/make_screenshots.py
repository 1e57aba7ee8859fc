"""Screenshots of the main flows in a real window (run under Xvfb):

    xvfb-run -s "-screen 0 1920x1080x24" python docs/make_screenshots.py 1920x1080

Open the sample, toggle eyeglasses (proposal with its diff outline, then accepted), paint hair, drop a reference.
The steps run from the real event loop (app.exec), as a user's session would. Images go to docs/screenshots/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget

OUT = Path(__file__).resolve().parent / "screenshots"


def main() -> int:
    w_px, h_px = (int(v) for v in (sys.argv[1] if len(sys.argv) > 1 else "1366x768").split("x"))
    app = QApplication(sys.argv[:1])
    from smile_studio.app.window import MainWindow
    from smile_studio.engines.registry import select_engines
    from smile_studio.resources import resources_dir, sample_exemplar

    OUT.mkdir(exist_ok=True)
    win = MainWindow(autosave_ms=3600_000)
    win.setGeometry(0, 0, w_px, h_px)
    win.show()
    layout, render, why = select_engines("offline", exemplar=sample_exemplar())
    win.set_engines(layout, render, why)
    win.open_sample()
    vp = win.canvas.viewport()

    def vpos(x, y):
        return win.canvas.mapFromScene(QPointF(x, y))

    def shot(name):
        return lambda: app.primaryScreen().grabWindow(0).save(str(OUT / f"{name}_{w_px}x{h_px}.png"))

    def propose():
        win.attributes.toggles["eyeglasses"].setChecked(True)
        win.attributes.variations.setValue(3)
        win.attributes.propose.click()

    def paint():
        win.attributes.accept.click()
        win.set_class(13)
        win.size_spin.setValue(14)
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vpos(95, 92))
        for i in range(30):
            QTest.mouseMove(vp, vpos(95 + 2.2 * i, 92 - 4 * np.sin(i / 5)))
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vpos(160, 92))

    def reference():
        for dock in win.findChildren(QDockWidget):
            if dock.windowTitle() == "Styles":
                dock.raise_()
        win.add_references([str(resources_dir() / "sample" / "astronaut.png")])
        win.split.setValue(65)

    def finish():
        win.saved_version = win.doc.version
        win.close()
        app.quit()

    steps = [(1500, shot("1_open_sample")), (0, propose), (1500, shot("2_eyeglasses_proposal")), (0, paint),
             (1200, shot("3_paint_hair")), (0, reference), (1500, shot("4_reference_styles")), (200, finish)]
    t = 0
    for delay, fn in steps:
        t += delay
        QTimer.singleShot(t, fn)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
