"""The tool bar and the menus, built from the tool table (:mod:`.tools`) and the class table, so that a tool or a
class is declared once. A mixin of :class:`~.window.MainWindow`."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QLabel,
    QSlider,
    QSpinBox,
    QToolBar,
)

from ..core.editor import TOOLS
from ..core.labels import CLASSES
from .tools import VIEW_MODES


class MenusAndToolbar:
    def _build_toolbar(self) -> None:
        tb = QToolBar("Tools")
        tb.setObjectName("toolsToolbar")
        self.addToolBar(tb)
        group = QActionGroup(self)
        self.tool_actions = {}
        for tool in TOOLS:
            act = QAction(tool.name.capitalize(), self, checkable=True)
            act.setShortcut(QKeySequence(tool.key))
            act.setToolTip(f"{tool.name.capitalize()} ({tool.key}): {tool.tip}")
            act.triggered.connect(lambda _=False, t=tool.name: self.editor.set_tool(t))
            group.addAction(act)
            tb.addAction(act)
            self.tool_actions[tool.name] = act
        self.tool_actions[self.editor.tool].setChecked(True)
        tb.addSeparator()
        tb.addWidget(QLabel(" Size "))
        self.size_spin = QSpinBox()
        self.size_spin.setObjectName("brushSize")
        self.size_spin.setRange(1, 256)
        self.size_spin.setValue(int(self.editor.brush_size))
        self.size_spin.valueChanged.connect(self.editor.set_brush_size)
        tb.addWidget(self.size_spin)
        tb.addWidget(QLabel(" Opacity "))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("opacitySlider")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.setFixedWidth(90)
        self.opacity.valueChanged.connect(lambda v: self.canvas.set_opacity(v / 100))
        tb.addWidget(self.opacity)
        self.view_mode = QComboBox()
        self.view_mode.setObjectName("viewMode")
        self.view_mode.addItems(list(VIEW_MODES))
        self.view_mode.currentTextChanged.connect(self.canvas.set_view_mode)
        tb.addWidget(self.view_mode)
        self.contiguous = QCheckBox("Contiguous fill")
        self.contiguous.setChecked(self.editor.contiguous)
        self.contiguous.toggled.connect(self.editor.set_contiguous)
        tb.addWidget(self.contiguous)
        self.mirror_paint = QCheckBox("Mirror paint")
        self.mirror_paint.setObjectName("mirrorPaint")
        self.mirror_paint.setChecked(self.editor.mirror)
        self.mirror_paint.toggled.connect(self.editor.set_mirror)
        tb.addWidget(self.mirror_paint)

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(m, "&Open…", QKeySequence.StandardKey.Open, self.open_dialog)
        self._action(m, "Open &sample", None, self.open_sample)
        self._action(m, "Add &reference photo…", QKeySequence("Ctrl+R"), self.add_reference_dialog)
        self.recent_menu = m.addMenu("Recent")
        self._fill_recent()
        self._action(m, "&Save project", QKeySequence.StandardKey.Save, self.save)
        self._action(m, "Save project &as…", QKeySequence.StandardKey.SaveAs, self.save_as)
        self._action(m, "&Export bundle…", QKeySequence("Ctrl+E"), self.export_dialog)
        self._action(m, "Save re&cipe…", None, self.save_recipe_dialog)
        self._action(m, "&Weights…", None, self.weights_dialog)
        self._action(m, "Connect to &server…", None, self.connect_dialog)
        m.addSeparator()
        self._action(m, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        e = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(e, "&Undo", QKeySequence("Ctrl+Z"), self.undo)
        self.redo_action = self._action(e, "&Redo", QKeySequence("Ctrl+Shift+Z"), self.redo)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self._action(e, "&Mirror map (swap left/right)", None, lambda: self._command(lambda d: d.mirror()))
        self.islands_action = self._action(e, "Remove &islands (< 16 px)", QKeySequence("Ctrl+I"),
                                           lambda: self._command(lambda d: d.remove_islands(16, self.editor.paintable)))
        e.addSeparator()
        self._action(e, "&Paste as reference", QKeySequence("Ctrl+Shift+V"), self.paste_reference)
        self._action(e, "Next &face (photos with several)", QKeySequence("Ctrl+F"), self.next_face)
        v = self.menuBar().addMenu("&View")
        self._action(v, "&Fit", QKeySequence("Ctrl+0"), self.canvas.fit)
        self._action(v, "&100 %", QKeySequence("Ctrl+1"), self.canvas.actual_size)
        self._action(v, "&Result at full size (before/after)…", QKeySequence("Ctrl+Shift+R"), self.show_full_size)
        self._action(v, "Zoom &in", QKeySequence.StandardKey.ZoomIn, lambda: self.canvas.zoom(1.25))
        self._action(v, "Zoom &out", QKeySequence.StandardKey.ZoomOut, lambda: self.canvas.zoom(0.8))
        v.addSeparator()
        panels = v.addMenu("&Panels")  # closed docks come back from here
        for dock in self.findChildren(QDockWidget):
            panels.addAction(dock.toggleViewAction())
        for bar in self.findChildren(QToolBar):
            panels.addAction(bar.toggleViewAction())
        from .help import build_help_menu

        build_help_menu(self)
        for c in CLASSES:
            QShortcut(QKeySequence(c.hotkey), self, lambda cid=c.id: self.editor.set_class(cid))
        QShortcut(QKeySequence("["), self, lambda: self.editor.set_brush_size(self.editor.brush_size - 2))
        QShortcut(QKeySequence("]"), self, lambda: self.editor.set_brush_size(self.editor.brush_size + 2))

    def _action(self, menu, text, shortcut, slot) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(shortcut)
        act.triggered.connect(lambda _=False: slot())
        menu.addAction(act)
        return act
