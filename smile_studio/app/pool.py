"""Work on Qt's thread pool for what uses no engine (opening a file, loading the engines): the result, or the
exception, comes back as a signal on the interface thread. Engine work goes to the engine worker instead."""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, Signal


class _Signals(QObject):
    done = Signal(object)


class PoolTask(QRunnable):
    """Runs a Qt-free callable off the interface thread; ``signals.done`` carries its value or exception."""

    def __init__(self, fn, what: str = ""):
        super().__init__()
        self.fn = fn
        self.what = what  # what it makes, for a message when it fails
        self.signals = _Signals()

    def run(self) -> None:
        try:
            out = self.fn()
        except Exception as exc:  # noqa: BLE001 - shown to the user
            out = exc
        self.signals.done.emit(out)
