"""``smile-studio --selftest`` (what a bundle runs to prove itself) passes offscreen in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys


def test_selftest_opens_edits_renders_and_exports(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SMILE_STUDIO_CONFIG_DIR": str(tmp_path / "config")}
    env.pop("DISPLAY", None)
    out = subprocess.run([sys.executable, "-m", "smile_studio", "--selftest"], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "selftest passed" in out.stdout and "eyeglasses proposed and accepted" in out.stdout
    assert not (tmp_path / "config").exists()  # the self-test leaves the user's settings alone


def test_selftest_proves_torch_dlib_video_and_weights(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SMILE_STUDIO_CONFIG_DIR": str(tmp_path / "config")}
    out = subprocess.run([sys.executable, "-m", "smile_studio", "--selftest"], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    for proof in ("rendered SMILE_SYN", "dlib found the sample's 68 landmarks", "video (PyAV",
                  "weights modules import"):
        assert proof in out.stdout, out.stdout


def test_selftest_fails_when_a_piece_is_missing(tmp_path):
    """A bundle without dlib (or with a broken one) must not pass by falling back to OpenCV's Haar cascades."""
    shadow = tmp_path / "shadow" / "dlib"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('simulated: dlib missing from the bundle')\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SMILE_STUDIO_CONFIG_DIR": str(tmp_path / "config"),
           "PYTHONPATH": os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "smile_studio", "--selftest"], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 1 and "selftest FAILED while finding the sample's landmarks with dlib" in out.stdout
    assert "not installed" in out.stdout and "Traceback" not in out.stdout + out.stderr
