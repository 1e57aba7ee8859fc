"""The window's engines: which run (the banner and the status line say so), loading better ones in the background,
and engines on another machine (File > Connect to server…: ``smile-studio serve``). When a server goes away
mid-session, the local engines take over with a message, and File > Connect to server… reconnects. A mixin of
:class:`~.window.MainWindow` (whose fields it uses are declared there)."""

from __future__ import annotations

import html
import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLineEdit

from ..engines.base import OFFLINE_INFO, PreparesFaces
from .pool import PoolTask
from .scheduler import FINAL


class EngineActions:
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
        self._prepare_after_render = True  # new engines know nothing of the open face yet
        first = self.request_render(FINAL)
        if first is not None:
            self._engines_from = first  # a failure of an earlier request was the old engines'


    def _show_engines(self, loading: bool = False) -> None:
        note, render = self.engine_note, self.render_engine
        self.status_render.setText(self.render_note())
        info = render.info if render is not None else OFFLINE_INFO
        hint = ""
        if loading:
            hint = " Loading the SMILE networks…"
        elif not info.official_weights:
            hint = " To use SMILE, run `smile-studio weights fetch` or open File > Weights…"
        link = ""
        if not info.official_weights and not loading:
            link = ' <a href="weights" style="color:#9fd0ff">Get the SMILE weights…</a>'
        self.banner.setText(f"Engine: {html.escape(note)}.{html.escape(hint)}{link}")
        previews = f" · previews: {info.preview_precision}" if info.preview_precision else ""
        self.status_engine.setText(f"engine: {info.label} · device: {info.device}{previews}")

    @property
    def engines_loading(self) -> bool:
        return self._engine_task is not None

    def load_engines_in_background(self, load, what: str = "The SMILE engines") -> None:
        """Reading the official weights takes seconds: ``load`` (returning layout, render, note) runs on a worker
        while the window keeps working with the engines it has; a failure is a message (``what`` could not be
        loaded) and keeps those."""
        task = PoolTask(load, what)
        task.signals.done.connect(lambda result, task=task: self._engines_loaded(result, task),
                                  Qt.ConnectionType.QueuedConnection)
        self._engine_task = task
        self.pool.start(task)

    def _engines_loaded(self, result, task: PoolTask) -> None:
        if task is not self._engine_task:
            return  # a load the user has since replaced (connected elsewhere, or lost the server again)
        self._engine_task = None
        if isinstance(result, Exception):
            self._show_engines()  # no longer "loading"; the engines and the picture stay as they are
            self.notify(f"{task.what} could not be loaded ({type(result).__name__}: {result}); "
                        "staying on the current engines.", error=True)
            return
        self.set_engines(*result)
        if result[1].info.remote:
            self.notify(f"Now rendering with {result[1].info.label} ({result[1].info.device}).")
        elif result[1].info.official_weights:
            self.notify("Now rendering with the SMILE networks.")

    def reload_engines(self) -> None:
        """New weights are installed: choose the engines again, in the background (no restart)."""
        from ..engines.registry import select_engines
        from ..resources import sample_exemplar

        self._show_engines(loading=True)
        self.load_engines_in_background(lambda: select_engines("auto", exemplar=sample_exemplar()))

    def _prepare_edits(self) -> None:
        """Once a face just opened is on screen: the layout engine computes ahead what its edits need (the
        first toggle then costs what a second one does), on the engine thread, after that first render."""
        self._prepare_after_render = False
        doc, engine = self.doc, self.layout_engine
        if doc is None or not isinstance(engine, PreparesFaces):
            return
        labels, photo, attributes = doc.labels.copy(), doc.photo, dict(doc.attributes)
        self.worker.submit(lambda engines: engines.layout.prepare(labels, photo, attributes)
                           if engines.layout is engine else None)

    # -- a server's engines --------------------------------------------------------------------------------------
    def connect_dialog(self) -> None:
        """File > Connect to server…: its address (remembered) and token (or $SMILE_STUDIO_TOKEN)."""
        dialog = ServerDialog(self, str(self.settings.value("server/url", "") or ""))
        self._server_dialog = dialog
        if dialog.exec() == QDialog.DialogCode.Accepted:
            token = dialog.token.text().strip() or os.environ.get("SMILE_STUDIO_TOKEN") or None
            self.connect_server(dialog.url.text().strip(), token)

    def connect_server(self, url: str, token: str | None = None) -> None:
        """Use the engines of ``smile-studio serve`` at ``url``, connected in the background; a server that
        cannot be reached or refuses the token is a message, and the engines in use stay."""
        from ..engines.remote import remote_engines

        if not url:
            return
        self.settings.setValue("server/url", url)
        self.notify(f"Connecting to {url}…")
        self.load_engines_in_background(lambda: remote_engines(url, token), f"The engines of {url}")

    def server_lost(self, error: str) -> None:
        """The server stopped answering: this machine's engines take over (the offline ones at once, SMILE behind
        them when installed), and the last render is done again on them."""
        from ..engines.registry import offline_engines, smile_available
        from ..resources import sample_exemplar

        self.set_engines(*offline_engines(sample_exemplar()), "offline default (the server went away)",
                         loading=smile_available())
        self.notify(f"The server stopped answering ({error}); working on this machine's engines. "
                    "File > Connect to server… connects again.", error=True)
        if smile_available():
            self.reload_engines()


class ServerDialog(QDialog):
    """The server's address and token."""

    def __init__(self, parent, url: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Connect to server")
        form = QFormLayout(self)
        self.url = QLineEdit(url)
        self.url.setObjectName("serverUrl")
        self.url.setPlaceholderText("http://gpu-box:8470")
        self.token = QLineEdit()
        self.token.setObjectName("serverToken")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("the server's token (empty: $SMILE_STUDIO_TOKEN, or none on 127.0.0.1)")
        form.addRow("Server", self.url)
        form.addRow("Token", self.token)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
