"""``smile-studio --selftest``: the whole application stack in one go, offscreen, for a bundle or an install to
prove itself: the real window opens the bundled sample, an eyeglasses proposal is computed and accepted on the
offline engines, the preview renders, the export bundle is written and read back. Exit 0 when every step passed;
otherwise 1 with the step that failed."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def _wait(app, window, done, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            shown = window.message.text().strip()
            raise TimeoutError(f"{what} did not happen within {seconds:.0f} s"
                               + (f" (the window says: {shown})" if shown else ""))
        app.processEvents()
        time.sleep(0.01)


def run_selftest() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    start = time.monotonic()
    import cv2  # noqa: F401  (its Qt plugin path is dropped before Qt starts, as at normal start-up)

    from .main import _drop_foreign_qt_plugins

    _drop_foreign_qt_plugins()
    from PySide6.QtWidgets import QApplication, QMessageBox

    from ..core.imageio import read_image
    from ..engines.registry import offline_engines
    from ..resources import sample_exemplar
    from .window import MainWindow

    step = "starting Qt"
    window = None
    try:
        app = QApplication.instance() or QApplication(sys.argv[:1])
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["SMILE_STUDIO_CONFIG_DIR"] = str(Path(tmp) / "config")  # leave the user's settings alone
            step = "opening the window"
            window = MainWindow(autosave_ms=3600_000)
            window.ask_save = lambda *a: QMessageBox.StandardButton.Discard  # no question at the end
            window.show()
            window.set_engines(*offline_engines(sample_exemplar()), "offline default (self-test)")
            step = "opening the bundled sample"
            window.open_sample()
            _wait(app, window, lambda: window.last_result is not None, 60, "the first preview")
            before = window.doc.labels.copy()
            step = "proposing eyeglasses"
            window.propose({"eyeglasses": "on"}, seed=1, psi=1.0, variations=1, reference_mode=False)
            _wait(app, window, lambda: window.proposal is not None, 60, "the proposal")
            window.accept_proposal()
            if window.doc.attributes.get("eyeglasses") != "on" or (window.doc.labels == before).all():
                raise RuntimeError("accepting the proposal did not change the map")
            step = "exporting"
            written = window.export_to(Path(tmp) / "export")
            images = [p for p in written if p.suffix == ".png"]
            if not images or any(read_image(p).size == 0 for p in images):
                raise RuntimeError(f"the export wrote {[p.name for p in written]}")
            window.close()
    except Exception as exc:  # noqa: BLE001 - the self-test reports any failure as its result
        print(f"selftest FAILED while {step}: {type(exc).__name__}: {exc}", flush=True)
        if window is not None:
            window.close()  # stops the engine thread
        return 1
    print(f"selftest passed in {time.monotonic() - start:.1f} s: sample opened, eyeglasses proposed and accepted, "
          f"{len(written)} files exported", flush=True)
    return 0
