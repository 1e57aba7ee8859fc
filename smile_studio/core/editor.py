"""The editor's tool state and its brush strokes, without Qt.

:class:`EditorState` is what the user chose for editing the map — the class, the tool, the brush size, contiguous
fill, mirrored painting and the classes protected from painting — held once, announcing each change the way
:class:`~.document.Document` does. The window's widgets bind to it both ways (a widget sets a field; the state's
announcement updates every other widget showing it), so painting can be driven and tested without a window.

:class:`Stroke` is one drag of the brush or the eraser: begin / move / end over image coordinates, painting
through the document (one undo step per stroke, each move a segment from the last point, so fast drags leave no
gaps). The tool table lives here too: the tool bar and the canvas are built from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .document import Document
from .history import Entry
from .labels import CLASSES, NUM_CLASSES


@dataclass(frozen=True)
class Tool:
    name: str  # what the state and the canvas call it
    key: str  # its shortcut
    tip: str  # what it does, for the tool bar


TOOLS: tuple[Tool, ...] = (
    Tool("brush", "B", "paint the selected class"),
    Tool("eraser", "E", "restore the map as the face was opened"),
    Tool("fill", "G", "flood-fill a region (contiguous or every pixel of that class)"),
    Tool("polygon", "P", "fill a polygon; double-click, right-click or Enter closes it"),
    Tool("eyedropper", "I", "pick the class under the cursor"),
    Tool("pan", "H", "move the view (or hold space, or drag with the middle button)"),
)
TOOL_NAMES = tuple(t.name for t in TOOLS)
STROKE_TOOLS = ("brush", "eraser")  # the tools that paint by dragging
BRUSH_RANGE = (1.0, 256.0)  # brush diameter, image pixels


class EditorState:
    """The user's editing choices; ``subscribe(callback)`` hears ``callback(field_name)`` after each change.

    ``paintable`` is the class-protection table handed to the document's commands: a (19,) boolean array of the
    classes a stroke may paint over, or None when every class may be (nothing protected)."""

    def __init__(self) -> None:
        self.current_class = 1  # skin
        self.tool = "brush"
        self.brush_size = 12.0
        self.contiguous = True
        self.mirror = False
        self.paintable: np.ndarray | None = None
        self._listeners: list[Callable[[str], None]] = []

    def subscribe(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def _set(self, name: str, value) -> bool:
        old = getattr(self, name)
        same = (old is None and value is None) or (
            old is not None and value is not None and np.array_equal(np.asarray(old), np.asarray(value)))
        if same:
            return False
        setattr(self, name, value)
        for cb in list(self._listeners):
            cb(name)
        return True

    def set_class(self, cid: int) -> bool:
        cid = int(cid)
        if not 0 <= cid < NUM_CLASSES:
            raise ValueError(f"class {cid} is not one of the {NUM_CLASSES} classes")
        return self._set("current_class", cid)

    def set_tool(self, tool: str) -> bool:
        if tool not in TOOL_NAMES:
            raise ValueError(f"unknown tool {tool!r}; the tools are {', '.join(TOOL_NAMES)}")
        return self._set("tool", tool)

    def set_brush_size(self, size: float) -> bool:
        """Whole pixels within BRUSH_RANGE (the size box shows whole pixels; a fraction it cannot show would be
        kept or dropped depending on what it showed before)."""
        if not math.isfinite(size):
            raise ValueError(f"a brush size is a number of pixels, not {size!r}")
        return self._set("brush_size", float(np.clip(round(size), *BRUSH_RANGE)))

    def set_contiguous(self, on: bool) -> bool:
        return self._set("contiguous", bool(on))

    def set_mirror(self, on: bool) -> bool:
        return self._set("mirror", bool(on))

    def set_paintable(self, table: np.ndarray | None) -> bool:
        """The classes that may be painted over; None or an all-true table: all of them."""
        if table is not None:
            table = np.asarray(table, bool).copy()
            if table.shape != (NUM_CLASSES,):
                raise ValueError(f"a protection table has one entry per class ({NUM_CLASSES}), not {table.shape}")
            table = None if table.all() else table
        return self._set("paintable", table)

    def protect(self, cid: int, protected: bool = True) -> bool:
        """Protect one class from painting (or lift its protection)."""
        table = np.ones(NUM_CLASSES, bool) if self.paintable is None else self.paintable.copy()
        table[int(cid)] = not protected
        return self.set_paintable(table)


class Stroke:
    """One drag of the brush or the eraser over ``doc``, with ``state``'s class, size, mirror and protection as
    they were when it began (a shortcut pressed mid-drag changes the next stroke, not half of this one)."""

    def __init__(self, doc: Document, state: EditorState):
        if state.tool not in STROKE_TOOLS:
            raise ValueError(f"the {state.tool} tool does not paint strokes")
        self.doc = doc
        self.erasing = state.tool == "eraser"
        self.cls = state.current_class
        self.size = state.brush_size
        self.mirror = state.mirror
        self.paintable = state.paintable
        self._last: tuple[float, float] | None = None

    @property
    def active(self) -> bool:
        return self._last is not None

    def begin(self, x: float, y: float) -> int:
        """Open the undo step and paint a dab at (x, y); the number of pixels changed. A step a drag left open
        (its release never came: the window lost the mouse mid-drag) is closed first, as it stood."""
        if self.doc.history.in_action:
            self.doc.end()
        self.doc.begin("Erase" if self.erasing else f"Paint {CLASSES[self.cls].name}")
        self._last = (float(x), float(y))
        return self._segment(self._last, self._last)

    def move(self, x: float, y: float) -> int:
        """Paint from the last point to (x, y)."""
        if self._last is None or not self.doc.history.in_action:  # its step was closed by another stroke
            return 0
        p = (float(x), float(y))
        n = self._segment(self._last, p)
        self._last = p
        return n

    def end(self) -> Entry | None:
        """Close the undo step (None when the stroke changed nothing)."""
        if self._last is None:
            return None
        self._last = None
        return self.doc.end() if self.doc.history.in_action else None

    def _segment(self, a, b) -> int:
        if self.erasing:
            return self.doc.erase(a, b, self.size, self.paintable, mirror=self.mirror)
        return self.doc.paint(a, b, self.cls, self.size, self.paintable, mirror=self.mirror)
