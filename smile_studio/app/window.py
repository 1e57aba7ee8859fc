"""The main window: wires canvas, panels and the render worker to the document through commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSettings, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..core.document import Document, StyleSource
from ..core.editor import EditorState, Stroke
from ..core.labelio import colorize
from ..engines.base import RenderRequest
from .canvas import FileDropMixin, MapCanvas
from .config import TITLE, data_dir, settings_file
from .engine_actions import EngineActions, ServerDialog
from .files import FileActions
from .menus import MenusAndToolbar
from .messages import DocumentMessages
from .painting import PaintingActions
from .panels import AttributePanel, PalettePanel, StylePanel
from .pool import PoolTask
from .preview import PreviewPane
from .proposals import ProposalActions
from .recovery import Autosaver
from .references import ReferenceActions
from .result_view import FullSizeResult, ResultWindow
from .scheduler import FINAL, PREVIEW, JobResult
from .worker import RenderWorker

if TYPE_CHECKING:  # opened on demand (File > Weights…)
    from .weights_dialog import WeightsDialog


class MainWindow(FileActions, ReferenceActions, ProposalActions, EngineActions, PaintingActions, MenusAndToolbar,
                 DocumentMessages, FullSizeResult, FileDropMixin, QMainWindow):
    """Builds the window and wires canvas, panels and the engine worker to the document through commands; the
    file, reference, proposal and menu actions live in their own modules (the mixins)."""

    rendered = Signal(object)  # JobResult shown (for tests and benchmarks)
    filesDropped = Signal(list)

    # -- every field the window holds, its mixins' included (a test holds this list complete) -----------------
    # the document and its file
    doc: Document | None
    project_path: Path | None
    saved_version: int | None  # the document version last saved
    _opened_attributes: dict  # the attributes the face was opened with (what a saved recipe compares with)
    _opened_photo: Path | None  # the photo of a document with several faces (Edit > Next face reopens it)
    _no_face: Path | None  # a photo where no face was found (Place eyes… opens it with the user's eyes)
    _recoverable: Path | None  # an orphaned autosave found at start-up (the Recover button opens it)
    _pending_open: tuple[int, Path] | None  # the newest background open, by serial
    _open_serial: int
    _open_tasks: dict[int, PoolTask]
    autosaver: Autosaver
    autosave_timer: QTimer
    settings: QSettings
    # editing
    editor: EditorState
    _stroke: Stroke | None  # the drag under way
    stroke_latencies: list[float]  # seconds per stroke segment (benchmarks)
    proposal: tuple | None  # (LayoutResult, chosen variation) shown, not yet accepted
    accepted_seed: int | None  # the seed of the last accepted attribute edit (a recipe repeats it)
    _accepted_version: int | None  # the document version the last accepted edit made
    _message_for: tuple[Document | None, int | None]  # what the shown message is about (see DocumentMessages)
    # rendering and the engines
    worker: RenderWorker
    pool: QThreadPool
    engine_note: str
    _engine_task: PoolTask | None  # better engines loading in the background
    _prepare_after_render: bool
    _shown_id: int  # the newest render shown (older results are stale)
    _engines_from: int  # the first request of the engines in use (failures before it were the old engines')
    last_result: JobResult | None
    idle: QTimer  # the final render after a stroke
    # widgets: the central area, docks, status bar, tool bar (menus.py) and menus
    canvas: MapCanvas
    preview: PreviewPane
    split: QSlider  # before / after
    banner: QLabel
    message: QLabel
    recover_button: QPushButton
    place_eyes_button: QPushButton
    palette: PalettePanel
    attributes: AttributePanel
    styles: StylePanel
    status_engine: QLabel
    status_latency: QLabel
    status_cursor: QLabel
    status_render: QLabel
    tool_actions: dict[str, QAction]
    size_spin: QSpinBox
    opacity: QSlider
    view_mode: QComboBox
    contiguous: QCheckBox
    mirror_paint: QCheckBox
    recent_menu: QMenu
    undo_action: QAction
    redo_action: QAction
    islands_action: QAction
    result_window: ResultWindow | None  # View > Result at full size
    shortcuts_dialog: QDialog | None  # Help > Keyboard shortcuts
    _weights_dialog: WeightsDialog | None  # File > Weights…
    _server_dialog: ServerDialog | None  # File > Connect to server…

    def __init__(self, layout_engine=None, render_engine=None, engine_note: str | None = None,
                 autosave_ms: int = 20000):
        super().__init__()
        self.setWindowTitle(f"{TITLE} {__version__}")
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.settings = QSettings(str(settings_file()), QSettings.Format.IniFormat)
        self.engine_note = engine_note or ""
        self.doc = self.project_path = self.saved_version = None
        self._opened_attributes = {}
        self._opened_photo = self._no_face = self._recoverable = self._pending_open = None
        self._open_serial = 0
        self._open_tasks = {}
        self.editor = EditorState()  # class, tool, brush, fill and mirror modes, protection: the widgets bind to it
        self._stroke = self.proposal = self.accepted_seed = self._accepted_version = None
        self.stroke_latencies = []
        self._message_for = (None, None)
        self._engine_task = self.last_result = None
        self._prepare_after_render = False
        self._shown_id = self._engines_from = 0
        self.result_window = self.shortcuts_dialog = self._weights_dialog = self._server_dialog = None
        self._build_ui()
        # the worker owns the engines (they keep caches and are not re-entrant): renders, proposals, thumbnails
        # and exports all run on its thread
        self.worker = RenderWorker()
        self.worker.set_engines(layout_engine, render_engine)
        self.worker.result.connect(self._on_render, Qt.ConnectionType.QueuedConnection)
        self.worker.start()
        self.idle = QTimer(self, singleShot=True, interval=120)
        self.idle.timeout.connect(lambda: self.request_render(FINAL))
        self.autosaver = Autosaver(data_dir() / "autosave")
        self.autosave_timer = QTimer(self, interval=autosave_ms)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.pool = QThreadPool.globalInstance()
        geom = self.settings.value("geometry")
        if geom is not None:
            self.restoreGeometry(geom)
        else:
            self.resize(1280, 800)

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
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.linkActivated.connect(lambda _link: self.weights_dialog())
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
        self.status_render = QLabel("")  # render size, photo size, how they are joined
        for w in (self.status_cursor, self.status_render, self.status_latency, self.status_engine):
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

    def _wire(self) -> None:
        c = self.canvas
        c.strokeBegan.connect(self._stroke_begin)
        c.strokeMoved.connect(self._stroke_move)
        c.strokeEnded.connect(self._stroke_end)
        e = self.editor
        c.fillRequested.connect(lambda p: self._command(
            lambda d: d.fill(p.x(), p.y(), e.current_class, e.contiguous, e.paintable)))
        c.polygonFinished.connect(lambda pts: self._command(lambda d: d.polygon(pts, e.current_class, e.paintable)))
        c.picked.connect(self._pick)
        c.cursorMoved.connect(self._cursor)
        c.filesDropped.connect(lambda paths: self.open_in_background(paths[0]))
        c.viewChanged.connect(lambda rect: self.preview.set_view(rect, self.doc.size if self.doc else 256))
        self.palette.classChosen.connect(e.set_class)
        self.palette.protectionChanged.connect(e.set_paintable)
        e.subscribe(self._editor_changed)
        for name in ("tool", "brush_size", "contiguous", "mirror", "paintable"):  # the widgets start from it
            self._editor_changed(name)
        self.canvas.selected_class = e.current_class
        self.palette.set_current(e.current_class)
        self.attributes.proposeRequested.connect(self.propose)
        self.attributes.accepted.connect(self.accept_proposal)
        self.attributes.rejected.connect(self.reject_proposal)
        self.attributes.variationChosen.connect(self._choose_variation)
        self.attributes.stateCorrected.connect(self.correct_attributes)
        self.styles.styleChanged.connect(self.set_style)
        self.styles.referencesDropped.connect(self.add_references)
        self.styles.addReferenceRequested.connect(self.add_reference_dialog)
        self.recover_button.clicked.connect(self._recover)
        self.place_eyes_button.clicked.connect(self.place_eyes)
        self.filesDropped.connect(lambda paths: self.open_in_background(paths[0]))

    def show_shortcuts(self) -> None:
        from .help import show_shortcuts

        self.shortcuts_dialog = show_shortcuts(self)

    def set_document(self, doc: Document, path: Path | None = None) -> None:
        self.place_eyes_button.setVisible(False)
        self.doc = doc
        self._opened_attributes = dict(doc.attributes)  # what a saved recipe compares with
        self.project_path = path
        self.proposal = None
        self.attributes.set_proposal_active(False)
        doc.subscribe(self._doc_changed)
        self.saved_version = doc.version
        self.accepted_seed = None
        self._expire_messages()
        self.canvas.set_photo(doc.photo, doc.size)
        self.canvas.set_labels(doc.labels)
        self.preview.set_before(doc.photo if doc.photo is not None else colorize(doc.source_labels))
        self.canvas.fit()
        self.status_render.setText(self.render_note())
        self._refresh_panels()
        self._update_title()
        self._prepare_after_render = True
        self.request_render(FINAL)

    def _doc_changed(self, kind: str) -> None:
        self._expire_messages()
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

    def undo(self) -> None:
        if self.doc is not None and self.doc.undo():
            self._refresh_panels()
            self.request_render(FINAL)

    def redo(self) -> None:
        if self.doc is not None and self.doc.redo():
            self._refresh_panels()
            self.request_render(FINAL)

    def correct_attributes(self, attributes: dict) -> None:
        """A wrong detection corrected by the user: the face's attributes change, the map does not (one undo
        step); the next proposal starts from the corrected state."""
        if self.doc is not None and self.doc.set_attributes(attributes):
            self._refresh_panels()
            self.notify("Attributes corrected (the map is unchanged); Ctrl+Z undoes it.")

    def set_style(self, cid: int, source: StyleSource) -> None:
        if self.doc is not None:
            self.doc.set_style(cid, source)
            self._refresh_panels()
            self.request_render(FINAL)

    def request_render(self, kind: str = FINAL) -> int | None:
        if self.doc is None or self.render_engine is None:
            return None
        snap = self.doc.snapshot()  # already an immutable copy: no second copy of the map per request
        labels = None if self.proposal is None else self.proposal[0].maps[self.proposal[1]]
        # while stroking the engine may answer approximately (it renders exactly once the stroke ends)
        req = RenderRequest.from_snapshot(snap, labels, stroke=kind == PREVIEW)
        self.preview.set_state("rendering (preview)…" if kind == PREVIEW else "rendering…")
        return self.worker.post(req, kind)

    def _on_render(self, res: JobResult) -> None:
        if res.id < self._shown_id:
            return  # stale
        if res.error:
            if res.id < self._engines_from:
                return  # the engines that failed are gone already
            self.preview.set_state("render failed")
            if res.unreachable:
                self.server_lost(res.error)  # the local engines take over, and render again
            else:
                self.notify(f"Rendering failed: {res.error}", error=True)
            return
        self._shown_id = res.id
        self.last_result = res
        stale = self.worker.mailbox.is_stale(res.id)
        state = "preview" if res.kind == PREVIEW else ("final" if not stale else "final (newer edit pending)")
        self.preview.set_after(res.value, state, res.latency * 1000)
        if res.kind == FINAL and self._prepare_after_render:
            self._prepare_edits()
        self.status_latency.setText(f"render {res.seconds * 1000:.0f} ms · latency {res.latency * 1000:.0f} ms")
        self.rendered.emit(res)

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
