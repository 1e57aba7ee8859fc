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
