"""The edit document: everything a user makes, plus the commands that change it through one history.

The GUI, the CLI and the tests all edit through these methods; each returns what changed and records it in the
document's :class:`History`, so one undo/redo covers strokes, fills, attribute edits and style choices. Workers never
see the document itself, only an immutable :class:`Snapshot`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .history import Entry, History, MapAtom, StateAtom
from .labelmap import LabelMap, Point
from .labels import CLASS_BY_KEY, CLASSES, MIRROR_LUT, NUM_CLASSES, SKIN_TONED, default_attributes, validate_attributes

StyleKind = Literal["source", "seed", "reference"]


MAX_SEED = 2**31 - 1  # seeds are 0..MAX_SEED everywhere (editor, projects, command line)


def check_seed(seed: object, what: str = "seed") -> int:
    """``seed`` as an int in 0..MAX_SEED; ValueError with a sentence otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"{what} must be a whole number from 0 to {MAX_SEED}, not {seed!r}")
    return int(seed)


@dataclass(frozen=True)
class StyleSource:
    """Where a region's style comes from: the source photo, a random style from a seed, or reference ``ref``."""

    kind: StyleKind = "source"
    seed: int = 0
    ref: str | None = None
    locked: bool = False

    def __post_init__(self):
        if self.kind not in ("source", "seed", "reference"):
            raise ValueError(f"unknown style source {self.kind!r}")
        if self.kind == "reference" and not (isinstance(self.ref, str) and self.ref):
            raise ValueError("a reference style needs a reference id")
        check_seed(self.seed, "a style's seed")

    def to_json(self) -> dict:
        return {"kind": self.kind, "seed": int(self.seed), "ref": self.ref, "locked": bool(self.locked)}

    @classmethod
    def from_json(cls, d: dict) -> StyleSource:
        return cls(str(d.get("kind", "source")), int(d.get("seed", 0)), d.get("ref"), bool(d.get("locked", False)))

    @classmethod
    def parse(cls, text: str) -> StyleSource:
        """'source', 'seed:7', 'ref:ID' (the command-line form)."""
        kind, _, arg = text.strip().partition(":")
        if kind == "source":
            return cls()
        if kind == "seed":
            try:
                return cls("seed", seed=int(arg))
            except ValueError:
                raise ValueError(f"bad seed in style {text!r}: seeds are whole numbers from 0 to {MAX_SEED}") \
                    from None
        if kind in ("ref", "reference") and arg:
            return cls("reference", ref=arg)
        raise ValueError(f"style must be source, seed:N or ref:NAME, not {text!r}")


def carried_styles(styles: Sequence[StyleSource]) -> tuple[StyleSource, ...]:
    """The styles a render uses: each skin-toned class (nose, ears, neck) still on the photo's own style, and not
    locked to it, takes the skin's, so a skin restyled from a reference or a seed leaves no seam of the old tone
    around them. Every engine renders these (the official SMILE_SYN seams its regions the same way)."""
    styles = tuple(styles)
    skin = styles[CLASS_BY_KEY["skin"].id]
    if skin.kind == "source":
        return styles
    return tuple(skin if c in SKIN_TONED and s.kind == "source" and not s.locked else s
                 for c, s in enumerate(styles))


@dataclass(frozen=True)
class Reference:
    """A reference face: aligned crop, its label map and attributes (parsed once, then kept)."""

    id: str
    name: str
    rgb: np.ndarray  # (S, S, 3) uint8
    labels: np.ndarray | None = None  # (S, S) uint8
    attributes: dict | None = None


