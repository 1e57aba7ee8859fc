"""The code base stays ruff-clean (style is part of the suite, so CI enforces it)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ruff_clean():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "smile_studio", "tests", "bench"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
