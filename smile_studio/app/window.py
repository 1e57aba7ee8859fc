"""The main window: wires canvas, panels and the render worker to the document through commands."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, QPointF, QRunnable, QSettings, QStandardPaths, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..core.document import Document, Reference, StyleSource
from ..core.labelio import colorize
from ..core.labelmap import LabelMap
from ..core.labels import CLASSES
from ..core.project import ProjectError, load_project, save_project
from ..engines.base import EngineError, LayoutRequest, RenderRequest
from ..opening import open_document
from .canvas import FileDropMixin, MapCanvas
from .panels import AttributePanel, PalettePanel, PreviewPane, StylePanel
from .recovery import Autosaver, discard, orphaned_autosaves
from .scheduler import FINAL, PREVIEW, JobResult
from .worker import RenderWorker

WORK_SIZE = 256
TITLE = "SMILE Studio"
THUMB = 72  # side of a variation thumbnail
IMAGE_GLOBS = "*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff"
IMAGE_FILTER = f"Images ({IMAGE_GLOBS})"


def config_dir() -> Path:
    env = os.environ.get("SMILE_STUDIO_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or
                Path.home() / ".smile-studio")


class _Signals(QObject):
    done = Signal(object)


class _Task(QRunnable):
    """Runs a Qt-free callable off the GUI thread; the result (or the exception) comes back as a signal."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.signals = _Signals()

    def run(self) -> None:
        try:
            out = self.fn()
        except Exception as exc:  # noqa: BLE001 - shown to the user
            out = exc
        self.signals.done.emit(out)


