"""The canvas's view modes (the tools themselves are declared with the editor state, :mod:`..core.editor`)."""

VIEW_MODES = ("fill", "contour", "selected")
