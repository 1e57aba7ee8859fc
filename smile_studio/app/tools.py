"""The canvas tools and view modes, declared once: the canvas accepts these names, the tool bar shows these
labels and shortcuts, the help lists them. A new tool is a row here plus its handling in the canvas."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    name: str  # what the canvas and set_tool() call it
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
VIEW_MODES = ("fill", "contour", "selected")