def _frozen(arr: np.ndarray | None) -> np.ndarray | None:
    if arr is None:
        return None
    out = np.array(arr, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Snapshot:
    """An immutable copy of what a render or layout worker needs; safe to hand to another thread."""

    version: int
    labels: np.ndarray
    source_labels: np.ndarray | None
    photo: np.ndarray | None
    attributes: tuple[tuple[str, str], ...]
    styles: tuple[StyleSource, ...]  # one per class id
    references: tuple[Reference, ...]

    def reference(self, ref_id: str) -> Reference | None:
        return next((r for r in self.references if r.id == ref_id), None)


@dataclass
class Document:
    labelmap: LabelMap
    photo: np.ndarray | None = None  # aligned crop, (S, S, 3) uint8
    original: np.ndarray | None = None  # the whole photo the crop came from
    alignment: np.ndarray | None = None  # (2, 3) affine: crop pixel -> original pixel
    source_labels: np.ndarray | None = None  # the map as parsed / loaded, for diffs and render locality
    attributes: dict = field(default_factory=default_attributes)
    styles: tuple = field(default_factory=lambda: (StyleSource(),) * NUM_CLASSES)
    references: tuple = ()
    name: str = "untitled"
    # what opening the file decided on the user's behalf (a map ignored, a photo reduced), to be shown once
    notes: tuple = ()
    face: tuple[int, int] | None = None  # (which face, of how many) for a photo with several faces
    history: History = field(default_factory=History)
    _listeners: list = field(default_factory=list, repr=False)

    def __post_init__(self):
        if self.source_labels is None:
            self.source_labels = self.labelmap.labels.copy()
        self.attributes = validate_attributes(self.attributes)
        if len(self.styles) != NUM_CLASSES:
            raise ValueError(f"styles needs one entry per class ({NUM_CLASSES})")
        if self.photo is not None and self.photo.shape[:2] != self.labelmap.shape:
            raise ValueError(f"photo {self.photo.shape[:2]} and map {self.labelmap.shape} differ in size")

    # -- observation -------------------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[str], None]) -> None:
        """``callback(kind)`` after every change; kind is 'map', 'state' or 'all'."""
        self._listeners.append(callback)

    def _notify(self, kind: str) -> None:
        for cb in list(self._listeners):
            cb(kind)

    @property
    def labels(self) -> np.ndarray:
        return self.labelmap.labels

    @property
    def size(self) -> int:
        return self.labelmap.shape[0]

    @property
    def version(self) -> int:
        return self.history.version

    # -- grouping ----------------------------------------------------------------------------------------------
    def begin(self, label: str) -> None:
        """Start a user action (a drag); every edit until :meth:`end` is one undo step."""
        self.history.begin(label)

    def end(self) -> Entry | None:
        return self.history.end(self)

    def _map_edit(self, atoms: MapAtom | Sequence[MapAtom | None] | None, label: str) -> int:
        if atoms is None:
            atoms = []
        elif isinstance(atoms, MapAtom):
            atoms = [atoms]
        atoms = [a for a in atoms if a is not None]
        if not atoms:
            return 0
        self._record(atoms, label)
        self._notify("map")
        return sum(a.size for a in atoms)

    def _record(self, atoms: Sequence, label: str) -> None:
        """Record applied atoms: into the open user action, or as one undo step of their own."""
        own = not self.history.in_action
        if own:
            self.history.begin(label)
        for a in atoms:
            self.history.record(a)
        if own:
            self.history.end(self)

    # -- map commands (return the number of pixels changed) ----------------------------------------------------
    def paint(self, p0: Point, p1: Point, cls: int, size: float, writable: np.ndarray | None = None,
              mirror: bool = False) -> int:
        atoms = [self.labelmap.stroke_segment(p0, p1, cls, size, writable)]
        if mirror:
            w = self.labelmap.shape[1]
            atoms.append(self.labelmap.stroke_segment((w - p0[0], p0[1]), (w - p1[0], p1[1]),
                                                      int(MIRROR_LUT[cls]), size, writable))
        return self._map_edit(atoms, f"Paint {CLASSES[cls].name}")

    def erase(self, p0: Point, p1: Point, size: float, writable: np.ndarray | None = None,
              mirror: bool = False) -> int:
        """Erasing restores the map as the face was opened (its source map) under the brush: a stray stroke of
        hair over the skin goes back to skin, not to background."""
        atoms = [self.labelmap.restore_segment(p0, p1, self.source_labels, size, writable)]
        if mirror:
            w = self.labelmap.shape[1]
            atoms.append(self.labelmap.restore_segment((w - p0[0], p0[1]), (w - p1[0], p1[1]), self.source_labels,
                                                       size, writable))
        return self._map_edit(atoms, "Erase")

    def fill(self, x: float, y: float, cls: int, contiguous: bool = True,
             writable: np.ndarray | None = None) -> int:
        return self._map_edit(self.labelmap.fill(x, y, cls, contiguous, writable), f"Fill {CLASSES[cls].name}")

    def polygon(self, points: Sequence[Point], cls: int, writable: np.ndarray | None = None) -> int:
        return self._map_edit(self.labelmap.polygon(points, cls, writable), f"Polygon {CLASSES[cls].name}")

    def replace_class(self, src: int, dst: int, writable: np.ndarray | None = None) -> int:
        return self._map_edit(self.labelmap.replace(src, dst, writable),
                              f"Replace {CLASSES[src].name} by {CLASSES[dst].name}")

    def mirror(self) -> int:
        return self._map_edit(self.labelmap.mirror(), "Mirror")

    def remove_islands(self, min_area: int = 16, writable: np.ndarray | None = None) -> int:
        return self._map_edit(self.labelmap.remove_islands(min_area, writable), f"Remove islands < {min_area} px")

    def set_labels(self, labels: np.ndarray, label: str = "Edit map", writable: np.ndarray | None = None) -> int:
        return self._map_edit(self.labelmap.set_all(labels, writable), label)

    # -- state commands ----------------------------------------------------------------------------------------
    def _set_state(self, name: str, value, label: str) -> bool:
        old = getattr(self, name)
        if _equal(old, value):
            return False
        atom = StateAtom(name, copy.deepcopy(old), copy.deepcopy(value))
        atom.apply(self)
        self._record([atom], label)
        self._notify("state")
        return True

    def set_attributes(self, attributes: dict) -> bool:
        return self._set_state("attributes", validate_attributes(attributes), "Attributes")

    def apply_attribute_edit(self, labels: np.ndarray, attributes: dict, label: str = "Attribute edit") -> int:
        """An accepted attribute proposal: the new map and the new attribute state as one undo step."""
        self.begin(label)
        try:
            n = self.set_labels(labels)
            self.set_attributes(attributes)
        finally:
            self.end()
        return n

    def set_style(self, cls: int, source: StyleSource) -> bool:
        if source.kind == "reference" and not any(r.id == source.ref for r in self.references):
            raise ValueError(f"no reference {source.ref!r} in this document")
        styles = list(self.styles)
        styles[cls] = source
        return self._set_state("styles", tuple(styles), f"Style of {CLASSES[cls].name}")

    def add_reference(self, ref: Reference) -> bool:
        if any(r.id == ref.id for r in self.references):
            raise ValueError(f"reference id {ref.id!r} exists already")
        return self._set_state("references", self.references + (ref,), f"Add reference {ref.name}")

    def new_reference_id(self) -> str:
        used = {r.id for r in self.references}
        n = 1
        while f"ref{n}" in used:
            n += 1
        return f"ref{n}"

    # -- navigation --------------------------------------------------------------------------------------------
    def undo(self) -> Entry | None:
        entry = self.history.undo(self)
        if entry:
            self._notify("all")
        return entry

    def redo(self) -> Entry | None:
        entry = self.history.redo(self)
        if entry:
            self._notify("all")
        return entry

    def snapshot(self) -> Snapshot:
        return Snapshot(
            version=self.version,
            labels=_frozen(self.labels),
            source_labels=_frozen(self.source_labels),
            photo=_frozen(self.photo),
            attributes=tuple(self.attributes.items()),
            styles=tuple(self.styles),
            references=tuple(self.references),
        )


def _equal(a, b) -> bool:
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return a is b
