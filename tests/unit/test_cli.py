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


def test_module_entry_point_runs():
    res = subprocess.run([sys.executable, "-m", "smile_studio", "--version"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and __version__ in res.stdout
