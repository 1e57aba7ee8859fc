"""The Qt-free latest-wins scheduler."""

import threading
import time

from smile_studio.app.scheduler import FINAL, PREVIEW, LatestWins, RenderLoop, run_job


def test_posting_replaces_the_pending_job():
    box = LatestWins()
    ids = [box.post(i, PREVIEW) for i in range(5)]
    job = box.take(timeout=0.1)
    assert job.payload == 4 and job.id == ids[-1] and box.dropped == 4
    assert box.take(timeout=0.05) is None  # nothing pending any more
    assert not box.is_stale(ids[-1]) and box.is_stale(ids[0])


def test_loop_runs_few_jobs_and_delivers_the_last():
    results, done = [], threading.Event()

    def slow(payload):
        time.sleep(0.1)
        return payload * 10

    def on_result(r):
        results.append(r)
        if r.value == 190:
            done.set()

    loop = RenderLoop(slow, on_result).start()
    for i in range(20):
        loop.mailbox.post(i, FINAL)
        time.sleep(0.005)
    assert done.wait(5)
    time.sleep(0.3)
    loop.stop()
    assert loop.completed <= 3
    assert results[-1].value == 190 and all(r.error is None for r in results)


def test_errors_become_messages():
    box = LatestWins()
    box.post("x")

    def boom(_):
        raise ValueError("bad map")

    res = run_job(box.take(), boom)
    assert res.value is None and res.error == "ValueError: bad map" and res.latency >= res.seconds


def test_tasks_run_before_renders_with_the_engines_and_report_back():
    from smile_studio.app.scheduler import Engines, Task

    order, done = [], threading.Event()

    def render(payload):
        order.append(("render", payload))
        return payload

    def on_task(task):
        order.append(("task", task.outcome))
        if task.outcome == "second":
            done.set()

    loop = RenderLoop(render, lambda r: None, on_task)
    loop.engines = Engines(layout="L", render="R")
    loop.mailbox.post(1, FINAL)
    first = loop.mailbox.submit(Task(lambda engines: engines.layout + engines.render))
    loop.mailbox.submit(Task(lambda engines: "second"))
    failing = loop.mailbox.submit(Task(lambda engines: 1 / 0))
    loop.start()
    assert first.result(5) == "LR"
    assert done.wait(5)
    try:
        failing.result(5)
        raise AssertionError("the task's exception must reach whoever waits for it")
    except ZeroDivisionError:
        pass
    time.sleep(0.2)
    assert order[:2] == [("task", "LR"), ("task", "second")] and ("render", 1) in order
    loop.stop()
    late = loop.mailbox.submit(Task(lambda engines: 1))
    try:
        late.result(1)
        raise AssertionError("a task submitted after stop must not wait forever")
    except RuntimeError as exc:
        assert "stopped" in str(exc)


def test_the_idle_hook_runs_once_after_work_when_nothing_follows():
    """After a burst of work and a quiet moment the loop runs its idle hook (the app gives memory back) once;
    never while jobs keep coming, nor again until new work came."""
    events, rendered = [], threading.Event()

    def render(payload):
        events.append(("render", payload))
        rendered.set()
        return payload

    loop = RenderLoop(render, lambda r: None, on_idle=lambda: events.append(("idle",)), idle_after=0.2).start()
    time.sleep(0.4)
    assert events == []  # idle from the start: nothing was done, nothing to give back
    for i in range(4):  # jobs closer together than idle_after
        loop.mailbox.post(i, PREVIEW)
        time.sleep(0.05)
    time.sleep(0.6)
    assert events.count(("idle",)) == 1 and events[-1] == ("idle",)
    assert all(e[0] == "render" for e in events[:-1]) and len(events) >= 2
    loop.mailbox.post(9, FINAL)
    time.sleep(0.5)
    loop.stop()
    assert events[-2:] == [("render", 9), ("idle",)] and events.count(("idle",)) == 2


def test_stroke_previews_are_delivered_while_newer_dabs_wait():
    """While dabs come faster than previews render, every finished preview is still shown (the newest picture
    there is); a final render overtaken by a newer job is not."""
    delivered = []

    def render(payload):
        time.sleep(0.08)
        return payload

    loop = RenderLoop(render, lambda r: delivered.append((r.kind, r.value))).start()
    for i in range(6):  # a dab every 30 ms, previews take 80 ms
        loop.mailbox.post(i, PREVIEW)
        time.sleep(0.03)
    loop.mailbox.post(100, FINAL)
    loop.mailbox.post(101, FINAL)
    time.sleep(0.6)
    loop.stop()
    previews = [v for k, v in delivered if k == PREVIEW]
    assert len(previews) >= 2 and previews == sorted(previews) and previews[-1] < 6
    assert [v for k, v in delivered if k == FINAL] == [101]
