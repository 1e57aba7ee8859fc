"""Side panels: class palette, attribute toggles, per-region styles with the reference shelf.

Each panel shows state it is given and emits what the user asked for; none of them edits the document."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
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

from ..core.document import Reference, StyleSource, carried_styles
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

    def show_protection(self, paintable: np.ndarray | None) -> None:
        """Tick the classes that may be painted over (``None``: all), without announcing it back."""
        self.list.blockSignals(True)
        try:
            for i in range(len(CLASSES)):
                on = paintable is None or bool(paintable[i])
                self.list.item(i).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        finally:
            self.list.blockSignals(False)

    def _protection(self, _item=None) -> None:
        table = np.array([self.list.item(i).checkState() == Qt.CheckState.Checked for i in range(len(CLASSES))])
        self.protectionChanged.emit(None if table.all() else table)


PSI_HELP = ("Truncation ψ of the random style: 0 gives the most typical shape for the attribute (safe, similar "
            "every time), 1 the full variety the network learned (bolder, sometimes odd). It only affects Latent "
            "edits.")


def _value_words(attribute, ticked: bool) -> str:
    """'female' / 'male', 'with eyeglasses' / 'without eyeglasses', 'bald' / 'not bald' for a toggle's tooltip."""
    if attribute.key == "gender":
        return "female" if ticked else "male"
    if attribute.key == "bald":
        return "bald" if ticked else "not bald"
    return f"{'with' if ticked else 'without'} {attribute.name.lower()}"


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
        self._proposal_seeds: tuple[int, ...] = ()  # the seeds of the proposal shown
        self._current: dict = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        grid = QGridLayout()
        self.toggles: dict[str, QCheckBox] = {}
        for i, a in enumerate(ATTRIBUTES):
            label = "Female" if a.key == "gender" else a.name
            cb = QCheckBox(label)
            cb.setObjectName(f"toggle_{a.key}")
            cb.setToolTip(f"Ticked: the face should be {_value_words(a, True)}; unticked: "
                          f"{_value_words(a, False)}. Change the ticks, then Propose edit.")
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
        self.correct = QPushButton("Fix detection: the face already looks like this")
        self.correct.setObjectName("correctStateButton")
        self.correct.setToolTip("Take the ticked states as this face's current attributes without editing the map "
                                "(when the detection got gender, glasses, ... wrong)")
        policy = self.correct.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # its room is kept: ticking never moves Propose edit under the cursor
        self.correct.setSizePolicy(policy)
        self.correct.setVisible(False)
        self.correct.clicked.connect(lambda: self.stateCorrected.emit(self.targets()))
        lay.addWidget(self.correct)
        modes = QHBoxLayout()
        self.latent = QRadioButton("Latent")
        self.latent.setToolTip("New shapes drawn at random (the seed picks them; psi how far from the typical one)")
        self.reference = QRadioButton("Reference")
        self.reference.setToolTip("Copy the shapes (hat, glasses, hair...) of the newest reference photo on the "
                                  "shelf")
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
        self.seed.setToolTip("Which random shapes a latent edit draws: the same seed gives the same proposal; "
                             "< > step to other ones")
        form.addRow("Seed", seed_row)
        self.psi = QSlider(Qt.Orientation.Horizontal)
        self.psi.setObjectName("psiSlider")
        self.psi.setRange(0, 100)
        self.psi.setValue(100)
        self.psi.setToolTip(PSI_HELP)
        self.psi_label = QLabel("1.00")
        self.psi.valueChanged.connect(lambda v: self.psi_label.setText(f"{v / 100:.2f}"))
        psi_row = QHBoxLayout()
        psi_row.addWidget(self.psi)
        psi_row.addWidget(self.psi_label)
        psi_name = QLabel("Variety (ψ)")
        psi_name.setToolTip(PSI_HELP)
        form.addRow(psi_name, psi_row)
        self.variations = QSpinBox()
        self.variations.setRange(1, 8)
        self.variations.setValue(1)
        self.variations.setToolTip("How many proposals to draw at once (consecutive seeds); pick one in the grid")
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
        self.correct.setVisible(bool(asked) and not self._proposing)

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
        self._proposal_seeds = tuple(int(v) for v in result.seeds)
        self.info.setText(f"Proposal ({result.engine}), variation {index + 1} of {len(result.maps)}, "
                          f"seed {result.seeds[index]}: {summary or 'no pixel change'}"
                          + (f"\nNote: {'; '.join(result.notes)}" if result.notes else ""))

    def advance_seed(self) -> None:
        """After a proposal is accepted: the seed box moves past the seeds it used, so the next proposal draws
        new shapes (the chosen variation's seed stays in the info line and the undo history)."""
        if self._proposal_seeds:
            self.seed.setValue(max(self._proposal_seeds) + 1)

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
        rendered = carried_styles(styles)
        for row, cid in enumerate(present):
            c = CLASSES[cid]
            s: StyleSource = styles[cid]
            combo = QComboBox()
            combo.setObjectName(f"style_{c.key}")
            follows = rendered[cid] != s  # a nose, ear or neck that follows the restyled skin
            combo.addItem("follows skin" if follows else "source photo", ("source", None))
            if follows:
                combo.setToolTip("The skin is restyled, so this region follows it; tick the lock to keep the "
                                 "photo's own.")
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
