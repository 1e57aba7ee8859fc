"""Helpers that drive the real window in the GUI tests: waiting for the final render, dropping files, grabbing
pixels, measuring event-loop stalls, a slow fake engine."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from smile_studio.app.scheduler import FINAL
from smile_studio.core.labelio import colorize
from smile_studio.engines.base import EngineInfo


class StallMeter(QTimer):
    """A timer ticking every ``ms`` that records the longest gap between ticks: how long the event loop froze."""

    def __init__(self, ms: int):
        super().__init__()
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timeout.connect(self._tick)
        self.start(ms)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    @property
    def worst_ms(self) -> float:
        return max(self.gaps) * 1000


def wait_final(qtbot, w, timeout=5000):
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.kind == FINAL
                    and not w.worker.mailbox.is_stale(w.last_result.id), timeout=timeout)


def drop_files(target, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(target.width() / 2, target.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def grab_rgb(widget) -> np.ndarray:
    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    return np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, :img.width() * 3] \
        .reshape(img.height(), img.width(), 3).copy()


class SlowEngine:
    """A fake render engine taking 300 ms; its image encodes the map so the final preview can be checked."""

    name = "slow"
    description = "slow fake engine"
    info = EngineInfo("slow fake", official_weights=False)
    large_side = None

    def __init__(self):
        self.calls = 0

    def render(self, req):
        self.calls += 1
        time.sleep(0.3)
        img = colorize(req.labels)
        if img.shape[0] != req.size:
            img = np.repeat(np.repeat(img, req.size // img.shape[0], 0), req.size // img.shape[1], 1)
        return img
