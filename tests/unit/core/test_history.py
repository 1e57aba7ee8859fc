import numpy as np

from smile_studio.core.document import Document, StyleSource
from smile_studio.core.history import History
from smile_studio.core.labelmap import LabelMap
from smile_studio.core.labels import CLASS_BY_KEY as K

HAIR = K["hair"].id


def test_a_whole_drag_is_one_undo_step():
    doc = Document(LabelMap.blank(64))
    doc.begin("drag")
    pts = [(5.0 + 3 * i, 20.0 + i) for i in range(15)]
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        doc.paint(a, b, HAIR, 5)
    doc.end()
    painted = doc.labels.copy()
    assert (painted == HAIR).sum() > 50
    assert len(doc.history) == 1
    doc.undo()
    assert not doc.labels.any()
    doc.redo()
    assert np.array_equal(doc.labels, painted)


def test_coalesced_atom_keeps_first_old_value():
    doc = Document(LabelMap.blank(32))
    doc.begin("overpaint")
    doc.paint((10, 10), (10, 10), HAIR, 5)
    doc.paint((10, 10), (10, 10), K["hat"].id, 5)  # same pixels twice
    entry = doc.end()
    (atom,) = entry.atoms
    assert (atom.old == 0).all() and (atom.new == K["hat"].id).all()
    assert len(np.unique(atom.indices)) == atom.size


def test_memory_bound_drops_oldest_steps_only():
    hist_bytes = 40_000
    doc = Document(LabelMap.blank(256), history=History(max_bytes=hist_bytes))
    for i in range(40):
        doc.paint((20.0 + 5 * i, 100.0), (20.0 + 5 * i, 160.0), HAIR if i % 2 else K["skin"].id, 12)
    assert doc.history.nbytes <= hist_bytes
    assert 1 <= len(doc.history) < 40
    kept = len(doc.history)
    for _ in range(kept):
        assert doc.undo() is not None
    assert doc.undo() is None  # older steps are gone, not corrupted
    assert (doc.labels != 0).any()  # the dropped steps stay applied


def test_one_history_for_map_attribute_and_style_edits():
    doc = Document(LabelMap.blank(16))
    doc.paint((4, 4), (4, 4), HAIR, 3)
    doc.set_attributes(dict(doc.attributes, hat="on"))
    doc.set_style(HAIR, StyleSource("seed", seed=7))
    assert len(doc.history) == 3
    doc.undo()
    assert doc.styles[HAIR] == StyleSource()
    doc.undo()
    assert doc.attributes["hat"] == "off"
    doc.undo()
    assert not doc.labels.any()
    doc.redo()
    doc.redo()
    doc.redo()
    assert doc.styles[HAIR].seed == 7 and doc.attributes["hat"] == "on" and doc.labels.any()


def test_new_edit_clears_redo_and_listeners_fire():
    doc = Document(LabelMap.blank(16))
    seen = []
    doc.subscribe(seen.append)
    doc.paint((4, 4), (4, 4), HAIR, 3)
    doc.undo()
    assert doc.history.can_redo
    doc.paint((8, 8), (8, 8), HAIR, 3)
    assert not doc.history.can_redo
    assert seen == ["map", "all", "map"]


def test_attribute_edit_is_one_step(face_map):
    doc = Document(LabelMap(face_map))
    new = face_map.copy()
    new[:5] = K["hat"].id
    doc.apply_attribute_edit(new, dict(doc.attributes, hat="on"))
    assert len(doc.history) == 1
    doc.undo()
    assert np.array_equal(doc.labels, face_map) and doc.attributes["hat"] == "off"


def test_snapshot_is_immutable_and_detached(face_map):
    doc = Document(LabelMap(face_map))
    snap = doc.snapshot()
    doc.paint((5, 5), (5, 5), HAIR, 3)
    assert np.array_equal(snap.labels, face_map)
    assert not snap.labels.flags.writeable
