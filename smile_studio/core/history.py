"""Undo/redo: one entry per user action (a whole drag is one step), bounded in memory.

An entry is a list of atoms. A map atom stores (flat indices, old ids, new ids) of the pixels that changed, so a
stroke over a 512x512 map costs bytes proportional to the stroke, not to the map. A state atom stores the old and
new value of one document attribute (attribute toggles, style choices). Atoms act on a *target* object: map atoms
on ``target.labels`` (an (H, W) uint8 array), state atoms on ``setattr(target, name, value)``.
"""

from __future__ import annotations

import copy
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class Atom(Protocol):
    nbytes: int

    def apply(self, target: Any) -> None: ...

    def revert(self, target: Any) -> None: ...


@dataclass(frozen=True)
class MapAtom:
    indices: np.ndarray  # int32 flat indices into the map
    old: np.ndarray  # uint8
    new: np.ndarray  # uint8

    @property
    def nbytes(self) -> int:
        return int(self.indices.nbytes + self.old.nbytes + self.new.nbytes)

    @property
    def size(self) -> int:
        return int(self.indices.size)

    def apply(self, target: Any) -> None:
        target.labels.reshape(-1)[self.indices] = self.new

    def revert(self, target: Any) -> None:
        target.labels.reshape(-1)[self.indices] = self.old


@dataclass(frozen=True)
class StateAtom:
    name: str
    old: Any
    new: Any

    @property
    def nbytes(self) -> int:
        return 64 + sys.getsizeof(self.old) + sys.getsizeof(self.new)

    def apply(self, target: Any) -> None:
        setattr(target, self.name, copy.deepcopy(self.new))

    def revert(self, target: Any) -> None:
        setattr(target, self.name, copy.deepcopy(self.old))


@dataclass
class Entry:
    label: str
    atoms: list = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.atoms) + 64


def coalesce_map_atoms(atoms: list[MapAtom], labels: np.ndarray) -> MapAtom:
    """Merge the atoms of one action: each pixel once, its first old value and its value now."""
    idx = np.concatenate([a.indices for a in atoms])
    old = np.concatenate([a.old for a in atoms])
    uniq, first = np.unique(idx, return_index=True)
    return MapAtom(uniq.astype(np.int32), old[first], labels.reshape(-1)[uniq].copy())


class History:
    """Linear undo/redo over atoms, grouped per user action, dropping the oldest steps past ``max_bytes``."""

    def __init__(self, max_bytes: int = 256 * 2**20, max_steps: int = 1000):
        self.max_bytes = max_bytes
        self.max_steps = max_steps
        self._undo: deque[Entry] = deque()
        self._redo: list[Entry] = []
        self._open: Entry | None = None
        self.version = 0  # bumps on every change, lets views and autosave notice edits cheaply

    # -- recording ---------------------------------------------------------------------------------------------
    def begin(self, label: str) -> None:
        if self._open is not None:
            raise RuntimeError(f"action {self._open.label!r} is still open")
        self._open = Entry(label)

    @property
    def in_action(self) -> bool:
        return self._open is not None

    def record(self, atom: Atom | None) -> None:
        """Add an already-applied atom to the open action (or as its own step when none is open)."""
        if atom is None:
            return
        if self._open is None:
            self._push(Entry(type(atom).__name__, [atom]))
        else:
            self._open.atoms.append(atom)
        self.version += 1

    def end(self, target: Any) -> Entry | None:
        """Close the open action; map atoms are merged into one. Returns the entry, or None when nothing changed."""
        entry, self._open = self._open, None
        if entry is None or not entry.atoms:
            return None
        maps = [a for a in entry.atoms if isinstance(a, MapAtom)]
        others = [a for a in entry.atoms if not isinstance(a, MapAtom)]
        if len(maps) > 1:
            maps = [coalesce_map_atoms(maps, target.labels)]
        entry.atoms = maps + others
        self._push(entry)
        return entry

    def _push(self, entry: Entry) -> None:
        self._undo.append(entry)
        self._redo.clear()
        self._trim()

    def _trim(self) -> None:
        while len(self._undo) > 1 and (len(self._undo) > self.max_steps or self.nbytes > self.max_bytes):
            self._undo.popleft()

    # -- navigation --------------------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo) and self._open is None

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and self._open is None

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    def undo(self, target: Any) -> Entry | None:
        if not self.can_undo:
            return None
        entry = self._undo.pop()
        for atom in reversed(entry.atoms):
            atom.revert(target)
        self._redo.append(entry)
        self.version += 1
        return entry

    def redo(self, target: Any) -> Entry | None:
        if not self.can_redo:
            return None
        entry = self._redo.pop()
        for atom in entry.atoms:
            atom.apply(target)
        self._undo.append(entry)
        self.version += 1
        return entry

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._open = None
        self.version += 1

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self._undo) + sum(e.nbytes for e in self._redo)

    def __len__(self) -> int:
        return len(self._undo)
