"""The layering is a checked contract (pyproject.toml, [tool.importlinter]): core <- nets <- weights <- face <-
engines, opening <- training, video, export, resources <- evaluation <- cli, app; Qt only in app; no cycles.
lint-imports must pass here and must catch a wrong import, and README's "Architecture" says what each package
imports, as the code does."""

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
    out = _lint(copy)
    assert out.returncode != 0, out.stdout[-3000:]
    assert "BROKEN" in out.stdout.split("Contracts:")[0]
    assert "smile_studio.core.labels -> smile_studio.app" in out.stdout


def test_qt_in_video_or_evaluation_breaks_the_contracts(tmp_path):
    """The video and evaluation packages run on GPU boxes without a display: a Qt import there, direct or
    through another of our modules, is refused."""
    for target, line in (("video/clip.py", "    import PySide6.QtGui  # noqa: F401"),
                         ("evaluation/__init__.py", "    from ..app import canvas  # noqa: F401")):
        copy = tmp_path / target.replace("/", "_")
        copy.mkdir()
        shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
        shutil.copytree(REPO / "smile_studio", copy / "smile_studio", ignore=shutil.ignore_patterns("__pycache__"))
        module = copy / "smile_studio" / target
        module.write_text(module.read_text() + f"\n\ndef _wrong():\n{line}\n")
        out = _lint(copy)
        assert out.returncode != 0, out.stdout[-3000:]
        assert "nothing outside app imports Qt, directly or through another module BROKEN" in out.stdout, target


def test_the_readme_says_what_each_package_imports():
    import re

    import grimp

    text = (REPO / "README.md").read_text()
    block = text[text.index("## Architecture"):]
    block = block[block.index("```\nsmile_studio/"):]
    block = block[:block.index("```", 4)]
    said = {}
    for entry in re.split(r"\n  (?=\S)", block)[1:]:
        name = entry.split()[0].rstrip("/").removesuffix(".py")
        listed = re.search(r"imports: (.+)", entry).group(1).strip()
        said[name] = set() if listed == "nothing" else {p.strip() for p in listed.split(",")}
    packages = sorted(p.name.removesuffix(".py") for p in (REPO / "smile_studio").iterdir()
                      if (p.is_dir() and (p / "__init__.py").exists()) or
                      (p.suffix == ".py" and not p.name.startswith("__")))
    assert sorted(said) == packages  # every package and top-level module, once
    graph = grimp.build_graph("smile_studio")
    for a in packages:
        actual = {b for b in packages if b != a and graph.direct_import_exists(
            importer=f"smile_studio.{a}", imported=f"smile_studio.{b}", as_packages=True)}
        assert actual == said[a], (a, sorted(actual), sorted(said[a]))


def test_the_editor_neither_probes_engines_nor_compares_their_names():
    """Engines declare what they can do (EngineInfo, PreparesFaces, RendersBatches): the GUI asks with
    ``isinstance`` and reads ``info``; it never probes attributes or compares names."""
    import re

    probe = re.compile(r"\b(getattr|hasattr|setattr)\(|\.name\s*[!=]=|[!=]=\s*\.name\b|"
                       r"[\"'](smile|offline)[\"']\s*[!=]=|[!=]=\s*[\"'](smile|offline)[\"']")
    found = [f"{p.relative_to(REPO)}:{i}: {line.strip()}" for p in sorted((REPO / "smile_studio" / "app").glob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1) if probe.search(line)]
    assert found == [], "\n".join(found)
