"""Start-up: show a usable window first, then load the sample/photo and the engines (the heavy part)."""

from __future__ import annotations

import sys
import time

T0 = time.perf_counter()


def run_app(path: str | None = None, argv: list[str] | None = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .window import MainWindow

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("SMILE Studio")
    app.setOrganizationName("SMILE Studio")
    window = MainWindow()
    window.show()
    window.preview.set_state("loading engines…")

    def finish() -> None:
        from ..engines.registry import select_engines

        layout, render, why = select_engines("auto")
        window.set_engines(layout, render, why)
        if path:
            if not window.open_path(path):
                window.open_sample()
        else:
            window.open_sample()
        window.check_recovery()
        window.startup_seconds = time.perf_counter() - T0

    QTimer.singleShot(0, finish)
    return app.exec()
