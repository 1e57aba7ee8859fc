"""Editor responsiveness with the offline engine at 256x256 on this machine (offscreen Qt).

* stroke-to-screen: a mouse-move event handled until the canvas shows the new map, while renders run on the
  worker thread (target median <= 16 ms);
* edit-to-preview: a click with the brush until the final preview of that edit is on screen (target <= 0.4 s);
* start-up: process start to a visible window with a running event loop (target <= 1.5 s warm), and to the
  sample loaded and rendered; peak memory after opening a photo. ``--smile``: the same with the SMILE weights
  installed (golden synthetic files), the networks loading behind the working window, and when they are in.
The baseline for the stroke figures is the same drag with rendering switched off, run in the same process.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def startup(runs: int = 3, **env_extra: str) -> dict[str, list[float]]:
    """Seconds from process start to each moment the app reports (visible, ready, and with SMILE weights
    installed: engines), per warm run; 'peak_mb': peak memory at the last report."""
    out: dict[str, list[float]] = {}
    env = {**os.environ, "SMILE_STUDIO_STARTUP_REPORT": "1", **env_extra}
    for run in range(runs + 1):  # the first run warms the file cache
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-m", "smile_studio"], env=env, capture_output=True, text=True,
                              timeout=180)
        lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
        if "visible" not in lines or "ready" not in lines:
            raise RuntimeError(proc.stdout + proc.stderr)
        for moment, rest in lines.items():
            if run and moment in ("visible", "ready", "engines"):
                out.setdefault(moment, []).append(float(rest.split()[0]) - t0)
                out["peak_mb"] = [float(rest.split()[-1])] if "peak_rss_mb" in rest else out.get("peak_mb", [])
                if moment == "engines":
                    out["engine"] = [rest.split()[1]]
    return out


def startup_with_smile(runs: int = 3) -> dict[str, list[float]]:
    """Start-up as a user with the SMILE weights installed sees it: the window works on the offline engines while
    the networks load behind it. The golden synthetic weights stand in for the official files (same keys,
    shapes and sizes), written to a temporary weights folder and verified once, as an import does."""
    sys.path.insert(0, str(Path(__file__).parent))
    from common import write_golden_weights

    with tempfile.TemporaryDirectory(prefix="ui-bench-weights-") as folder:
        write_golden_weights(Path(folder))
        env = dict(os.environ, SMILE_STUDIO_WEIGHTS=folder)
        subprocess.run([sys.executable, "-m", "smile_studio", "weights", "verify"], env=env, check=True,
                       capture_output=True, timeout=300)
        return startup(runs, SMILE_STUDIO_WEIGHTS=folder, SMILE_STUDIO_STARTUP_REPORT="background")


def main() -> int:
    app = QApplication.instance() or QApplication([])
    from smile_studio.app.scheduler import FINAL
    from smile_studio.app.window import MainWindow
    from smile_studio.engines.registry import select_engines
    from smile_studio.resources import sample_exemplar

    w = MainWindow(autosave_ms=3600_000)
    w.resize(1366, 768)
    w.show()
    layout, render, why = select_engines("offline", exemplar=sample_exemplar())
    w.set_engines(layout, render, why)
    w.open_sample()
    w.canvas.resetTransform()
    w.canvas.auto_fit = False
    w.canvas.centerOn(128, 128)
    vp = w.canvas.viewport()

    def vpos(x, y):
        return w.canvas.mapFromScene(QPointF(x, y))

    def drag_times(render_on: bool) -> list[float]:
        saved = w.render_engine
        if not render_on:
            w.render_engine = None
        times = []
        w.set_class(13)
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vpos(40, 200))
        for i in range(60):
            t0 = time.perf_counter()
            QTest.mouseMove(vp, vpos(40 + 3 * i, 200 + (i % 7)))
            app.processEvents()
            times.append(time.perf_counter() - t0)
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vpos(220, 205))
        w.undo()
        w.render_engine = saved
        return times

    base = drag_times(False)
    live = drag_times(True)
    print(f"stroke-to-screen, 60 mouse moves: median {statistics.median(live) * 1000:.2f} ms "
          f"(p95 {sorted(live)[56] * 1000:.2f} ms) with renders running; baseline without rendering "
          f"{statistics.median(base) * 1000:.2f} ms; ratio {statistics.median(live) / statistics.median(base):.2f}")
    print(f"worker renders during the drag: {w.worker.completed} completed, {w.worker.mailbox.dropped} superseded "
          f"requests dropped")

    lat = []
    for i in range(10):
        done = []
        w.rendered.connect(lambda r, done=done: done.append(time.perf_counter()) if r.kind == FINAL
                           and not w.worker.mailbox.is_stale(r.id) else None)
        t0 = time.perf_counter()
        QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vpos(60 + 10 * i, 230))
        while not done and time.perf_counter() - t0 < 5:
            QTest.qWait(1)
        w.rendered.disconnect()
        lat.append(done[0] - t0)
    print(f"edit-to-preview (click, idle delay 120 ms, final render): median {statistics.median(lat) * 1000:.0f} ms, "
          f"max {max(lat) * 1000:.0f} ms")
    w.saved_version = w.doc.version  # nothing to save: close without the prompt
    w.close()
    times = startup()
    vis = times["visible"]
    print(f"start-up to a visible, usable window: median {statistics.median(vis):.2f} s over {len(vis)} warm runs; "
          f"sample loaded and rendered: {statistics.median(times['ready']):.2f} s; peak memory after opening the "
          f"sample photo {times['peak_mb'][0]:.0f} MB")
    ok = statistics.median(live) <= 0.016 and statistics.median(lat) <= 0.4 and statistics.median(vis) <= 1.5
    if "--smile" in sys.argv:
        smile = startup_with_smile()
        vis_smile = statistics.median(smile["visible"])
        print(f"with SMILE weights installed: visible, usable window {vis_smile:.2f} s; sample on the offline "
              f"engines {statistics.median(smile['ready']):.2f} s; SMILE engines loaded behind it "
              f"{statistics.median(smile['engines']):.2f} s ({smile['engine'][0]}); peak {smile['peak_mb'][0]:.0f} MB")
        ok = ok and vis_smile <= 1.5 and smile["engine"][0] == "SMILE"
    print(f"targets (stroke <= 16 ms, edit-to-preview <= 0.4 s, start-up <= 1.5 s): {'MET' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