class MainWindow(FileDropMixin, QMainWindow):
    rendered = Signal(object)  # JobResult shown (for tests and benchmarks)
    filesDropped = Signal(list)

    def __init__(self, layout_engine=None, render_engine=None, engine_note: str | None = None,
                 autosave_ms: int = 20000):
        super().__init__()
        self.setWindowTitle(f"{TITLE} {__version__}")
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.settings = QSettings(str(config_dir() / "settings.ini"), QSettings.Format.IniFormat)
        self.engine_note = engine_note or ""
        self.doc: Document | None = None
        self.project_path: Path | None = None
        self.saved_version: int | None = None
        self.current_class = 1
        self.protection: np.ndarray | None = None
        self.proposal = None  # (LayoutResult, chosen index)
        self.last_result: JobResult | None = None
        self._shown_id = 0
        self._stroke_t0: float | None = None
        self._open_serial = 0
        self._pending_open: tuple[int, Path] | None = None
        self._open_tasks: dict[int, _Task] = {}
        self.stroke_latencies: list[float] = []
        self._build_ui()
        # the worker owns the engines (they keep caches and are not re-entrant): renders, proposals, thumbnails
        # and exports all run on its thread
        self.worker = RenderWorker()
        self.worker.set_engines(layout_engine, render_engine)
        self.worker.result.connect(self._on_render, Qt.ConnectionType.QueuedConnection)
        self.worker.start()
        self.idle = QTimer(self, singleShot=True, interval=120)
        self.idle.timeout.connect(lambda: self.request_render(FINAL))
        self.autosaver = Autosaver(config_dir() / "autosave")
        self.autosave_timer = QTimer(self, interval=autosave_ms)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.pool = QThreadPool.globalInstance()
        geom = self.settings.value("geometry")
        if geom is not None:
            self.restoreGeometry(geom)
        else:
            self.resize(1280, 800)

    # ------------------------------------------------------------------------------------------------------------
    # UI construction
    # ------------------------------------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.canvas = MapCanvas()
        self.preview = PreviewPane()
        self.split = QSlider(Qt.Orientation.Horizontal)
        self.split.setObjectName("beforeAfterSlider")
        self.split.setRange(0, 100)
        self.split.setToolTip("Slide towards Before to compare with the original (shown right of the line)")
        self.split.valueChanged.connect(lambda v: self.preview.set_split(1.0 - v / 100))
        self.split.setValue(100)  # the After end: the edit, whole
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.preview, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Before"))
        row.addWidget(self.split, 1)
        row.addWidget(QLabel("After"))
        rl.addLayout(row)
        splitter = QSplitter()
        splitter.addWidget(self.canvas)
        splitter.addWidget(right)
        splitter.setSizes([560, 440])
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        self.banner = QLabel()
        self.banner.setObjectName("engineBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#3a3320;color:#ffe9a8;padding:4px;")
        self.message = QLabel()
        self.message.setObjectName("messageBar")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.recover_button = QPushButton("Recover")
        self.recover_button.setObjectName("recoverButton")
        self.recover_button.setVisible(False)
        self.place_eyes_button = QPushButton("Place eyes…")
        self.place_eyes_button.setObjectName("placeEyesButton")
        self.place_eyes_button.setVisible(False)
        msg_row = QHBoxLayout()
        msg_row.addWidget(self.message, 1)
        msg_row.addWidget(self.recover_button)
        msg_row.addWidget(self.place_eyes_button)
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.banner)
        cl.addLayout(msg_row)
        cl.addWidget(splitter, 1)
        self.setCentralWidget(central)

        self.palette = PalettePanel()
        self.attributes = AttributePanel()
        self.styles = StylePanel()
        self._dock("Classes", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        att = self._dock("Attributes", self.attributes, Qt.DockWidgetArea.RightDockWidgetArea)
        sty = self._dock("Styles", self.styles, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(att, sty)
        att.raise_()
        self.resizeDocks([self.findChild(QDockWidget, "dock_Classes"), att], [215, 410],
                         Qt.Orientation.Horizontal)

        self.status_engine = QLabel("engine: loading…")
        self.status_latency = QLabel("")
        self.status_cursor = QLabel("")
        for w in (self.status_cursor, self.status_latency, self.status_engine):
            self.statusBar().addPermanentWidget(w)
        self._build_toolbar()
        self._build_menus()
        self._wire()

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_toolbar(self) -> None:
        tb = QToolBar("Tools")
        tb.setObjectName("toolsToolbar")
        self.addToolBar(tb)
        group = QActionGroup(self)
        self.tool_actions = {}
        for tool, key in (("brush", "B"), ("eraser", "E"), ("fill", "G"), ("polygon", "P"), ("eyedropper", "I"),
                          ("pan", "H")):
            act = QAction(tool.capitalize(), self, checkable=True)
            act.setShortcut(QKeySequence(key))
            act.setToolTip(f"{tool.capitalize()} ({key})")
            act.triggered.connect(lambda _=False, t=tool: self.set_tool(t))
            group.addAction(act)
            tb.addAction(act)
            self.tool_actions[tool] = act
        self.tool_actions["brush"].setChecked(True)
        tb.addSeparator()
        tb.addWidget(QLabel(" Size "))
        self.size_spin = QSpinBox()
        self.size_spin.setObjectName("brushSize")
        self.size_spin.setRange(1, 256)
        self.size_spin.setValue(12)
        self.size_spin.valueChanged.connect(lambda v: self.canvas.set_brush_size(v))
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
        self.view_mode.addItems(["fill", "contour", "selected"])
        self.view_mode.currentTextChanged.connect(self.canvas.set_view_mode)
        tb.addWidget(self.view_mode)
        self.contiguous = QCheckBox("Contiguous fill")
        self.contiguous.setChecked(True)
        tb.addWidget(self.contiguous)
        self.mirror_paint = QCheckBox("Mirror paint")
        self.mirror_paint.setObjectName("mirrorPaint")
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
        m.addSeparator()
        self._action(m, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        e = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(e, "&Undo", QKeySequence("Ctrl+Z"), self.undo)
        self.redo_action = self._action(e, "&Redo", QKeySequence("Ctrl+Shift+Z"), self.redo)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self._action(e, "&Mirror map (swap left/right)", None, lambda: self._command(lambda d: d.mirror()))
        self.islands_action = self._action(e, "Remove &islands (< 16 px)", QKeySequence("Ctrl+I"),
                                           lambda: self._command(lambda d: d.remove_islands(16, self.protection)))
        e.addSeparator()
        self._action(e, "&Paste as reference", QKeySequence("Ctrl+Shift+V"), self.paste_reference)
        v = self.menuBar().addMenu("&View")
        self._action(v, "&Fit", QKeySequence("Ctrl+0"), self.canvas.fit)
        self._action(v, "&100 %", QKeySequence("Ctrl+1"), self.canvas.actual_size)
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
            QShortcut(QKeySequence(c.hotkey), self, lambda cid=c.id: self.set_class(cid))
        QShortcut(QKeySequence("["), self, lambda: self.size_spin.setValue(max(1, self.size_spin.value() - 2)))
        QShortcut(QKeySequence("]"), self, lambda: self.size_spin.setValue(self.size_spin.value() + 2))

    def _action(self, menu, text, shortcut, slot) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(shortcut)
        act.triggered.connect(lambda _=False: slot())
        menu.addAction(act)
        return act

    def _wire(self) -> None:
        c = self.canvas
        c.strokeBegan.connect(self._stroke_begin)
        c.strokeMoved.connect(self._stroke_move)
        c.strokeEnded.connect(self._stroke_end)
        c.fillRequested.connect(lambda p: self._command(
            lambda d: d.fill(p.x(), p.y(), self.current_class, self.contiguous.isChecked(), self.protection)))
        c.polygonFinished.connect(lambda pts: self._command(
            lambda d: d.polygon(pts, self.current_class, self.protection)))
        c.picked.connect(self._pick)
        c.cursorMoved.connect(self._cursor)
        c.filesDropped.connect(lambda paths: self.open_in_background(paths[0]))
        c.viewChanged.connect(lambda rect: self.preview.set_view(rect, self.doc.size if self.doc else 256))
        self.palette.classChosen.connect(self.set_class)
        self.palette.protectionChanged.connect(lambda t: setattr(self, "protection", t))
        self.attributes.proposeRequested.connect(self.propose)
        self.attributes.accepted.connect(self.accept_proposal)
        self.attributes.rejected.connect(self.reject_proposal)
        self.attributes.variationChosen.connect(self._choose_variation)
        self.styles.styleChanged.connect(self.set_style)
        self.styles.referencesDropped.connect(self.add_references)
        self.styles.addReferenceRequested.connect(self.add_reference_dialog)
        self.recover_button.clicked.connect(self._recover)
        self.place_eyes_button.clicked.connect(self.place_eyes)
        self.filesDropped.connect(lambda paths: self.open_in_background(paths[0]))

    # ------------------------------------------------------------------------------------------------------------
    # engines, startup
    # ------------------------------------------------------------------------------------------------------------
    @property
    def layout_engine(self):
        return self.worker.engines.layout

    @property
    def render_engine(self):
        return self.worker.engines.render

    @render_engine.setter
    def render_engine(self, engine) -> None:  # benchmarks switch rendering off and on
        self.worker.set_engines(self.layout_engine, engine)

    def set_engines(self, layout, render, note: str, loading: bool = False) -> None:
        """``loading``: these engines serve while better ones load (see :meth:`load_engines_in_background`)."""
        self.worker.set_engines(layout, render)
        self.engine_note = note
        self._show_engines(loading)
        self.request_render(FINAL)

    def _show_engines(self, loading: bool = False) -> None:
        note, render = self.engine_note, self.render_engine
        offline = getattr(render, "name", "offline") != "smile"
        hint = ""
        if loading:
            hint = " Loading the SMILE networks…"
        elif offline:
            from ..engines.registry import install_hint

            hint = f" To use SMILE, {install_hint()}."
        self.banner.setText(f"Engine: {note}.{hint}")
        device = getattr(render, "device", "cpu")
        precision = getattr(render, "preview_dtype", None)
        previews = ""
        if precision is not None:  # a SMILE engine: torch is loaded already
            from ..nets.runtime import dtype_name

            previews = f" · previews: {dtype_name(precision)}"
        self.status_engine.setText(f"engine: {'offline' if offline else 'SMILE'} · device: {device}{previews}")

    def load_engines_in_background(self, load) -> None:
        """Reading the official weights takes seconds: ``load`` (returning layout, render, note) runs on a worker
        while the window keeps working with the engines it has; a failure is a message and keeps those."""
        task = _Task(load)
        task.signals.done.connect(self._engines_loaded, Qt.ConnectionType.QueuedConnection)
        self._engine_task = task
        self.pool.start(task)

    def _engines_loaded(self, result) -> None:
        self._engine_task = None
        if isinstance(result, Exception):
            self._show_engines()  # no longer "loading"; the engines and the picture stay as they are
            self.notify(f"The SMILE engines could not be loaded ({type(result).__name__}: {result}); "
                        "staying on the current engines.", error=True)
            return
        self.set_engines(*result)

    def notify(self, text: str, error: bool = False) -> None:
        """A non-modal message above the canvas (errors never block painting)."""
        self.message.setText(text)
        self.message.setStyleSheet("background:#5a1f1f;color:white;padding:4px;" if error
                                   else "background:#1f3a5a;color:white;padding:4px;")
        self.message.setVisible(True)
        self.statusBar().showMessage(text, 8000)

    def check_recovery(self) -> list[Path]:
        found = orphaned_autosaves(self.autosaver.folder)
        if found:
            self._recoverable = found[0]
            self.notify(f"SMILE Studio did not close properly; an autosave of your work exists "
                        f"({found[0].name}). Press Recover to open it.")
            self.recover_button.setVisible(True)
        return found

    def _recover(self) -> None:
        path = getattr(self, "_recoverable", None)
        if path is None:
            return
        try:
            doc = load_project(path)
        except ProjectError as exc:
            self.notify(f"The autosave could not be opened: {exc}", error=True)
            return
        self.set_document(doc)
        self.saved_version = None  # recovered work is unsaved
        self._update_title()
        self.recover_button.setVisible(False)
        try:  # this session's autosave holds the work before the old one goes: a second crash loses nothing
            self.autosaver.save(doc)
        except ProjectError as exc:
            self.notify(f"Recovered {doc.name}, but it could not be autosaved again ({exc}); the old autosave "
                        f"{path.name} is kept. Save your work (File > Save project as).", error=True)
            return
        discard(path)
        self.notify(f"Recovered {doc.name} from the autosave.")

    # ------------------------------------------------------------------------------------------------------------
    # document
    # ------------------------------------------------------------------------------------------------------------
    def set_document(self, doc: Document, path: Path | None = None) -> None:
        self.place_eyes_button.setVisible(False)
        self.doc = doc
        self.project_path = path
        self.proposal = None
        self.attributes.set_proposal_active(False)
        doc.subscribe(self._doc_changed)
        self.saved_version = doc.version
        self.canvas.set_photo(doc.photo, doc.size)
        self.canvas.set_labels(doc.labels)
        self.preview.set_before(doc.photo if doc.photo is not None else colorize(doc.source_labels))
        self.canvas.fit()
        self._refresh_panels()
        self._update_title()
        self.request_render(FINAL)

    def _doc_changed(self, kind: str) -> None:
        self.canvas.set_labels(self.doc.labels)
        if kind != "map":
            self._refresh_panels()
        self._update_title()

    def _refresh_panels(self) -> None:
        d = self.doc
        self.attributes.show_state(d.attributes)
        present = [int(c) for c in np.nonzero(d.labelmap.counts())[0]]
        self.styles.show_styles(present, d.styles, d.references)
        self.undo_action.setEnabled(d.history.can_undo)
        self.redo_action.setEnabled(d.history.can_redo)

    @property
    def modified(self) -> bool:
        return self.doc is not None and self.doc.version != self.saved_version

    def _update_title(self) -> None:
        """'portrait.smile * — SMILE Studio': the project file once there is one, else the document's name."""
        name = self.project_path.name if self.project_path is not None else (self.doc.name if self.doc else "")
        self.setWindowTitle(f"{name}{' *' if self.modified else ''} — {TITLE}" if name else TITLE)

    def _command(self, fn) -> None:
        if self.doc is None:
            return
        self.reject_proposal()
        fn(self.doc)
        self._refresh_panels()
        self.request_render(FINAL)

    def set_class(self, cid: int) -> None:
        self.current_class = int(cid)
        self.canvas.selected_class = int(cid)
        self.palette.set_current(int(cid))
        if self.canvas.view_mode == "selected":
            self.canvas.refresh_overlay()
        self.statusBar().showMessage(f"class: {CLASSES[cid].name}", 2000)

    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        self.tool_actions[tool].setChecked(True)

    def _pick(self, p: QPointF) -> None:
        if self.doc is not None:
            cid = self.doc.labelmap.class_at(p.x(), p.y())
            if cid is not None:
                self.set_class(cid)

    def _cursor(self, p: QPointF) -> None:
        if self.doc is not None:
            cid = self.doc.labelmap.class_at(p.x(), p.y())
            self.status_cursor.setText(f"{int(p.x())},{int(p.y())} {CLASSES[cid].name if cid is not None else ''}")

    # strokes: one undo step per drag, a preview render per move, the final render when idle
    def _stroke_begin(self, p: QPointF) -> None:
        if self.doc is None:
            return
        self.reject_proposal()
        cls = 0 if self.canvas.tool == "eraser" else self.current_class
        self._stroke_cls = cls
        self.doc.begin(f"Paint {CLASSES[cls].name}")
        self._paint(p, p)

    def _stroke_move(self, a: QPointF, b: QPointF) -> None:
        if self.doc is not None and self.doc.history.in_action:
            self._paint(a, b)

    def _paint(self, a: QPointF, b: QPointF) -> None:
        t0 = time.perf_counter()
        self.doc.paint((a.x(), a.y()), (b.x(), b.y()), self._stroke_cls, self.canvas.brush_size, self.protection,
                       mirror=self.mirror_paint.isChecked())
        self.stroke_latencies.append(time.perf_counter() - t0)
        self.request_render(PREVIEW)

    def _stroke_end(self) -> None:
        if self.doc is not None and self.doc.history.in_action:
            self.doc.end()
            self._refresh_panels()
            self.idle.start()

    def undo(self) -> None:
        if self.doc is not None and self.doc.undo():
            self._refresh_panels()
            self.request_render(FINAL)

    def redo(self) -> None:
        if self.doc is not None and self.doc.redo():
            self._refresh_panels()
            self.request_render(FINAL)

    def set_style(self, cid: int, source: StyleSource) -> None:
        if self.doc is not None:
            self.doc.set_style(cid, source)
            self._refresh_panels()
            self.request_render(FINAL)

    # ------------------------------------------------------------------------------------------------------------
    # rendering
    # ------------------------------------------------------------------------------------------------------------
    def request_render(self, kind: str = FINAL) -> int | None:
        if self.doc is None or self.render_engine is None:
            return None
        snap = self.doc.snapshot()  # already an immutable copy: no second copy of the map per request
        labels = snap.labels if self.proposal is None else self.proposal[0].maps[self.proposal[1]]
        photo, source = snap.photo, snap.source_labels
        if kind == PREVIEW:  # half resolution while stroking
            labels = labels[::2, ::2]
            photo = photo[::2, ::2] if photo is not None else None
            source = source[::2, ::2] if source is not None else None
        req = RenderRequest(labels, photo, source, snap.styles, snap.references, size=self.doc.size)
        self.preview.set_state("rendering (preview)…" if kind == PREVIEW else "rendering…")
        return self.worker.post(req, kind)

    def _on_render(self, res: JobResult) -> None:
        if res.id < self._shown_id:
            return  # stale
        if res.error:
            self.notify(f"Rendering failed: {res.error}", error=True)
            self.preview.set_state("render failed")
            return
        self._shown_id = res.id
        self.last_result = res
        stale = self.worker.mailbox.is_stale(res.id)
        state = "preview" if res.kind == PREVIEW else ("final" if not stale else "final (newer edit pending)")
        self.preview.set_after(res.value, state, res.latency * 1000)
        self.status_latency.setText(f"render {res.seconds * 1000:.0f} ms · latency {res.latency * 1000:.0f} ms")
        self.rendered.emit(res)

    # ------------------------------------------------------------------------------------------------------------
    # attribute proposals
    # ------------------------------------------------------------------------------------------------------------
    def propose(self, targets: dict, seed: int, psi: float, variations: int, reference_mode: bool) -> None:
        if self.doc is None or self.layout_engine is None:
            return
        ref = None
        if reference_mode:
            ref = next((r for r in reversed(self.doc.references) if r.labels is not None), None)
            if ref is None:
                self.notify("Reference mode needs a reference: drop a photo on the reference shelf first.",
                            error=True)
                return
        req = LayoutRequest(self.doc.labels.copy(), dict(self.doc.attributes), targets, seed=seed, psi=psi,
                            variations=variations, reference_labels=ref.labels if ref else None,
                            reference_attributes=ref.attributes if ref else None, photo=self.doc.photo)
        if not req.changed_attributes():
            self.notify("The toggles match the current attributes: nothing to edit.")
            return
        self.attributes.propose.setEnabled(False)
        self.worker.submit(lambda engines: engines.layout.edit(req), self._proposal_ready)

    def _proposal_ready(self, result) -> None:
        self.attributes.propose.setEnabled(True)
        if isinstance(result, Exception):
            msg = str(result) if isinstance(result, (EngineError, ValueError)) else f"{type(result).__name__}: {result}"
            self.notify(f"Attribute edit failed: {msg}", error=True)
            return
        self.proposal = (result, 0)
        # maps first (instant), then the rendered faces from a background task
        thumbs = [cv2.resize(colorize(m), (THUMB, THUMB), interpolation=cv2.INTER_NEAREST) for m in result.maps]
        self.attributes.show_variations(thumbs, result.seeds)
        self.attributes.set_proposal_active(True)
        self._show_proposal()
        if self.render_engine is not None and len(result.maps) > 1:
            snap = self.doc.snapshot()

            def render_all(engines):
                out = []
                for m in result.maps:
                    img = engines.render.render(RenderRequest(m, snap.photo, snap.source_labels, snap.styles,
                                                              snap.references, size=snap.labels.shape[0]))
                    out.append(cv2.resize(img, (THUMB, THUMB), interpolation=cv2.INTER_AREA))
                return result, out

            self.worker.submit(render_all, self._thumbnails_ready)

    def _thumbnails_ready(self, out) -> None:
        if isinstance(out, Exception) or self.proposal is None or out[0] is not self.proposal[0]:
            return  # a render failure keeps the map thumbnails; a newer proposal replaced this one
        self.attributes.show_variations(out[1], out[0].seeds, current=self.proposal[1])

    def _choose_variation(self, idx: int) -> None:
        if self.proposal is not None and 0 <= idx < len(self.proposal[0].maps):
            self.proposal = (self.proposal[0], idx)
            self._show_proposal()

    def _show_proposal(self) -> None:
        """The chosen variation on the canvas and in the preview, with its own pixel summary and seed."""
        res, idx = self.proposal
        self.canvas.set_labels(res.maps[idx], diff=res.maps[idx] != self.doc.labels)
        changes = res.class_changes(self.doc.labels, idx)
        summary = ", ".join(f"{CLASSES[i].name} {v:+d}" for i, v in enumerate(changes) if v)
        self.attributes.info.setText(f"Proposal ({res.engine}), variation {idx + 1} of {len(res.maps)}, "
                                     f"seed {res.seeds[idx]}: {summary or 'no pixel change'}"
                                     + (f"\nNote: {'; '.join(res.notes)}" if res.notes else ""))
        self.attributes.show_seed(res.seeds[idx])
        self.request_render(FINAL)

    def accept_proposal(self) -> None:
        if self.proposal is None or self.doc is None:
            return
        res, idx = self.proposal
        self.proposal = None
        self.attributes.set_proposal_active(False)
        self.attributes.info.setText(f"Accepted variation {idx + 1} (seed {res.seeds[idx]}); Ctrl+Z undoes it.")
        self.doc.apply_attribute_edit(res.maps[idx], res.attributes,
                                      label=f"Attributes ({', '.join(k for k in res.attributes)})")
        self.canvas.set_labels(self.doc.labels)
        self._refresh_panels()
        self.request_render(FINAL)

    def reject_proposal(self) -> None:
        if self.proposal is None:
            return
        self.proposal = None
        self.attributes.set_proposal_active(False)
        self.attributes.info.setText("")
        if self.doc is not None:
            self.canvas.set_labels(self.doc.labels)
            self.attributes.show_state(self.doc.attributes)
            self.request_render(FINAL)

    # ------------------------------------------------------------------------------------------------------------
    # references
    # ------------------------------------------------------------------------------------------------------------
    def add_reference_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add reference photos", "", IMAGE_FILTER)
        if paths:
            self.add_references(paths)

    def paste_reference(self) -> list[Reference]:
        """The clipboard's image (a screenshot, a copied picture) or copied image files, as references."""
        mime = QApplication.clipboard().mimeData()
        if mime is not None and mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if paths:
                return self.add_references(paths)
        image = QApplication.clipboard().image()
        if image.isNull():
            self.notify("The clipboard holds no image to use as a reference.", error=True)
            return []
        folder = config_dir() / "pasted"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}.png"
        if not image.save(str(path), "PNG"):
            self.notify(f"The pasted image could not be stored in {folder}.", error=True)
            return []
        return self.add_references([str(path)])

    def add_references(self, paths: list[str]) -> list[Reference]:
        added = []
        if self.doc is None:
            return added
        for path in paths:
            try:
                ref_doc = open_document(path, self.doc.size)
            except (ValueError, OSError) as exc:
                self.notify(f"Could not use {Path(path).name} as a reference: {exc}", error=True)
                continue
            rgb = ref_doc.photo if ref_doc.photo is not None else colorize(ref_doc.labels)
            ref = Reference(self.doc.new_reference_id(), Path(path).name, rgb, ref_doc.labels.copy(),
                            dict(ref_doc.attributes))
            self.doc.begin(f"Add reference {ref.name}")
            try:
                self.doc.add_reference(ref)
                present = set(np.nonzero(self.doc.labelmap.counts())[0].tolist())
                for cid in self.styles.restyle_classes():
                    if cid in present and not self.doc.styles[cid].locked:
                        self.doc.set_style(cid, StyleSource("reference", ref=ref.id))
            finally:
                self.doc.end()
            added.append(ref)
        self._refresh_panels()
        self.request_render(FINAL)
        return added

    # ------------------------------------------------------------------------------------------------------------
    # files
    # ------------------------------------------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> bool:
        """Open a file now, on this thread (start-up, scripts, tests); True when it became the document."""
        try:
            result = open_document(path, WORK_SIZE)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message in _finish_open
            result = exc
        return self._finish_open(Path(path), result)

    def open_in_background(self, path: str | Path) -> None:
        """What File > Open, a drop and File > Recent do: the file is read, aligned and parsed on a worker thread
        (a huge image or a slow parse never freezes the window); only the newest request is shown."""
        self._open_serial += 1
        self._pending_open = (self._open_serial, Path(path))
        self.notify(f"Opening {Path(path).name}…")
        task = _Task(lambda: open_document(path, WORK_SIZE))
        task.signals.done.connect(self._opened_in_background, Qt.ConnectionType.QueuedConnection)
        self._open_tasks[self._open_serial] = task
        self.pool.start(task)

    def _opened_in_background(self, result) -> None:
        serial = next((k for k, t in self._open_tasks.items() if t.signals is self.sender()), None)
        self._open_tasks.pop(serial, None)
        if self._pending_open is not None and serial == self._pending_open[0]:
            path = self._pending_open[1]
            self._pending_open = None
            self._finish_open(path, result)

    @property
    def opening(self) -> bool:
        return self._pending_open is not None

    def _finish_open(self, path: Path, result) -> bool:
        from ..face.pipeline import NoFaceDetected

        if isinstance(result, NoFaceDetected):
            self._no_face = path
            self.notify(f"No face was detected in {path.name}. Press 'Place eyes…' and click the two eye "
                        "centres to align it by hand.", error=True)
            self.place_eyes_button.setVisible(True)
            return False
        if isinstance(result, (ValueError, OSError)):
            self.notify(f"Could not open {path.name}: {result}", error=True)
            return False
        if isinstance(result, Exception):  # a file must never take the editor down
            self.notify(f"Could not open {path.name}: unexpected {type(result).__name__}: {result}", error=True)
            return False
        if not self.maybe_save():
            return False
        doc = result
        self.set_document(doc, path if path.suffix == ".smile" else None)
        self._remember(path)
        self.notify(f"Opened {path.name}." + "".join(f" Note: {n}." for n in doc.notes))
        return True

    def eye_dialog(self, rgb: np.ndarray, name: str):
        from .eyes import EyeDialog

        return EyeDialog(rgb, name, self)

    def place_eyes(self) -> bool:
        """Align and parse the photo that had no detectable face, from eye centres the user clicks."""
        from ..core.imageio import read_image
        from ..face.attributes import read_attributes
        from ..face.pipeline import parse_face

        path = getattr(self, "_no_face", None)
        if path is None:
            return False
        rgb = read_image(path)
        dialog = self.eye_dialog(rgb, path.name)
        if dialog.exec() != dialog.DialogCode.Accepted or dialog.result_eyes() is None:
            return False
        parsed = parse_face(rgb, WORK_SIZE, eyes=dialog.result_eyes())
        if not self.maybe_save():
            return False
        self.place_eyes_button.setVisible(False)
        self._no_face = None
        self.set_document(Document(LabelMap(parsed.labels), photo=parsed.crop, original=rgb,
                                   alignment=parsed.alignment, name=path.name,
                                   attributes=read_attributes(parsed.crop, parsed.labels)))
        self._remember(path)
        self.notify(f"Opened {path.name} with the eyes placed by hand.")
        return True

    def open_sample(self) -> None:
        from ..resources import bundled_sample

        s = bundled_sample(WORK_SIZE)
        if s is None:
            self.set_document(Document(LabelMap.blank(WORK_SIZE), name="blank"))
            self.notify("The bundled sample is missing; started with a blank map.", error=True)
            return
        self.set_document(Document(LabelMap(s.labels), photo=s.photo, original=s.original, alignment=s.alignment,
                                   name=f"sample ({s.name})", attributes=dict(s.attributes)))

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open photo, map or project", "",
                                              f"Images and projects ({IMAGE_GLOBS} *.smile)")
        if path:
            self.open_in_background(path)

    def save_to(self, path: str | Path) -> bool:
        try:
            save_project(self.doc, path)
        except ProjectError as exc:
            self.notify(str(exc), error=True)
            return False
        self.project_path = Path(path)
        self.saved_version = self.doc.version
        self._remember(Path(path))
        self._update_title()
        self.notify(f"Saved {Path(path).name}.")
        return True

    def save(self) -> bool:
        if self.doc is None:
            return False
        if self.project_path is None:
            return self.save_as()
        return self.save_to(self.project_path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save project", self.suggested_project_name(),
                                              "SMILE Studio project (*.smile)")
        return bool(path) and self.save_to(path if path.endswith(".smile") else path + ".smile")

    def suggested_project_name(self) -> str:
        """'sample-astronaut.smile' for 'sample (astronaut.png)': no brackets, spaces or image extensions."""
        if self.project_path is not None:
            return self.project_path.name
        name = re.sub(r"\.(png|jpe?g|webp|bmp|tiff?|smile)\b", "", self.doc.name if self.doc else "", flags=re.I)
        return (re.sub(r"[^\w.-]+", "-", name).strip("-._") or "untitled") + ".smile"

    def export_to(self, folder: str | Path) -> list[Path]:
        from ..export import export_bundle

        # exports are rendered in float32 (previews may be reduced precision): the bundle's settings reproduce it
        req = RenderRequest(self.doc.labels, self.doc.photo, self.doc.source_labels, self.doc.styles,
                            self.doc.references, exact=True)
        try:  # on the engine thread, between two previews; this thread waits for it
            image = self.worker.call(lambda engines: engines.render.render(req))
        except (EngineError, RuntimeError, MemoryError) as exc:
            self.notify(f"Export failed: the image could not be rendered ({exc})", error=True)
            return []
        engines = {"layout": getattr(self.layout_engine, "description", "?"),
                   "render": getattr(self.render_engine, "description", "?")}
        from ..export import checkpoint_hashes

        hashes = checkpoint_hashes() if getattr(self.render_engine, "name", "") == "smile" else {}
        try:
            written = export_bundle(self.doc, image, folder, engines, hashes)
        except OSError as exc:
            self.notify(f"Export failed: {exc.strerror or exc}", error=True)
            return []
        self.notify(f"Exported {len(written)} files to {folder}.")
        return written

    def export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export bundle to folder")
        if folder:
            self.export_to(folder)

    def autosave(self) -> bool:
        if self.doc is None or not self.modified:
            return False
        try:
            return self.autosaver.save(self.doc)
        except ProjectError as exc:
            self.notify(f"Autosave failed: {exc}. Save your work elsewhere (File > Save project as).", error=True)
            return False

    def recent_files(self) -> list[str]:
        """The remembered paths, newest first. QSettings' INI format gives back a list of one as a plain string
        (iterating it gave one-character entries)."""
        value = self.settings.value("recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(p) for p in items if isinstance(p, str) and p][:10]

    def _remember(self, path: Path) -> None:
        recent = [p for p in self.recent_files() if p != str(path)]
        recent.insert(0, str(path))
        self.settings.setValue("recent", recent[:10])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_files():
            self._action(self.recent_menu, p, None, lambda p=p: self.open_in_background(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def ask_save(self) -> QMessageBox.StandardButton:
        return QMessageBox.question(
            self, TITLE, "Save your changes before closing?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel)

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document."""
        if not self.modified:
            return True
        answer = self.ask_save()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def closeEvent(self, event) -> None:  # noqa: N802
        if not self.maybe_save():
            event.ignore()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.sync()
        self.autosave_timer.stop()
        self.worker.stop()
        self.autosaver.clear()
        event.accept()


