"""The editor state's widgets and the canvas's painting input: the palette, tool actions, size box, fill and
mirror boxes follow :class:`~..core.editor.EditorState` (whichever widget, shortcut or script changed it), and
a drag on the canvas is forwarded to a :class:`~..core.editor.Stroke`. A mixin of :class:`~.window.MainWindow`
(whose fields it uses are declared there)."""

from __future__ import annotations

import time

from PySide6.QtCore import QPointF

from ..core.editor import STROKE_TOOLS, Stroke
from ..core.labels import CLASSES
from .scheduler import PREVIEW


class PaintingActions:
    @property
    def current_class(self) -> int:
        return self.editor.current_class

    def set_class(self, cid: int) -> None:
        self.editor.set_class(cid)

    def set_tool(self, tool: str) -> None:
        self.editor.set_tool(tool)

    def _editor_changed(self, name: str) -> None:
        """The editor state changed (from any widget, shortcut or script): every widget showing it follows."""
        e = self.editor
        if name == "current_class":
            self.canvas.selected_class = e.current_class
            self.palette.set_current(e.current_class)
            if self.canvas.view_mode == "selected":
                self.canvas.refresh_overlay()
            self.statusBar().showMessage(f"class: {CLASSES[e.current_class].name}", 2000)
        elif name == "tool":
            self.canvas.set_tool(e.tool)
            self.tool_actions[e.tool].setChecked(True)
        elif name == "brush_size":
            self.canvas.set_brush_size(e.brush_size)
            self.size_spin.setValue(int(round(e.brush_size)))
        elif name == "contiguous":
            self.contiguous.setChecked(e.contiguous)
        elif name == "mirror":
            self.mirror_paint.setChecked(e.mirror)
        elif name == "paintable":
            self.palette.show_protection(e.paintable)

    def _pick(self, p: QPointF) -> None:
        if self.doc is not None:
            cid = self.doc.labelmap.class_at(p.x(), p.y())
            if cid is not None:
                self.set_class(cid)

    def _cursor(self, p: QPointF) -> None:
        if self.doc is not None:
            cid = self.doc.labelmap.class_at(p.x(), p.y())
            self.status_cursor.setText(f"{int(p.x())},{int(p.y())} {CLASSES[cid].name if cid is not None else ''}")

    def _stroke_begin(self, p: QPointF) -> None:
        if self.doc is None or self.editor.tool not in STROKE_TOOLS:
            return
        self.reject_proposal()
        self._stroke = Stroke(self.doc, self.editor)
        self._painted(self._stroke.begin, p)

    def _stroke_move(self, p: QPointF) -> None:
        if self._stroke is not None and self._stroke.active:
            self._painted(self._stroke.move, p)

    def _painted(self, step, p: QPointF) -> None:
        t0 = time.perf_counter()
        step(p.x(), p.y())
        self.stroke_latencies.append(time.perf_counter() - t0)
        self.request_render(PREVIEW)

    def _stroke_end(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is not None and stroke.active:
            stroke.end()
        elif self.doc is not None and self.doc.history.in_action:  # a step left open is closed on release
            self.doc.end()
        else:
            return
        self._refresh_panels()
        self.idle.start()
