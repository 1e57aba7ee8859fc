"""The engine worker: a QThread that owns the engines and runs :class:`~.scheduler.RenderLoop`; results come back
as Qt signals on the interface thread. It never touches widgets.

File opening and engine loading run on Qt's thread pool instead (:class:`~.pool.PoolTask`): they use no engine, and
seconds of parsing a photo or reading weights must not stall the previews of the engines in use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..nets.allocator import release_free_memory  # no torch: the window starts without it
from .scheduler import FINAL, Engines, RenderLoop, Task


class _LoopThread(QThread):
    def __init__(self, loop: Callable[[], None]):
        super().__init__()
        self._loop = loop

    def run(self) -> None:
        self._loop()


class RenderWorker(QObject):
    """Renders the newest posted request with its render engine; runs submitted tasks with its engines."""

    result = Signal(object)  # JobResult
    _task_done = Signal(object)  # Task, delivered to its callback on the interface thread

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        # once idle, the heap's free pages go back to the system (a render's activations are ~0.3 GB)
        self.loop = RenderLoop(self._render, self.result.emit, self._task_done.emit, on_idle=release_free_memory)
        self._task_done.connect(self._deliver)
        self._thread = _LoopThread(self.loop.serve)
        self._thread.setObjectName("engine-worker")

    @property
    def mailbox(self):
        return self.loop.mailbox

    @property
    def completed(self) -> int:
        return self.loop.completed

    @completed.setter
    def completed(self, value: int) -> None:
        self.loop.completed = value

    @property
    def engines(self) -> Engines:
        return self.loop.engines

    def set_engines(self, layout: Any, render: Any) -> None:
        """Replace the engines; jobs taken from now on use the new ones (one reference swap, no lock)."""
        self.loop.engines = Engines(layout, render)

    def _render(self, request: Any) -> Any:
        engine = self.loop.engines.render
        if engine is None:
            raise RuntimeError("no render engine")
        return engine.render(request)

    def start(self) -> None:
        self._thread.start()

    def post(self, request: Any, kind: str = FINAL) -> int:
        return self.loop.mailbox.post(request, kind)

    def submit(self, fn: Callable[[Engines], Any], callback: Callable[[Any], None] | None = None) -> Task:
        """Run ``fn(engines)`` on the engine thread; ``callback`` gets the value or the exception, on this
        (the interface) thread."""
        return self.loop.mailbox.submit(Task(fn, callback))

    def call(self, fn: Callable[[Engines], Any], timeout: float | None = None) -> Any:
        """Run ``fn(engines)`` on the engine thread and wait for its value (its exception is raised here)."""
        return self.submit(fn).result(timeout)

    @Slot(object)
    def _deliver(self, task: Task) -> None:
        if task.callback is not None:
            task.callback(task.outcome)

    def stop(self) -> None:
        self.loop.mailbox.close()
        self._thread.quit()
        self._thread.wait(5000)
