"""File > Weights…: what is installed, and the one click to the SMILE networks. Fetching runs on a worker thread
with a progress bar and Cancel; when a fetch or an import completes, the window switches to the SMILE engines
without a restart (through the window's background engine loading)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QThread, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ..weights import CHECKPOINTS, display_path, install_dir, smile_ready, state_of
from ..weights.registry import OFFICIAL_ARCHIVE_SOURCES


class _FetchThread(QThread):
    progressed = Signal(object)  # weights.fetch.Progress
    finished_with = Signal(object)  # ImportReport, or the exception

    def __init__(self, job: Callable, parent: QObject | None = None):
        super().__init__(parent)
        self.job, self.cancel = job, threading.Event()

    def run(self) -> None:
        try:
            out = self.job(self.progressed.emit, self.cancel)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            out = exc
        self.finished_with.emit(out)


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


class WeightsDialog(QDialog):
    """Status table, Fetch (progress, Cancel), Import…, Open folder. ``on_installed`` runs when new files are in
    (the window reloads its engines)."""

    def __init__(self, parent=None, on_installed: Callable[[], None] | None = None,
                 sources: Sequence[str] = OFFICIAL_ARCHIVE_SOURCES, folders: tuple[Callable, Callable] | None = None):
        """``folders``: (where file dialogs start, remember a folder used) — the window's, so that *Import…*
        starts where the user last was."""
        super().__init__(parent)
        self.setObjectName("weightsDialog")
        self.setWindowTitle("Weights")
        self.on_installed, self.sources = on_installed, tuple(sources)
        self.folders = folders
        self.thread: _FetchThread | None = None
        lay = QVBoxLayout(self)
        self.where = QLabel()
        lay.addWidget(self.where)
        self.table = QTableWidget(len(CHECKPOINTS), 3)
        self.table.setObjectName("weightsTable")
        self.table.setHorizontalHeaderLabels(["file", "state", "enables"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(self.table, 1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        lay.addWidget(self.progress)
        self.message = QLabel()
        self.message.setWordWrap(True)
        lay.addWidget(self.message)
        row = QHBoxLayout()
        self.fetch_button = QPushButton("Fetch the official weights")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.import_button = QPushButton("Import…")
        self.open_button = QPushButton("Open folder")
        close = QPushButton("Close")
        for b in (self.fetch_button, self.cancel_button, self.import_button, self.open_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(close)
        lay.addLayout(row)
        self.fetch_button.clicked.connect(self.fetch)
        self.cancel_button.clicked.connect(self.cancel)
        self.import_button.clicked.connect(self.import_dialog)
        self.open_button.clicked.connect(self.open_folder)
        close.clicked.connect(self.close)
        self.resize(940, 480)
        self.refresh()

    def refresh(self) -> None:
        states = [state_of(c) for c in CHECKPOINTS]
        self.where.setText(f"Weights folder: {display_path(install_dir())}")
        for i, (c, st) in enumerate(zip(CHECKPOINTS, states, strict=True)):
            for j, text in enumerate((c.filename, st.state, c.enables)):
                item = QTableWidgetItem(text)
                item.setToolTip(st.detail or c.licence)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self.summary.setText("SMILE engines: ready." if smile_ready(states) else
                             "SMILE engines: not ready; the offline engines run. Fetch the official weights "
                             "(about 450 MB) or import an archive you have.")

    # -- fetch ---------------------------------------------------------------------------------------------
    def fetch(self) -> None:
        from ..weights.fetch import fetch_official

        sources = self.sources
        job = lambda progress, cancel: fetch_official(sources, progress=progress, cancel=cancel,  # noqa: E731
                                                      log=lambda s: None)
        self._start(job, "Fetching…")

    def _start(self, job: Callable, text: str) -> None:
        self.thread = _FetchThread(job, self)
        self.thread.progressed.connect(self._progressed)
        self.thread.finished_with.connect(self._finished)
        self.fetch_button.setEnabled(False)
        self.import_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.message.setText(text)
        self.thread.start()

    def _progressed(self, p) -> None:
        if p.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * p.done / p.total))
        eta = f", {p.eta:.0f} s left" if p.eta is not None else ""
        total = f" of {_mb(p.total)}" if p.total else ""
        self.message.setText(f"{p.name}: {_mb(p.done)}{total} at {_mb(p.speed)}/s{eta}")

    def cancel(self) -> None:
        if self.thread is not None:
            self.thread.cancel.set()
            self.message.setText("Cancelling…")

    def _finished(self, result) -> None:
        from ..weights.fetch import Cancelled

        if self.thread is not None:
            self.thread.wait(2000)
        self.thread = None
        self.fetch_button.setEnabled(True)
        self.import_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        if isinstance(result, Cancelled):
            self.message.setText(f"Cancelled. {result}")
        elif isinstance(result, Exception):
            self.message.setText(f"Failed: {result}")
        else:
            self._installed(result)
        self.refresh()

    def _installed(self, report) -> None:
        names = ", ".join(p.name for p in report.installed.values()) or "nothing new"
        self.message.setText(f"Installed: {names}.")
        if report.installed and self.on_installed is not None:
            self.on_installed()

    # -- import, folder ------------------------------------------------------------------------------------
    def import_dialog(self) -> None:
        start = self.folders[0]() if self.folders is not None else ""
        path, _ = QFileDialog.getOpenFileName(self, "Import weights (an archive or a weight file)", start,
                                              "Archives and weights (*.zip *.tar *.tar.gz *.pth *.pt *.ckpt)")
        if path:
            if self.folders is not None:
                self.folders[1](path)
            self.import_path(path)

    def import_path(self, path: str) -> None:
        from ..weights.archive import import_path

        self._start(lambda progress, cancel: import_path(path), f"Importing {path}…")

    def open_folder(self) -> bool:
        folder = install_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.cancel()
        if self.thread is not None:
            self.thread.wait(5000)
        super().closeEvent(event)
