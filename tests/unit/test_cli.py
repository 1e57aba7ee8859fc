import subprocess
import sys

from smile_studio import __version__
from smile_studio.cli import main


def test_version_and_info(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch 2.13.0" in out and "device: cpu" in out and "weights folder" in out
    from smile_studio.nets.runtime import has_bf16_matrix_units

    assert f"SMILE previews in {'bfloat16' if has_bf16_matrix_units() else 'float32'}" in out


def test_module_entry_point_runs():
    res = subprocess.run([sys.executable, "-m", "smile_studio", "--version"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and __version__ in res.stdout


def test_gui_without_a_display_says_so(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = subprocess.run([sys.executable, "-m", "smile_studio"], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "no display found" in res.stderr and "xvfb-run" in res.stderr
    assert "Traceback" not in res.stderr
