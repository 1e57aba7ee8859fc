"""Install-level guards that pip check cannot see."""

from importlib.metadata import distributions


def test_one_coherent_opencv_and_no_headless_build():
    cv = {d.metadata["Name"].lower(): d.version for d in distributions()
          if d.metadata["Name"] and d.metadata["Name"].lower().startswith("opencv")}
    assert cv, "no OpenCV distribution installed"
    assert len(set(cv.values())) == 1, f"OpenCV distributions differ in version: {cv}"
    assert not any("headless" in n for n in cv), f"a headless OpenCV build is installed: {cv}"
    import cv2

    assert int(cv2.__version__.split(".")[0]) == 4 and hasattr(cv2, "CascadeClassifier")


def test_torch_is_the_pinned_release():
    import torch

    assert torch.__version__.startswith("2.13.0")


def test_qt_bindings_keep_references_to_true_and_none():
    """PySide6 6.12.0 lost a reference to True per Signal(bool) emit and to None per processEvents() on Python
    3.11: the editor aborted ('deallocating True or False') after ~1,000 mouse moves. Run in a child process so
    that a leaking build fails this test instead of aborting the suite."""
    import subprocess
    import sys

    probe = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal
app = QCoreApplication([])
class Emitter(QObject):
    toggled = Signal(bool)
e = Emitter()
e.toggled.connect(lambda value: None)
t0, n0 = sys.getrefcount(True), sys.getrefcount(None)
for _ in range(200):
    e.toggled.emit(True)
t1 = sys.getrefcount(True)
for _ in range(200):
    app.processEvents()
print(t0 - t1, n0 - sys.getrefcount(None))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lost_true, lost_none = (int(v) for v in out.stdout.split())
    assert abs(lost_true) < 50 and abs(lost_none) < 50, f"references lost: True {lost_true}, None {lost_none}"
