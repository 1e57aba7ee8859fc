"""The render worker: a QThread serving the latest-wins mailbox, results delivered as Qt signals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from ..render import FINAL, JobResult, LatestWins, run_job


class _LoopThread(QThread):
    def __init__(self, loop: Callable[[], None]):
        super().__init__()
        self._loop = loop

    def run(self) -> None:
        self._loop()


class RenderWorker(QObject):
    """Runs ``fn(payload)`` for the newest posted job on its own thread; never touches widgets."""

    result = Signal(object)  # JobResult
    busy = Signal(bool)

    def __init__(self, fn: Callable[[Any], Any], parent: QObject | None = None):
        super().__init__(parent)
        self.fn = fn
        self.mailbox = LatestWins()
        self.completed = 0
        self._thread = _LoopThread(self._run)
        self._thread.setObjectName("render-worker")

    def start(self) -> None:
        self._thread.start()

    def post(self, payload: Any, kind: str = FINAL) -> int:
        return self.mailbox.post(payload, kind)

    def _run(self) -> None:
        while True:
            job = self.mailbox.take()
            if job is None:
                return
            self.busy.emit(True)
            res: JobResult = run_job(job, self.fn)
            self.completed += 1
            if not self.mailbox.is_stale(job.id):
                self.result.emit(res)
            self.busy.emit(False)

    def stop(self) -> None:
        self.mailbox.close()
        self._thread.quit()
        self._thread.wait(5000)
