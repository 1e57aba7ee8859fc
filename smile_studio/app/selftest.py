"""``smile-studio --selftest``: the whole application stack in one go, offscreen, for a bundle or an install to
prove itself: torch runs a SMILE_SYN network (random weights) through the neural engine, dlib finds the bundled
sample's 68 landmarks (no fallback), the video (FFmpeg) and weights (downloads) modules import; then the real
window opens the sample, an eyeglasses proposal is computed and accepted on the offline engines, the preview
renders, the export bundle is written and read back. Exit 0 when every step passed; otherwise 1 with the step
that failed: a bundle missing any piece fails."""

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


def _check_neural_engine() -> str:
    """A small SMILE_SYN generator with random weights rendered by the neural engine: torch and its kernels run."""
    import numpy as np
    import torch

    from ..core.labels import ClassId as C
    from ..engines.base import RenderRequest
    from ..engines.neural import NeuralRenderEngine
    from ..nets.syn import SynGenerator

    torch.manual_seed(0)
    engine = NeuralRenderEngine(SynGenerator(64, width=1 / 16, n_mlp=2), device="cpu", precision="exact")
    labels = np.zeros((64, 64), np.uint8)
    labels[12:56, 14:50] = C.SKIN
    labels[4:20, 10:54] = C.HAIR
    image = engine.render(RenderRequest(labels, exact=True))
    if image.shape != (64, 64, 3) or float(np.std(image)) == 0:
        raise RuntimeError(f"the neural engine rendered {image.shape}, std {float(np.std(image)):.2f}")
    return f"torch {torch.__version__} rendered SMILE_SYN"


def _check_dlib() -> str:
    from ..core.imageio import read_image
    from ..face.landmarks import dlib_faces
    from ..resources import SAMPLE_PHOTO, resources_dir

    faces = dlib_faces(read_image(resources_dir() / SAMPLE_PHOTO))
    if not faces or faces[0].points is None or len(faces[0].points) != 68:
        raise RuntimeError("dlib found no face with 68 landmarks in the bundled sample")
    return "dlib found the sample's 68 landmarks"


def _check_imports() -> str:
    import av  # noqa: F401  (FFmpeg's decoders and encoders)

    from ..video import clip, smoothing  # noqa: F401
    from ..weights import archive, fetch, verify  # noqa: F401

    return f"video (PyAV {av.__version__}) and weights modules import"


STACK_CHECKS = (("running a SMILE network on torch", _check_neural_engine),
                ("finding the sample's landmarks with dlib", _check_dlib),
                ("importing the video and weights modules", _check_imports))


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
    proven = []
    try:
        for step, check in STACK_CHECKS:  # noqa: B007 - a failure names the step it was in
            proven.append(check())
        step = "starting Qt"
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
    print(f"selftest passed in {time.monotonic() - start:.1f} s: {'; '.join(proven)}; sample opened, eyeglasses "
          f"proposed and accepted, {len(written)} files exported", flush=True)
    return 0
