"""Manual face placement when detection fails: the user clicks the two eye centres on the photo."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPen, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGraphicsEllipseItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QVBoxLayout,
)

from .canvas import rgb_to_qimage

PROMPTS = ("Click the centre of the eye on the image's LEFT (the person's right eye).",
           "Click the centre of the eye on the image's RIGHT (the person's left eye).",
           "Both eyes placed. Press OK, or click again to start over.")


class _ClickView(QGraphicsView):
    clicked = Signal(QPointF)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.mapToScene(event.position().toPoint()))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)


class EyeDialog(QDialog):
    """Returns the eye centres in photo pixels (image-left eye first) through ``eyes``."""

    def __init__(self, rgb: np.ndarray, name: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Place the eyes — {name}")
        self.resize(640, 640)
        self.eyes: list[tuple[float, float]] = []
        scene = QGraphicsScene(self)
        scene.addPixmap(QPixmap.fromImage(rgb_to_qimage(rgb)))
        self.view = _ClickView(scene)
        self.view.setObjectName("eyeView")
        self.view.clicked.connect(self._click)
        self.markers: list[QGraphicsEllipseItem] = []
        self.prompt = QLabel(PROMPTS[0])
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setEnabled(False)
        lay = QVBoxLayout(self)
        lay.addWidget(self.prompt)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.buttons)
        self._radius = max(3.0, min(rgb.shape[:2]) / 80)

    def _click(self, p: QPointF) -> None:
        if len(self.eyes) == 2:
            self.eyes.clear()
            for m in self.markers:
                self.view.scene().removeItem(m)
            self.markers.clear()
        self.eyes.append((p.x(), p.y()))
        r = self._radius
        m = self.view.scene().addEllipse(p.x() - r, p.y() - r, 2 * r, 2 * r, QPen(QColor(0, 255, 0), 2))
        self.markers.append(m)
        self.prompt.setText(PROMPTS[len(self.eyes)])
        self.ok.setEnabled(len(self.eyes) == 2)

    def result_eyes(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        if len(self.eyes) != 2:
            return None
        a, b = sorted(self.eyes)  # image-left first, whatever order the user clicked
        return a, b
