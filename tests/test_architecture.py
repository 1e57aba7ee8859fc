"""The layering is a checked contract (pyproject.toml, [tool.importlinter]): core <- nets <- face / engines <-
cli / app, Qt only in app, no cycles. lint-imports must pass here, and must catch a wrong import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_layering_contracts_hold():
    out = _lint(REPO)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout and "KEPT" in out.stdout


def test_a_wrong_import_breaks_the_contracts(tmp_path):
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    shutil.copytree(REPO / "smile_studio", copy / "smile_studio", ignore=shutil.ignore_patterns("__pycache__"))
    labels = copy / "smile_studio" / "core" / "labels.py"
    labels.write_text(labels.read_text() + "\n\ndef _wrong():\n    from ..app import window  # noqa: F401\n")
    nets = copy / "smile_studio" / "nets" / "runtime.py"
    nets.write_text(nets.read_text() + "\n\ndef _also_wrong():\n    import PySide6  # noqa: F401\n")
    out = _lint(copy)
    assert out.returncode != 0, out.stdout[-3000:]
    assert "core (the Qt-free model) imports nothing else of the package BROKEN" in out.stdout
    assert "nothing outside app imports Qt BROKEN" in out.stdout
    assert "smile_studio.core.labels -> smile_studio.app" in out.stdout
