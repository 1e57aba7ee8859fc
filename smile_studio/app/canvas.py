"""The map canvas: the label map over the photo, with painting tools. It only emits what the user did, in image
coordinates; the window turns those signals into document commands. Its tool and brush size are shown here (the
cursor, the brush ring) and held by the editor state (:mod:`..core.editor`), which sets them."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QCursor, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
)

from ..core.editor import STROKE_TOOLS, TOOL_NAMES
from ..core.labels import PALETTE
from .tools import VIEW_MODES


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb, np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    rgba = np.ascontiguousarray(rgba, np.uint8)
    h, w = rgba.shape[:2]
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def overlay_rgba(labels: np.ndarray, opacity: float, mode: str = "fill", selected: int | None = None,
                 diff: np.ndarray | None = None) -> np.ndarray:
    """The map as RGBA for display: filled, contours only, or only the selected class; ``diff`` outlined."""
    rgba = np.empty(labels.shape + (4,), np.uint8)
    rgba[..., :3] = PALETTE[labels]
    alpha = int(round(255 * opacity))
    if mode == "contour":
        edges = cv2.morphologyEx(labels, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        rgba[..., 3] = np.where(edges, 255, 0)
    elif mode == "selected" and selected is not None:
        rgba[..., 3] = np.where(labels == selected, alpha, 0)
    else:
        rgba[..., 3] = alpha
    if diff is not None and diff.any():
        ring = cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        rgba[ring] = (255, 0, 255, 255)
    return rgba


class FileDropMixin:
    """Accept file URLs dragged from the file manager and emit their local paths as ``filesDropped``."""

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.filesDropped.emit(paths)


class MapCanvas(FileDropMixin, QGraphicsView):
    strokeBegan = Signal(QPointF)
    strokeMoved = Signal(QPointF)  # the next point of the drag (the stroke joins it to the last)
    strokeEnded = Signal()
    fillRequested = Signal(QPointF)
    polygonFinished = Signal(list)
    picked = Signal(QPointF)
    cursorMoved = Signal(QPointF)
    filesDropped = Signal(list)
    viewChanged = Signal(QRectF)  # the visible part of the image (image pixels), after zoom, pan or resize

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("mapCanvas")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setBackgroundBrush(QColor(40, 40, 44))
        self.photo_item = QGraphicsPixmapItem()
        self.map_item = QGraphicsPixmapItem()
        self.photo_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self.photo_item)
        self._scene.addItem(self.map_item)
        self.ring = QGraphicsEllipseItem()
        self.ring.setPen(QPen(QColor(255, 255, 255, 220), 0))
        self.ring.setZValue(10)
        self._scene.addItem(self.ring)
        self.poly_item = QGraphicsPathItem()
        self.poly_item.setPen(QPen(QColor(255, 255, 0), 0, Qt.PenStyle.DashLine))
        self.poly_item.setZValue(11)
        self._scene.addItem(self.poly_item)
        self.tool = "brush"
        self.brush_size = 12.0
        self.opacity = 0.6
        self.view_mode = "fill"
        self.selected_class: int | None = None
        self._labels: np.ndarray | None = None
        self._diff: np.ndarray | None = None
        self._stroking = False
        self._panning = False
        self._space = False
        self._pan_from = None
        self._poly: list[QPointF] = []
        self.auto_fit = True  # keep the image fitted until the user zooms

    # -- content -----------------------------------------------------------------------------------------------
    def set_photo(self, rgb: np.ndarray | None, size: int) -> None:
        if rgb is None:
            pm = QPixmap(size, size)
            pm.fill(QColor(90, 90, 96))
        else:
            pm = QPixmap.fromImage(rgb_to_qimage(rgb))
        self.photo_item.setPixmap(pm)
        self._scene.setSceneRect(QRectF(0, 0, size, size))

    def set_labels(self, labels: np.ndarray, diff: np.ndarray | None = None) -> None:
        self._labels = labels
        self._diff = diff
        self.refresh_overlay()

    def refresh_overlay(self) -> None:
        if self._labels is None:
            return
        rgba = overlay_rgba(self._labels, self.opacity, self.view_mode, self.selected_class, self._diff)
        self.map_item.setPixmap(QPixmap.fromImage(rgba_to_qimage(rgba)))

    def set_opacity(self, value: float) -> None:
        self.opacity = float(np.clip(value, 0, 1))
        self.refresh_overlay()

    def set_view_mode(self, mode: str) -> None:
        if mode not in VIEW_MODES:
            raise ValueError(mode)
        self.view_mode = mode
        self.refresh_overlay()

    def set_tool(self, tool: str) -> None:
        if tool not in TOOL_NAMES:
            raise ValueError(tool)
        self.tool = tool
        self._poly.clear()
        self.poly_item.setPath(QPainterPath())
        self.ring.setVisible(tool in STROKE_TOOLS)
        self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if tool == "pan" else Qt.CursorShape.CrossCursor)

    def set_brush_size(self, size: float) -> None:
        self.brush_size = float(np.clip(size, 1, 256))
        self._update_ring(self.mapToScene(self.mapFromGlobal(QCursor.pos())))

    # -- view --------------------------------------------------------------------------------------------------
    def fit(self) -> None:
        self.auto_fit = True
        self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self.viewChanged.emit(self.visible_rect())

    def actual_size(self) -> None:
        self.auto_fit = False
        self.resetTransform()
        self.viewChanged.emit(self.visible_rect())

    def zoom(self, factor: float, at: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the image point under ``at`` (viewport pixels; default: the centre) still.
        Done by hand: Qt's AnchorUnderMouse uses the last mouse-move position its own handler saw, which our
        painting handlers do not forward."""
        self.auto_fit = False
        scale = self.transform().m11() * factor
        if 0.1 <= scale <= 64:
            anchor = (at if at is not None else QPointF(self.viewport().rect().center())).toPoint()
            scene_pt = self.mapToScene(anchor)
            before = self.transformationAnchor()
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
            self.scale(factor, factor)
            self.setTransformationAnchor(before)
            moved = self.mapFromScene(scene_pt) - anchor
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self.viewChanged.emit(self.visible_rect())

    @property
    def zoom_level(self) -> float:
        return self.transform().m11()

    def visible_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect().intersected(self._scene.sceneRect())

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 - Qt API
        super().scrollContentsBy(dx, dy)
        self.viewChanged.emit(self.visible_rect())

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.angleDelta().y():
            self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8, event.position())
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.auto_fit:
            self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self.viewChanged.emit(self.visible_rect())

    # -- input -------------------------------------------------------------------------------------------------
    def _update_ring(self, p: QPointF) -> None:
        r = self.brush_size / 2
        self.ring.setRect(QRectF(p.x() - r, p.y() - r, 2 * r, 2 * r))

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.tool == "polygon":
            self._finish_polygon()
            return
        if event.key() == Qt.Key.Key_Escape and self._poly:
            self._poly.clear()
            self.poly_item.setPath(QPainterPath())
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.set_tool(self.tool)
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        p = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and (self._space or self.tool == "pan")):
            self._panning = True
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            if event.button() == Qt.MouseButton.RightButton and self.tool == "polygon":
                self._finish_polygon()
            return
        if self.tool in STROKE_TOOLS:
            self._stroking = True
            self.strokeBegan.emit(p)
        elif self.tool == "fill":
            self.fillRequested.emit(p)
        elif self.tool == "eyedropper":
            self.picked.emit(p)
        elif self.tool == "polygon":
            self._poly.append(p)
            self._draw_polygon(p)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        p = self.mapToScene(event.position().toPoint())
        if self._panning and self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(int(self.horizontalScrollBar().value() - delta.x()))
            self.verticalScrollBar().setValue(int(self.verticalScrollBar().value() - delta.y()))
            return
        self._update_ring(p)
        self.cursorMoved.emit(p)
        if self._stroking:
            self.strokeMoved.emit(p)
        elif self.tool == "polygon" and self._poly:
            self._draw_polygon(p)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._panning and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._panning = False
            self.set_tool(self.tool)
            return
        if self._stroking and event.button() == Qt.MouseButton.LeftButton:
            self._stroking = False
            self.strokeEnded.emit()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if self.tool == "polygon":
            self._finish_polygon()
        else:
            super().mouseDoubleClickEvent(event)

    def _draw_polygon(self, cursor: QPointF) -> None:
        path = QPainterPath(self._poly[0])
        for q in self._poly[1:]:
            path.lineTo(q)
        path.lineTo(cursor)
        self.poly_item.setPath(path)

    def _finish_polygon(self) -> None:
        pts = [(q.x(), q.y()) for q in self._poly]
        self._poly.clear()
        self.poly_item.setPath(QPainterPath())
        if len(pts) >= 3:
            self.polygonFinished.emit(pts)


def swatch(color: tuple[int, int, int], size: int = 14) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(QColor(*color))
    p = QPainter(pm)
    p.setPen(QPen(QColor(0, 0, 0, 160)))
    p.setBrush(QBrush(Qt.BrushStyle.NoBrush))
    p.drawRect(0, 0, size - 1, size - 1)
    p.end()
    return pm
