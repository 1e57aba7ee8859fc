"""The desktop bundle: ``python -m PyInstaller build.spec`` builds a one-folder app that passes ``--selftest``
offscreen and keeps its weights in the per-user data folder, never in the bundle (slow: a few minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_pyinstaller_bundle_starts_and_passes_its_selftest(tmp_path):
    build = subprocess.run([sys.executable, "-m", "PyInstaller", str(ROOT / "build.spec"), "--noconfirm",
                            "--distpath", str(tmp_path / "dist"), "--workpath", str(tmp_path / "build")],
                           capture_output=True, text=True, timeout=1500, cwd=ROOT)
    assert build.returncode == 0, build.stderr[-3000:]
    app = tmp_path / "dist" / "smile-studio" / "smile-studio"
    assert app.is_file()
    size = sum(p.stat().st_size for p in app.parent.rglob("*") if p.is_file())
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "SMILE_STUDIO_WEIGHTS")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "data"),
               SMILE_STUDIO_CONFIG_DIR=str(tmp_path / "config"))
    t0 = time.monotonic()
    run = subprocess.run([str(app), "--selftest"], capture_output=True, text=True, timeout=600, env=env)
    seconds = time.monotonic() - t0
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "selftest passed" in run.stdout
    where = subprocess.run([str(app), "weights", "where"], capture_output=True, text=True, timeout=300, env=env)
    first = where.stdout.splitlines()[0]
    assert where.returncode == 0 and first == f"new files go to: {tmp_path / 'data' / 'smile-studio' / 'weights'}"
    assert str(app.parent) not in where.stdout
    print(f"bundle: {size / 2**20:.0f} MB, --selftest in {seconds:.1f} s")
