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
