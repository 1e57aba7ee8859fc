"""Render requests, results and the latest-wins scheduler (Qt-free, testable without a GUI).

Every change posts a job with a growing id. A worker takes only the newest pending job; older pending jobs are
dropped unseen (superseded), and a result whose id is older than the newest posted job is stale: the view
discards it unless it is the last one that will come. Engine exceptions become ``JobResult.error`` instead of
killing the worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


class LatestWins:
    """A one-slot mailbox: posting replaces the pending job; taking waits for one."""

    def __init__(self):
        self._cond = threading.Condition()
        self._pending: Job | None = None
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

    @property
    def latest_id(self) -> int:
        with self._cond:
            return self._next_id - 1

    def take(self, timeout: float | None = None) -> Job | None:
        """The newest pending job (waiting up to ``timeout``); None when closed or timed out."""
        with self._cond:
            end = None if timeout is None else time.monotonic() + timeout
            while self._pending is None and not self._closed:
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            job, self._pending = self._pending, None
            return job

    def is_stale(self, job_id: int) -> bool:
        return job_id < self.latest_id

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


def run_job(job: Job, fn: Callable[[Any], Any]) -> JobResult:
    """Run ``fn(job.payload)``; an exception becomes the result's error message."""
    t0 = time.perf_counter()
    try:
        value, error = fn(job.payload), None
    except Exception as exc:  # noqa: BLE001 - the UI shows the message; the worker must survive
        value, error = None, f"{type(exc).__name__}: {exc}"
    end = time.perf_counter()
    return JobResult(job.id, job.kind, value, error, end - t0, end - job.posted, job.payload)


class RenderLoop:
    """A worker thread serving a LatestWins mailbox with ``fn``; ``on_result`` gets every non-stale result.

    The Qt layer wraps this with a QThread; tests and the CLI can use it directly.
    """

    def __init__(self, fn: Callable[[Any], Any], on_result: Callable[[JobResult], None]):
        self.mailbox = LatestWins()
        self.fn = fn
        self.on_result = on_result
        self.completed = 0
        self._thread = threading.Thread(target=self._run, name="render-loop", daemon=True)

    def start(self) -> RenderLoop:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            job = self.mailbox.take()
            if job is None:
                return
            result = run_job(job, self.fn)
            self.completed += 1
            if not self.mailbox.is_stale(job.id):
                self.on_result(result)

    def stop(self, timeout: float = 5.0) -> None:
        self.mailbox.close()
        self._thread.join(timeout)
