"""The preview pane: the rendered face with a before/after split that follows the canvas's zoom and pan."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

from .canvas import rgb_to_qimage


class PreviewPane(QWidget):
    """The rendered face with a before/after split, its state (pending/final) and the measured latency."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("previewPane")
        self.setMinimumSize(200, 200)
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.split = 0.0  # fraction of the width, at the right, showing "before" (the slider's Before end = 1)
        self.state = "no preview yet"
        self.latency_ms: float | None = None
        self.image: np.ndarray | None = None
        self.view_rect: QRectF | None = None  # the part of the image the canvas shows (image pixels); None = all
        self.image_size = 256

    def set_view(self, rect: QRectF | None, image_size: int) -> None:
        """Follow the canvas: show the same part of the image (synchronised zoom and pan)."""
        self.view_rect, self.image_size = rect, image_size
        self.update()

    def set_before(self, rgb: np.ndarray | None) -> None:
        self.before = rgb_to_qimage(rgb) if rgb is not None else None
        self.update()

    def set_after(self, rgb: np.ndarray, state: str, latency_ms: float | None) -> None:
        self.image = rgb
        self.after = rgb_to_qimage(rgb)
        self.state, self.latency_ms = state, latency_ms
        self.update()

    def set_state(self, state: str) -> None:
        self.state = state
        self.update()

    def set_split(self, value: float) -> None:
        self.split = float(np.clip(value, 0, 1))
        self.update()

    def source_rect(self) -> QRectF:
        """The shown part of the image, in image pixels."""
        full = QRectF(0, 0, self.image_size, self.image_size)
        r = self.view_rect.intersected(full) if self.view_rect is not None else full
        return r if r.width() > 1 and r.height() > 1 else full

    def target_rect(self) -> QRectF:
        src = self.source_rect()
        avail_w, avail_h = max(10, self.width()), max(10, self.height() - 22)
        scale = min(avail_w / src.width(), avail_h / src.height())
        w, h = src.width() * scale, src.height() * scale
        return QRectF((avail_w - w) / 2, (avail_h - h) / 2, w, h)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 44))
        r, src = self.target_rect(), self.source_rect()
        for img, frac in ((self.after, 1.0), (self.before, self.split)):
            if img is None or frac <= 0:
                continue
            k = img.width() / self.image_size  # the render may differ in size from the document
            skip = 1.0 - frac  # "before" covers the right part: the line follows the slider's handle
            part = QRectF((src.x() + src.width() * skip) * k, src.y() * k, src.width() * k * frac, src.height() * k)
            p.drawImage(QRectF(r.x() + r.width() * skip, r.y(), r.width() * frac, r.height()), img, part)
        if self.before is not None and self.split > 0:
            cut = r.left() + r.width() * (1.0 - self.split)
            p.setPen(QPen(QColor(255, 255, 255), 1))
            p.drawLine(QPointF(cut, r.top()), QPointF(cut, r.bottom()))
        p.setPen(QColor(230, 230, 230))
        lat = f" · {self.latency_ms:.0f} ms" if self.latency_ms is not None else ""
        p.drawText(4, self.height() - 6, f"{self.state}{lat}")
        p.end()
