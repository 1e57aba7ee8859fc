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


def test_a_mistyped_command_is_an_error_not_the_gui(capsys):
    assert main(["edti", "photo.jpg"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'edti'" in err and "did you mean 'edit'" in err and len(err.strip().splitlines()) == 1
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_missing_x11_libraries_are_named_before_qt_aborts(monkeypatch):
    import ctypes.util

    from smile_studio.app import main as app_main

    monkeypatch.setenv("DISPLAY", ":42")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    real = ctypes.util.find_library
    monkeypatch.setattr(ctypes.util, "find_library", lambda n: None if n == "xcb-cursor" else real(n) or "lib")
    reason = app_main.no_display_reason()
    assert reason and "libxcb-cursor0" in reason and "apt-get install" in reason
    monkeypatch.setattr(ctypes.util, "find_library", lambda n: "lib" + n)
    assert app_main.no_display_reason() is None
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(ctypes.util, "find_library", lambda n: None)
    assert app_main.no_display_reason() is None  # offscreen needs no X11 library


def test_opencv_qt_plugin_path_is_dropped_before_qt_starts(monkeypatch):
    import os

    import cv2

    from smile_studio.app.main import _drop_foreign_qt_plugins

    monkeypatch.setenv("QT_QPA_PLATFORM_PLUGIN_PATH", os.path.join(os.path.dirname(cv2.__file__), "qt", "plugins"))
    _drop_foreign_qt_plugins()
    assert "QT_QPA_PLATFORM_PLUGIN_PATH" not in os.environ
    monkeypatch.setenv("QT_QPA_PLATFORM_PLUGIN_PATH", "/opt/my/qt/plugins")
    _drop_foreign_qt_plugins()
    assert os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"] == "/opt/my/qt/plugins"


def test_without_pyside6_the_editor_is_one_line_and_exit_2(monkeypatch, capsys):
    """The command line opens the editor by module name: where PySide6 is missing (a headless install), asking
    for the editor or the self-test says so in one line instead of a traceback."""
    import importlib

    from smile_studio.cli.main import main

    real = importlib.import_module

    def no_qt(name, *args):
        if name.startswith("smile_studio.app"):
            raise ModuleNotFoundError("No module named 'PySide6'", name="PySide6")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_qt)
    for argv in (["gui"], ["--selftest"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "needs PySide6" in err, err
