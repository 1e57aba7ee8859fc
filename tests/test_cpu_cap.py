"""The network, engine and GUI-engine tests once more in a process that behaves as a CPU with AVX2 only
(``SMILE_CPU_CAP=avx2`` with PyTorch's and oneDNN's own caps): float32 previews, no bf16 fast paths. A test that
silently assumes the CPU it was written on (a cache size, a dtype, a tolerance) fails here on any machine, not
only on an AVX2 laptop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CAPPED = ("tests/unit/nets", "tests/unit/engines", "tests/gui/test_smile_engines.py")


@pytest.mark.slow
def test_network_and_engine_tests_pass_on_an_avx2_only_cpu():
    env = dict(os.environ, SMILE_CPU_CAP="avx2", ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CAPPED],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=1500)
    tail = out.stdout[-4000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    assert " passed" in out.stdout.splitlines()[-1] and " skipped" not in out.stdout.splitlines()[-1], tail
