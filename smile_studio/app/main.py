"""Start-up: show a usable window first, then load the sample/photo and the engines (the heavy part)."""

from __future__ import annotations

import os
import sys
import time


class NoDisplayError(RuntimeError):
    """No window can open here (no display, or Qt's display libraries missing); str(error) says what to do."""


# The system libraries Qt's X11 plugin loads (Qt aborts the process when one is missing) and their Debian names.
XCB_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1",
                 "xcb-render-util": "libxcb-render-util0", "xcb-shape": "libxcb-shape0",
                 "xkbcommon-x11": "libxkbcommon-x11-0"}


def no_display_reason() -> str | None:
    """Why a window cannot open here (Linux without a display server, or without the libraries Qt's X11 plugin
    needs), or None. Qt itself would abort the process with a core dump in both cases."""
    platform_name = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or (platform_name and not platform_name.startswith("xcb")):
        return None
    if not platform_name and os.environ.get("WAYLAND_DISPLAY"):
        return None
    if not os.environ.get("DISPLAY"):
        if os.environ.get("WAYLAND_DISPLAY"):
            return None
        return ("no display found (DISPLAY and WAYLAND_DISPLAY are unset): start SMILE Studio from a desktop "
                "session, or run it under a virtual screen with `xvfb-run smile-studio`; headless commands "
                "(`smile-studio edit ...`) need no display")
    import ctypes.util

    missing = [pkg for lib, pkg in XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]
    if missing:
        return (f"the X11 display needs system libraries that are not installed: {', '.join(missing)} "
                f"(Debian/Ubuntu: sudo apt-get install {' '.join(missing)})")
    return None


def _drop_foreign_qt_plugins() -> None:
    """opencv-python points QT_QPA_PLATFORM_PLUGIN_PATH at its own Qt 5 plugins when cv2 is imported; Qt 6 would
    try to load them first. Our Qt finds its own plugins without it."""
    path = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")
    if path and os.sep + "cv2" + os.sep in path + os.sep:
        del os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"]


def run_app(path: str | None = None, argv: list[str] | None = None) -> int:
    reason = no_display_reason()
    if reason:
        raise NoDisplayError(reason)
    import cv2  # noqa: F401  (imported now so that its plugin path can be dropped before Qt starts)

    _drop_foreign_qt_plugins()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .window import MainWindow

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("SMILE Studio")
    app.setOrganizationName("SMILE Studio")
    window = MainWindow()
    window.show()
    window.preview.set_state("loading engines…")
    report = os.environ.get("SMILE_STUDIO_STARTUP_REPORT")
    if report:  # benchmarks: say when the window is visible and usable (the event loop runs), then when ready
        QTimer.singleShot(0, lambda: print(f"visible {time.time():.4f}", flush=True))

    def finish() -> None:
        # "background": as a user starts it (SMILE networks load behind the working window); else all at once
        start_up(window, path, background=not report or report == "background")
        if not report:
            return
        print(f"ready {time.time():.4f} peak_rss_mb {peak_rss_mb():.0f}", flush=True)
        if report != "background":
            QTimer.singleShot(0, app.quit)
            return
        poll = QTimer(window, interval=10)

        def loaded() -> None:
            if not window.engines_loading:
                engine = window.render_engine.info.label if window.render_engine is not None else "none"
                print(f"engines {time.time():.4f} {engine} peak_rss_mb {peak_rss_mb():.0f}", flush=True)
                poll.stop()
                QTimer.singleShot(0, app.quit)

        poll.timeout.connect(loaded)
        poll.start()

    QTimer.singleShot(0, finish)
    return app.exec()


def start_up(window, path: str | None, background: bool = True) -> None:
    """Engines, then the document (``path``, else the bundled sample), then the crash-recovery check. A file that
    cannot be opened is a message over the sample, and the recovery check runs whatever happened before it."""
    from ..engines.registry import offline_engines, select_engines, smile_available
    from ..resources import sample_exemplar

    message = ""
    try:
        if smile_available() and background:
            # the window works on the offline engines while the official weights load (seconds)
            window.set_engines(*offline_engines(sample_exemplar()), "offline default for now", loading=True)
            window.load_engines_in_background(lambda: select_engines("auto", exemplar=sample_exemplar()))
        else:
            window.set_engines(*select_engines("auto", exemplar=sample_exemplar()))
        if not (path and window.open_path(path)):
            message = window.message.text() if path else ""
            window.open_sample()
            if message:
                window.notify(message, error=True)  # why the file did not open stays on screen
    finally:
        if window.check_recovery() and message:
            window.notify(f"{message}\n{window.message.text()}")


def _status_mb(field: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """The process's peak resident memory in MB (Linux; NaN elsewhere)."""
    return _status_mb("VmHWM:")


def current_rss_mb() -> float:
    """The process's resident memory now, in MB (Linux; NaN elsewhere)."""
    return _status_mb("VmRSS:")
