"""View > Result at full size: the edit put back into the user's photo, shown at 100 % with a before/after
toggle, so that it is judged where it will be used — at the photo's own resolution, not the render's 256 px.

The window composites on Qt's thread pool (a 12-Mpx photo takes about a second) from the final render, the
same way the export bundle's photo_edited.png is made; the status bar says at which size the networks render
and how much the photo is larger.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout

from ..core.document import Document
from ..engines.base import EngineError, RenderRequest, for_the_photo, photo_render_side
from ..export import restyled_classes
from ..weights.registry import CHECKPOINT_BY_KEY, ENHANCE_KEYS, installed_enhancers
from .canvas import rgb_to_qimage
from .pool import PoolTask


def compositing_note(doc: Document, engine=None, enhance: str | None = None) -> str:
    """One line for the status bar and the result window: the size the render ``engine`` draws this face at
    for the photo, the photo's size, how they are joined and the network that upsamples the render (the key
    ``enhance``) when the face is large enough for it to run."""
    from ..face.align import alignment_at_side, photo_scale
    from ..face.upscale import UPSCALE_MIN, worth_enhancing

    large = engine.large_side if engine is not None else None
    side = photo_render_side(large, doc.size, doc.alignment if doc.original is not None else None)
    render = f"render {side} px" + (" (SMILE_SYN 512)" if side != doc.size else "")
    if doc.original is None or doc.alignment is None:
        return f"{render} (no original photo to put it back into)"
    h, w = doc.original.shape[:2]
    scale = photo_scale(alignment_at_side(doc.alignment, doc.size, side))
    how = "composited at full resolution" if scale >= UPSCALE_MIN else "pasted back (face no larger than render)"
    if enhance is not None and worth_enhancing(doc.alignment, doc.size, side):
        how += f" · Enhance: {CHECKPOINT_BY_KEY[enhance].network}"
    return f"{render} · photo {w}×{h} (face ×{scale:.1f}) · {how}"


class ResultWindow(QDialog):
    """The pasted result at 100 % in a scroll area; *Before* (or B) shows the photo as it was; *Enhance* picks
    the network that upsamples the render first (installed ones only; the others say how to install them)."""

    def __init__(self, parent=None, enhance: str | None = None):
        super().__init__(parent)
        self.setObjectName("resultWindow")
        self.setWindowTitle("Result at full size")
        self.resize(900, 700)
        self.info = QLabel("compositing…")
        self.before_box = QCheckBox("Before (B)")
        self.before_box.toggled.connect(lambda _=False: self._show())
        QShortcut(QKeySequence("B"), self, self.before_box.toggle)
        self.image = QLabel()
        self.image.setObjectName("resultImage")
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.image)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.enhance_box = QComboBox()
        self.enhance_box.setObjectName("enhanceBox")
        self.enhance_box.addItem("Enhance: off", None)
        installed = installed_enhancers()
        for key in ENHANCE_KEYS:
            c = CHECKPOINT_BY_KEY[key]
            self.enhance_box.addItem(f"Enhance: {c.network}", key)
            item = self.enhance_box.model().item(self.enhance_box.count() - 1)
            item.setToolTip(f"{c.enables}. {c.licence}" if key in installed else
                            f"not installed: smile-studio weights fetch --enhance {key}")
            item.setEnabled(key in installed)
        self.enhance_box.setCurrentIndex(max(self.enhance_box.findData(enhance), 0))
        top = QHBoxLayout()
        top.addWidget(self.info, 1)
        top.addWidget(self.enhance_box)
        top.addWidget(self.before_box)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.scroll, 1)
        self.photo: np.ndarray | None = None
        self.result: np.ndarray | None = None
        self.pending: tuple[int, np.ndarray, str] | None = None
        self.serial = 0
        self.tasks: dict[int, object] = {}  # the pool tasks of the requests not answered yet (kept alive)

    def set_images(self, photo: np.ndarray, result: np.ndarray, note: str, focus: tuple[int, int]) -> None:
        """Show ``result`` (and ``photo`` under *Before*) pixel for pixel, scrolled to ``focus`` (x, y)."""
        self.photo, self.result = photo, result
        self.info.setText(note)
        self._show()
        self.scroll.ensureVisible(int(focus[0]), int(focus[1]), self.scroll.width() // 2,
                                  self.scroll.height() // 2)

    def expect(self, photo: np.ndarray, note: str) -> int:
        """A composite of ``photo`` is on its way; the serial number :meth:`composited` will want with it (an
        older request that finishes later is dropped)."""
        self.serial += 1
        self.pending = self.serial, photo, note
        self.info.setText("compositing…")
        return self.serial

    def composited(self, answer) -> None:
        """(serial, the composite or the exception that stopped it, focus) from the thread pool."""
        if isinstance(answer, Exception):  # a failure the task did not foresee
            answer = self.pending[0] if self.pending else 0, answer, None
        serial, out, focus = answer
        self.tasks.pop(serial, None)
        if self.pending is None or serial != self.pending[0]:
            return  # a newer request is on its way
        if isinstance(out, Exception):
            self.result = None
            self.image.clear()
            self.info.setText(f"compositing failed: {out}")
            return
        _, photo, note = self.pending
        self.set_images(photo, out, note, focus)

    def shown_image(self) -> np.ndarray | None:
        return self.photo if self.before_box.isChecked() else self.result

    def _show(self) -> None:
        img = self.shown_image()
        if img is None:
            return
        self.image.setPixmap(QPixmap.fromImage(rgb_to_qimage(img)))
        self.image.resize(img.shape[1], img.shape[0])


class FullSizeResult:
    """A mixin of :class:`~.window.MainWindow`: the View menu's full-size result, the render-size line and the
    Enhance choice (kept in the settings; exports use it too)."""

    @property
    def enhance_key(self) -> str | None:
        """The chosen Enhance network, when it is still installed."""
        key = self.settings.value("render/enhance", "") or None
        return key if key in installed_enhancers() else None

    def set_enhance(self, key: str | None) -> None:
        self.settings.setValue("render/enhance", key or "")
        self.status_render.setText(self.render_note())
        if self.result_window is not None and self.result_window.isVisible():
            self.show_full_size()

    def render_note(self) -> str:
        return compositing_note(self.doc, self.render_engine, self.enhance_key) if self.doc is not None else ""

    def enhancer(self):
        """The loaded Enhance network, or None (none chosen, or its file is gone or no longer loads: said once,
        and the choice is cleared, in the settings and the result window's list, so that results still come
        out and say what they are)."""
        from ..engines.enhance import shared_enhancer  # torch: not at start-up

        chosen = self.settings.value("render/enhance", "") or None
        if chosen is None:
            return None
        try:
            if chosen not in installed_enhancers():
                raise EngineError(f"the Enhance file {CHECKPOINT_BY_KEY[chosen].filename} is no longer installed"
                                  if chosen in CHECKPOINT_BY_KEY else f"no Enhance network {chosen!r}")
            return shared_enhancer(chosen)
        except EngineError as exc:
            self.notify(f"{exc}; results are composited without it", error=True)
            self.settings.setValue("render/enhance", "")
            if self.result_window is not None:
                box = self.result_window.enhance_box
                box.blockSignals(True)
                box.setCurrentIndex(0)
                box.blockSignals(False)
            self.status_render.setText(self.render_note())
            return None

    def show_full_size(self) -> None:
        doc = self.doc
        if doc is None:
            return
        if doc.original is None or doc.alignment is None:
            self.notify("This document has no original photo: the render itself is the result.")
            return
        req = for_the_photo(RenderRequest.from_snapshot(doc.snapshot(), exact=True), self.render_engine,
                            doc.original, doc.alignment)
        try:  # the exact render, as the export bundle makes it
            render = self.worker.call(lambda engines: engines.render.render(req))
        except (EngineError, RuntimeError, MemoryError) as exc:
            self.notify(f"The result could not be rendered ({exc})", error=True)
            return
        if self.result_window is None:
            self.result_window = ResultWindow(self, self.enhance_key)
            self.result_window.enhance_box.currentIndexChanged.connect(
                lambda i: self.set_enhance(self.result_window.enhance_box.itemData(i)))
        window = self.result_window
        enhancer = self.enhancer()
        window.show()
        window.raise_()
        original, alignment, source, labels = doc.original, doc.alignment, doc.source_labels, req.labels
        restyled = restyled_classes(req.styles)
        serial = window.expect(original, self.render_note())

        def composite():
            from ..face.composite import paste_edit

            try:
                out = paste_edit(original, render, alignment, source, labels, restyled, enhance=enhancer)
            except (ValueError, MemoryError, RuntimeError) as exc:
                return serial, exc, None
            changed = np.argwhere((out != original).any(-1))
            focus = changed.mean(0)[::-1] if changed.size else (original.shape[1] / 2, original.shape[0] / 2)
            return serial, out, focus

        task = PoolTask(composite)
        task.signals.done.connect(window.composited, Qt.ConnectionType.QueuedConnection)
        window.tasks[serial] = task
        self.pool.start(task)
