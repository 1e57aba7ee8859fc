"""The work of the engine thread, and its one loop (Qt-free, testable without a GUI).

The engines belong to one worker thread; everything that runs them reaches it through one mailbox (and when
nothing has come for a moment after some work, the loop runs its idle hook once: the app gives memory back):

* renders, latest-wins: every change posts a job with a growing id. The loop takes only the newest pending job;
  older pending jobs are dropped unseen (superseded), and a result whose id is older than the newest posted job is
  stale: it is not delivered, unless it is a stroke's preview (the newest picture while dabs keep coming).
* tasks, first in first out and before any render: work that must run to completion with the engines (a
  proposal's layout edit, the variation thumbnails, an export's exact render). The caller waits for the result or
  gets it through a callback.

Exceptions become ``JobResult.error`` / ``Task.error`` instead of killing the worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engines.base import EnginesUnreachable

PREVIEW = "preview"  # quick, low resolution, while the user is still stroking
FINAL = "final"  # full resolution, once the user pauses


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: Any  # an immutable request (RenderRequest)
    posted: float


@dataclass(frozen=True)
class JobResult:
    id: int
    kind: str
    value: Any  # the rendered image, or None on error
    error: str | None
    seconds: float  # engine time
    latency: float  # from posting to completion
    payload: Any = None
    unreachable: bool = False  # the engines' machine did not answer (EnginesUnreachable)


@dataclass(frozen=True)
class Engines:
    """The engines the worker runs (either may be None before they are chosen)."""

    layout: Any = None
    render: Any = None


class Task:
    """Work that must run with the engines; ``result()`` waits for it (re-raising its exception)."""

    def __init__(self, fn: Callable[[Engines], Any], callback: Callable[[Any], None] | None = None):
        self.fn, self.callback = fn, callback
        self.value: Any = None
        self.error: Exception | None = None
        self._done = threading.Event()

    def run(self, engines: Engines) -> None:
        try:
            self.value = self.fn(engines)
        except Exception as exc:  # noqa: BLE001 - handed to whoever waits for the task
            self.error = exc
        finally:
            self._done.set()

    def fail(self, error: Exception) -> None:
        """End the task without running it (whoever waits gets ``error``)."""
        self.error = error
        self._done.set()

    def result(self, timeout: float | None = None) -> Any:
        if not self._done.wait(timeout):
            raise TimeoutError("the engine thread did not finish the task in time")
        if self.error is not None:
            raise self.error
        return self.value

    @property
    def outcome(self) -> Any:
        """The value, or the exception the task raised (what a callback receives)."""
        return self.error if self.error is not None else self.value


class LatestWins:
    """The mailbox: a one-slot render job (posting replaces it) and a queue of tasks; taking waits for either,
    tasks first."""

    def __init__(self):
        self._cond = threading.Condition()
        self._pending: Job | None = None
        self._tasks: list[Task] = []
        self._next_id = 1
        self._closed = False
        self.posted = 0
        self.dropped = 0

    def post(self, payload: Any, kind: str = FINAL) -> int:
        with self._cond:
            job = Job(self._next_id, kind, payload, time.perf_counter())
            self._next_id += 1
            if self._pending is not None:
                self.dropped += 1
            self._pending = job
            self.posted += 1
            self._cond.notify_all()
            return job.id

    def submit(self, task: Task) -> Task:
        with self._cond:
            if self._closed:
                task.fail(RuntimeError("the engine thread has stopped"))
                return task
            self._tasks.append(task)
            self._cond.notify_all()
            return task

    @property
    def latest_id(self) -> int:
        with self._cond:
            return self._next_id - 1

    def take(self, timeout: float | None = None) -> Job | Task | None:
        """The oldest task, else the newest pending render (waiting up to ``timeout``); None when closed or timed
        out."""
        with self._cond:
            end = None if timeout is None else time.monotonic() + timeout
            while self._pending is None and not self._tasks and not self._closed:
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if self._closed:
                return None
            if self._tasks:
                return self._tasks.pop(0)
            job, self._pending = self._pending, None
            return job

    def is_stale(self, job_id: int) -> bool:
        return job_id < self.latest_id

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for task in self._tasks:  # nobody will run them: whoever waits is told
                task.fail(RuntimeError("the engine thread has stopped"))
            self._tasks.clear()
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


def run_job(job: Job, fn: Callable[[Any], Any]) -> JobResult:
    """Run ``fn(job.payload)``; an exception becomes the result's error message."""
    t0 = time.perf_counter()
    try:
        value, error, unreachable = fn(job.payload), None, False
    except Exception as exc:  # noqa: BLE001 - the UI shows the message; the worker must survive
        value, error = None, f"{type(exc).__name__}: {exc}"
        unreachable = isinstance(exc, EnginesUnreachable)
    end = time.perf_counter()
    return JobResult(job.id, job.kind, value, error, end - t0, end - job.posted, job.payload, unreachable)


class RenderLoop:
    """The engine thread's loop: tasks with ``engines`` (then ``on_task(task)``), renders with ``render(payload)``
    (then ``on_result`` for every result that is not stale). The Qt worker runs :meth:`serve` on a QThread; tests
    run it on a plain thread with :meth:`start`."""

    def __init__(self, render: Callable[[Any], Any], on_result: Callable[[JobResult], None],
                 on_task: Callable[[Task], None] | None = None, on_idle: Callable[[], None] | None = None,
                 idle_after: float = 0.5):
        self.mailbox = LatestWins()
        self.render = render
        self.on_result = on_result
        self.on_task = on_task
        self.on_idle = on_idle  # run once when nothing came for ``idle_after`` seconds after some work
        self.idle_after = idle_after
        self.engines = Engines()
        self.completed = 0
        self._thread: threading.Thread | None = None

    def serve(self) -> None:
        rested = True
        while True:
            item = self.mailbox.take(None if rested or self.on_idle is None else self.idle_after)
            if item is None:
                if self.mailbox.closed:
                    return
                rested = True
                self.on_idle()
                continue
            rested = False
            if isinstance(item, Task):
                item.run(self.engines)
                if self.on_task is not None:
                    self.on_task(item)
                continue
            result = run_job(item, self.render)
            self.completed += 1
            # a stroke's preview is shown even when the next dab is already waiting: while the mouse moves faster
            # than previews render, each one is still the newest picture there is
            if item.kind == PREVIEW or not self.mailbox.is_stale(item.id):
                self.on_result(result)

    def start(self) -> RenderLoop:
        self._thread = threading.Thread(target=self.serve, name="render-loop", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.mailbox.close()
        if self._thread is not None:
            self._thread.join(timeout)
