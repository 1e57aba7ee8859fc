"""Side panels: class palette, attribute toggles, per-region styles with the reference shelf, and the preview.

Each panel shows state it is given and emits what the user asked for; none of them edits the document."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.document import Reference, StyleSource
from ..core.labelio import colorize
from ..core.labels import ATTRIBUTES, CLASSES
from .canvas import FileDropMixin, rgb_to_qimage, swatch
from .config import THUMB


class PalettePanel(QWidget):
    """The 19 classes from the one schema: colour, name, hotkey; a 'paint over' column for class protection."""

    classChosen = Signal(int)
    protectionChanged = Signal(object)  # boolean array (19,) of classes that may be painted over, or None

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget()
        self.list.setObjectName("paletteList")
        for c in CLASSES:
            # the key is what the command line, settings JSON and projects call the class (shown where it differs)
            key = "" if c.key == c.name.lower().replace(" ", "_") else f" ({c.key})"
            item = QListWidgetItem(QIcon(swatch(c.color)), f"{c.name}{key}   [{c.hotkey}]")
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setToolTip(f"{c.key}: class {c.id}. Untick to protect it from painting.")
            self.list.addItem(item)
        self.list.currentRowChanged.connect(lambda r: self.classChosen.emit(r) if r >= 0 else None)
        self.list.itemChanged.connect(self._protection)
        lay.addWidget(QLabel("Classes (tick = may be painted over)"))
        lay.addWidget(self.list)
        self.list.setCurrentRow(1)

    def set_current(self, cid: int) -> None:
        if self.list.currentRow() != cid:
            self.list.setCurrentRow(cid)

    def _protection(self, _item=None) -> None:
        table = np.array([self.list.item(i).checkState() == Qt.CheckState.Checked for i in range(len(CLASSES))])
        self.protectionChanged.emit(None if table.all() else table)


class AttributePanel(QWidget):
    """Six toggles, latent (seed, psi) or reference mode, proposals with accept/reject and a variation grid."""

    proposeRequested = Signal(dict, int, float, int, bool)  # targets, seed, psi, variations, reference mode
    accepted = Signal()
    rejected = Signal()
    variationChosen = Signal(int)
    stateCorrected = Signal(dict)  # the ticked states are the face's real ones (a wrong detection), no edit

    def __init__(self, parent=None):
        super().__init__(parent)
        self._shown = None  # the LayoutResult whose variations the grid shows
        self._current: dict = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        grid = QGridLayout()
        self.toggles: dict[str, QCheckBox] = {}
        for i, a in enumerate(ATTRIBUTES):
            label = "Female" if a.key == "gender" else a.name
            cb = QCheckBox(label)
            cb.setObjectName(f"toggle_{a.key}")
            self.toggles[a.key] = cb
            cb.toggled.connect(lambda _=False: self._describe())
            grid.addWidget(cb, i // 2, i % 2)
        lay.addLayout(grid)
        # what the face is now (as detected, or as corrected) next to what the ticks ask for: a wrong detection
        # is visible, and can be corrected without editing the map
        self.state = QLabel("")
        self.state.setObjectName("attributeState")
        self.state.setWordWrap(True)
        self.state.setStyleSheet("color: gray;")
        lay.addWidget(self.state)
        self.correct = QPushButton("The ticks are right: correct the detection")
        self.correct.setObjectName("correctStateButton")
        self.correct.setToolTip("Take the ticked states as this face's current attributes without editing the map "
                                "(when the detection got gender, glasses, ... wrong)")
        self.correct.setVisible(False)
        self.correct.clicked.connect(lambda: self.stateCorrected.emit(self.targets()))
        lay.addWidget(self.correct)
        modes = QHBoxLayout()
        self.latent = QRadioButton("Latent")
        self.reference = QRadioButton("Reference")
        self.latent.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.latent)
        group.addButton(self.reference)
        modes.addWidget(self.latent)
        modes.addWidget(self.reference)
        lay.addLayout(modes)
        form = QFormLayout()
        seed_row = QHBoxLayout()
        self.prev_seed = QToolButton(text="<")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setObjectName("seedSpin")
        self.next_seed = QToolButton(text=">")
        self.prev_seed.clicked.connect(lambda: self.seed.setValue(max(0, self.seed.value() - 1)))
        self.next_seed.clicked.connect(lambda: self.seed.setValue(self.seed.value() + 1))
        for w in (self.prev_seed, self.seed, self.next_seed):
            seed_row.addWidget(w)
        form.addRow("Seed", seed_row)
        self.psi = QSlider(Qt.Orientation.Horizontal)
        self.psi.setRange(0, 100)
        self.psi.setValue(100)
        self.psi_label = QLabel("1.00")
        self.psi.valueChanged.connect(lambda v: self.psi_label.setText(f"{v / 100:.2f}"))
        psi_row = QHBoxLayout()
        psi_row.addWidget(self.psi)
        psi_row.addWidget(self.psi_label)
        form.addRow("psi", psi_row)
        self.variations = QSpinBox()
        self.variations.setRange(1, 8)
        self.variations.setValue(1)
        form.addRow("Variations", self.variations)
        lay.addLayout(form)
        self.propose = QPushButton("Propose edit")
        self.propose.setObjectName("proposeButton")
        self.propose.clicked.connect(self._propose)
        lay.addWidget(self.propose)
        self.grid = QListWidget()
        self.grid.setObjectName("variationGrid")
        self.grid.setViewMode(QListWidget.ViewMode.IconMode)
        self.grid.setIconSize(QSize(72, 72))
        self.grid.setFixedHeight(96)
        self.grid.currentRowChanged.connect(lambda r: self.variationChosen.emit(r) if r >= 0 else None)
        lay.addWidget(self.grid)
        row = QHBoxLayout()
        self.accept = QPushButton("Accept")
        self.accept.setObjectName("acceptButton")
        self.reject = QPushButton("Reject")
        self.reject.setObjectName("rejectButton")
        self.accept.clicked.connect(self.accepted)
        self.reject.clicked.connect(self.rejected)
        row.addWidget(self.accept)
        row.addWidget(self.reject)
        lay.addLayout(row)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        lay.addStretch(1)
        self.set_proposal_active(False)

    def show_state(self, attributes: dict) -> None:
        self._current = dict(attributes)
        for a in ATTRIBUTES:
            on = attributes[a.key] == ("female" if a.key == "gender" else "on")
            self.toggles[a.key].blockSignals(True)
            self.toggles[a.key].setChecked(on)
            self.toggles[a.key].blockSignals(False)
        self._describe()

    def _describe(self) -> None:
        if not self._current:
            return
        asked = {k: v for k, v in self.targets().items() if v != self._current.get(k)}
        now = ", ".join(f"{k} {v}" if k != "gender" else v for k, v in self._current.items())
        text = f"This face now: {now}."
        if asked:
            text += " You ask for: " + ", ".join(f"{k} {v}" if k != "gender" else v for k, v in asked.items()) + "."
        self.state.setText(text)
        self.correct.setVisible(bool(asked) and not getattr(self, "_proposing", False))

    def targets(self) -> dict:
        out = {}
        for a in ATTRIBUTES:
            on = self.toggles[a.key].isChecked()
            out[a.key] = ("female" if on else "male") if a.key == "gender" else ("on" if on else "off")
        return out

    def _propose(self) -> None:
        self.proposeRequested.emit(self.targets(), self.seed.value(), self.psi.value() / 100,
                                   self.variations.value(), self.reference.isChecked())

    def set_proposal_active(self, active: bool) -> None:
        self.accept.setEnabled(active)
        self.reject.setEnabled(active)
        self._proposing = active
        self._describe()
        if not active:
            self.grid.clear()
            self._shown = None

    def show_proposal(self, result, index: int, changes: np.ndarray) -> None:
        """A proposal's variations (their maps as thumbnails until rendered faces arrive), the chosen one's pixel
        summary per class, and its seed in the seed box (so that proposing again reproduces it)."""
        if self._shown is not result:
            self._shown = result
            thumbs = [cv2.resize(colorize(m), (THUMB, THUMB), interpolation=cv2.INTER_NEAREST) for m in result.maps]
            self._fill_grid(thumbs, result.seeds)
        self.grid.blockSignals(True)
        self.grid.setCurrentRow(index)
        self.grid.blockSignals(False)
        summary = ", ".join(f"{CLASSES[i].name} {v:+d}" for i, v in enumerate(changes) if v)
        self.info.setText(f"Proposal ({result.engine}), variation {index + 1} of {len(result.maps)}, "
                          f"seed {result.seeds[index]}: {summary or 'no pixel change'}"
                          + (f"\nNote: {'; '.join(result.notes)}" if result.notes else ""))
        self.seed.blockSignals(True)
        self.seed.setValue(int(result.seeds[index]))
        self.seed.blockSignals(False)

    def show_rendered_variations(self, faces: list[np.ndarray]) -> None:
        """The rendered faces replace the map thumbnails of the proposal shown (the choice is kept)."""
        if self._shown is not None and len(faces) == self.grid.count():
            for i, img in enumerate(faces):
                self.grid.item(i).setIcon(QIcon(QPixmap.fromImage(rgb_to_qimage(img))))

    def _fill_grid(self, thumbs: list[np.ndarray], seeds: tuple) -> None:
        self.grid.blockSignals(True)
        self.grid.clear()
        for img, seed in zip(thumbs, seeds, strict=True):
            self.grid.addItem(QListWidgetItem(QIcon(QPixmap.fromImage(rgb_to_qimage(img))), f"seed {seed}"))
        self.grid.blockSignals(False)


class StylePanel(QWidget):
    """One row per class present: source (photo / seed / reference), seed, lock, resample; the reference shelf."""

    styleChanged = Signal(int, object)  # class id, StyleSource
    referencesDropped = Signal(list)
    addReferenceRequested = Signal()
    restyleTargetsChanged = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        shelf_row = QHBoxLayout()
        shelf_row.addWidget(QLabel("Reference shelf (drop or paste photos)"), 1)
        self.add_reference = QPushButton("Add…")
        self.add_reference.setObjectName("addReferenceButton")
        self.add_reference.setToolTip("Add reference photos (Ctrl+R); Ctrl+Shift+V pastes one")
        self.add_reference.clicked.connect(self.addReferenceRequested)
        shelf_row.addWidget(self.add_reference)
        lay.addLayout(shelf_row)
        self.shelf = ReferenceShelf()
        self.shelf.filesDropped.connect(self.referencesDropped)
        lay.addWidget(self.shelf)
        targets = QHBoxLayout()
        targets.addWidget(QLabel("A new reference restyles:"))
        self.targets = QComboBox()
        self.targets.setObjectName("restyleTargets")
        self.targets.addItems(["hair", "hair + hat + eyeglasses", "every region", "nothing"])
        targets.addWidget(self.targets)
        lay.addLayout(targets)
        self.rows_widget = QWidget()
        self.rows = QGridLayout(self.rows_widget)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.scroll = QScrollArea()  # 19 rows do not fit a 768-px-high screen
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.rows_widget)
        header = QLabel("class · style source · seed · lock · resample")
        header.setStyleSheet("color: gray;")
        lay.addWidget(header)
        lay.addWidget(self.scroll, 1)
        self._present: tuple = ()
        self._styles: tuple = ()
        self._refs: tuple = ()
        self.combos: dict[int, QComboBox] = {}

    def restyle_classes(self) -> list[int]:
        choice = self.targets.currentIndex()
        if choice == 0:
            return [13]
        if choice == 1:
            return [13, 14, 3]
        if choice == 2:
            return list(range(len(CLASSES)))
        return []

    def show_styles(self, present: list[int], styles: tuple, references: tuple) -> None:
        if (tuple(present), styles, tuple(r.id for r in references)) == (self._present, self._styles, self._refs):
            return
        self._present, self._styles, self._refs = tuple(present), styles, tuple(r.id for r in references)
        while self.rows.count():
            w = self.rows.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.combos = {}
        for row, cid in enumerate(present):
            c = CLASSES[cid]
            s: StyleSource = styles[cid]
            combo = QComboBox()
            combo.setObjectName(f"style_{c.key}")
            combo.addItem("source photo", ("source", None))
            combo.addItem("random seed", ("seed", None))
            for r in references:
                combo.addItem(f"reference {r.name}", ("reference", r.id))
            idx = 0 if s.kind == "source" else 1 if s.kind == "seed" else next(
                (i for i in range(combo.count()) if combo.itemData(i) == ("reference", s.ref)), 0)
            combo.setCurrentIndex(idx)
            combo.setMaximumWidth(150)
            seed = QSpinBox()
            seed.setRange(0, 2**31 - 1)
            seed.setValue(s.seed)
            seed.setEnabled(s.kind == "seed")
            seed.setMaximumWidth(72)
            seed.setToolTip("seed of the random style")
            lock = QCheckBox()
            lock.setChecked(s.locked)
            lock.setToolTip("lock: references and resampling leave this region alone")
            again = QToolButton(text="\u21bb")
            again.setToolTip("resample: next random seed")
            again.setEnabled(not s.locked)

            def emit(_=None, cid=cid, combo=combo, seed=seed, lock=lock):
                kind, ref = combo.currentData()
                self.styleChanged.emit(cid, StyleSource(kind, seed.value(), ref, lock.isChecked()))

            combo.currentIndexChanged.connect(emit)
            seed.valueChanged.connect(emit)
            lock.toggled.connect(emit)
            again.clicked.connect(lambda _=False, cid=cid, seed=seed, lock=lock: self.styleChanged.emit(
                cid, StyleSource("seed", seed.value() + 1, None, lock.isChecked())))
            label = QLabel()
            label.setPixmap(swatch(c.color))
            self.rows.addWidget(label, row, 0)
            self.rows.addWidget(QLabel(c.name), row, 1)
            self.rows.addWidget(combo, row, 2)
            self.rows.addWidget(seed, row, 3)
            self.rows.addWidget(lock, row, 4)
            self.rows.addWidget(again, row, 5)
            self.combos[cid] = combo
        self.shelf.show_references(references)


class ReferenceShelf(FileDropMixin, QListWidget):
    filesDropped = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("referenceShelf")
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(64, 64))
        self.setFixedHeight(92)
        self.setAcceptDrops(True)
        self.setDragDropMode(QListWidget.DragDropMode.DropOnly)

    def show_references(self, refs: tuple[Reference, ...]) -> None:
        if [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())] == [r.id for r in refs]:
            return
        self.clear()
        for r in refs:
            item = QListWidgetItem(QIcon(QPixmap.fromImage(rgb_to_qimage(r.rgb))), r.name)
            item.setData(Qt.ItemDataRole.UserRole, r.id)
            self.addItem(item)



class PreviewPane(QWidget):
    """The rendered face with a before/after split, its state (pending/final) and the measured latency."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("previewPane")
        self.setMinimumSize(200, 200)
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.split = 0.0  # fraction of the width, at the right, showing "before" (the slider's Before end = 1)
        self.state = "no preview yet"
        self.latency_ms: float | None = None
        self.image: np.ndarray | None = None
        self.view_rect: QRectF | None = None  # the part of the image the canvas shows (image pixels); None = all
        self.image_size = 256

    def set_view(self, rect: QRectF | None, image_size: int) -> None:
        """Follow the canvas: show the same part of the image (synchronised zoom and pan)."""
        self.view_rect, self.image_size = rect, image_size
        self.update()

    def set_before(self, rgb: np.ndarray | None) -> None:
        self.before = rgb_to_qimage(rgb) if rgb is not None else None
        self.update()

    def set_after(self, rgb: np.ndarray, state: str, latency_ms: float | None) -> None:
        self.image = rgb
        self.after = rgb_to_qimage(rgb)
        self.state, self.latency_ms = state, latency_ms
        self.update()

    def set_state(self, state: str) -> None:
        self.state = state
        self.update()

    def set_split(self, value: float) -> None:
        self.split = float(np.clip(value, 0, 1))
        self.update()

    def source_rect(self) -> QRectF:
        """The shown part of the image, in image pixels."""
        full = QRectF(0, 0, self.image_size, self.image_size)
        r = self.view_rect.intersected(full) if self.view_rect is not None else full
        return r if r.width() > 1 and r.height() > 1 else full

    def target_rect(self) -> QRectF:
        src = self.source_rect()
        avail_w, avail_h = max(10, self.width()), max(10, self.height() - 22)
        scale = min(avail_w / src.width(), avail_h / src.height())
        w, h = src.width() * scale, src.height() * scale
        return QRectF((avail_w - w) / 2, (avail_h - h) / 2, w, h)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 44))
        r, src = self.target_rect(), self.source_rect()
        for img, frac in ((self.after, 1.0), (self.before, self.split)):
            if img is None or frac <= 0:
                continue
            k = img.width() / self.image_size  # the render may differ in size from the document
            skip = 1.0 - frac  # "before" covers the right part: the line follows the slider's handle
            part = QRectF((src.x() + src.width() * skip) * k, src.y() * k, src.width() * k * frac, src.height() * k)
            p.drawImage(QRectF(r.x() + r.width() * skip, r.y(), r.width() * frac, r.height()), img, part)
        if self.before is not None and self.split > 0:
            cut = r.left() + r.width() * (1.0 - self.split)
            p.setPen(QPen(QColor(255, 255, 255), 1))
            p.drawLine(QPointF(cut, r.top()), QPointF(cut, r.bottom()))
        p.setPen(QColor(230, 230, 230))
        lat = f" · {self.latency_ms:.0f} ms" if self.latency_ms is not None else ""
        p.drawText(4, self.height() - 6, f"{self.state}{lat}")
        p.end()
