import numpy as np
import pytest

from smile_studio.core.history import History
from smile_studio.core.labelmap import LabelMap, writable_table
from smile_studio.core.labels import CLASS_BY_KEY as K

SKIN, HAIR, LEYE, REYE, NOSE = K["skin"].id, K["hair"].id, K["l_eye"].id, K["r_eye"].id, K["nose"].id


class Target:
    """Minimal history target: anything with a ``labels`` array."""

    def __init__(self, lm):
        self.lm = lm

    @property
    def labels(self):
        return self.lm.labels


def _undo_redo_roundtrip(lm, do):
    before = lm.labels.copy()
    hist = History()
    hist.begin("op")
    atoms = do()
    for a in atoms if isinstance(atoms, list) else [atoms]:
        hist.record(a)
    hist.end(Target(lm))
    after = lm.labels.copy()
    assert not np.array_equal(before, after), "the operation changed nothing"
    hist.undo(Target(lm))
    assert np.array_equal(lm.labels, before)
    hist.redo(Target(lm))
    assert np.array_equal(lm.labels, after)
    return before, after


def test_click_stamps_a_disc_of_the_brush_size():
    lm = LabelMap.blank(64)
    atom = lm.stroke_segment((32.0, 32.0), (32.0, 32.0), HAIR, size=9)
    ys, xs = np.nonzero(lm.labels == HAIR)
    assert atom.size == len(ys)
    assert xs.min() == 28 and xs.max() == 35 and ys.min() == 28 and ys.max() == 35  # radius 4.5 around 32.0
    assert abs(len(ys) - np.pi * 4.5**2) < 12


def test_one_pixel_brush_always_paints_the_pixel_under_the_cursor():
    lm = LabelMap.blank(16)
    lm.stroke_segment((3.99, 7.01), (3.99, 7.01), SKIN, size=1)
    assert lm.labels[7, 3] == SKIN and (lm.labels == SKIN).sum() == 1


def test_drag_is_interpolated_without_gaps():
    lm = LabelMap.blank(128)
    lm.stroke([(10.0, 10.0), (110.0, 60.0)], HAIR, size=3)  # two far-apart events
    ts = np.linspace(0, 1, 200)
    for t in ts:
        x, y = 10 + 100 * t, 10 + 50 * t
        assert lm.labels[int(y), int(x)] == HAIR


def test_stroke_undo_redo_and_protection():
    lm = LabelMap.blank(64)
    lm.labels[:, 32:] = SKIN
    _undo_redo_roundtrip(lm, lambda: lm.stroke([(5, 30), (60, 30)], HAIR, 6))
    lm2 = LabelMap.blank(64)
    lm2.labels[:, 32:] = SKIN
    lm2.stroke([(5, 30), (60, 30)], HAIR, 6, writable=writable_table(only=[SKIN]))
    hair = lm2.labels == HAIR
    assert hair[:, 32:].any() and not hair[:, :32].any()  # background was protected


def test_erase_paints_background():
    lm = LabelMap(np.full((32, 32), SKIN, np.uint8))
    atoms = lm.stroke([(16, 16)], 0, 5)
    assert atoms and (lm.labels == 0).sum() == atoms[0].size > 0


def test_fill_keeps_enclosed_classes(face_map):
    lm = LabelMap(face_map)
    eye_px = (face_map == LEYE) | (face_map == REYE)
    assert eye_px.sum() > 40
    ys, xs = np.nonzero(face_map == SKIN)
    before, after = _undo_redo_roundtrip(lm, lambda: lm.fill(xs[0] + 0.5, ys[0] + 0.5, NOSE))
    assert np.array_equal(after == LEYE, before == LEYE) and np.array_equal(after == REYE, before == REYE)
    assert (after == NOSE).sum() == (before == SKIN).sum()
    assert ((after == NOSE) == (before == SKIN)).all()


def test_contiguous_vs_global_fill():
    lab = np.zeros((20, 40), np.uint8)
    lab[:, 10] = SKIN  # a wall splits the background into two components
    lm = LabelMap(lab)
    lm.fill(2, 2, HAIR, contiguous=True)
    assert (lm.labels[:, :10] == HAIR).all() and (lm.labels[:, 11:] == 0).all()
    lm2 = LabelMap(lab)
    _undo_redo_roundtrip(lm2, lambda: lm2.fill(2, 2, HAIR, contiguous=False))
    assert (lm2.labels[:, 11:] == HAIR).all() and (lm2.labels[:, 10] == SKIN).all()


def test_fill_outside_or_same_class_is_noop():
    lm = LabelMap.blank(8)
    assert lm.fill(-1, 3, HAIR) is None
    assert lm.fill(3, 3, 0) is None


def test_polygon_fill():
    lm = LabelMap.blank(64)
    _undo_redo_roundtrip(lm, lambda: lm.polygon([(10, 10), (50, 10), (50, 40), (10, 40)], HAIR))
    hair = lm.labels == HAIR
    ys, xs = np.nonzero(hair)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (10, 39, 10, 49)
    assert hair.sum() == 40 * 30
    assert lm.polygon([(1, 1), (2, 2)], HAIR) is None


def test_replace_class(face_map):
    lm = LabelMap(face_map)
    n = (face_map == HAIR).sum()
    _, after = _undo_redo_roundtrip(lm, lambda: lm.replace(HAIR, K["hat"].id))
    assert (after == K["hat"].id).sum() == n and not (after == HAIR).any()


def test_mirror_swaps_left_and_right(face_map):
    lm = LabelMap(face_map)
    lm.labels[10:14, 2:6] = K["l_ear"].id
    before, after = _undo_redo_roundtrip(lm, lambda: lm.mirror())
    w = before.shape[1]
    assert (after[10:14, w - 6:w - 2] == K["r_ear"].id).all()
    # the left eye of the mirrored face sits where the right eye was, flipped
    assert np.array_equal(after == LEYE, (before == REYE)[:, ::-1])
    assert np.array_equal(LabelMap(after).mirrored(), before)


def test_set_all_and_eyedropper(face_map):
    lm = LabelMap(face_map)
    new = face_map.copy()
    new[0:5, 0:5] = HAIR
    _undo_redo_roundtrip(lm, lambda: lm.set_all(new))
    assert lm.class_at(2.5, 2.5) == HAIR and lm.class_at(500, 2) is None
    with pytest.raises(ValueError):
        lm.set_all(np.zeros((3, 3), np.uint8))


def test_invalid_maps_rejected():
    with pytest.raises(ValueError):
        LabelMap(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError):
        LabelMap(np.full((4, 4), 19, np.uint8))


def test_remove_islands_and_undo(face_map):
    lm = LabelMap(face_map)
    lm.labels[70:72, 60:62] = HAIR  # a 4-px speck of hair inside the skin
    lm.labels[20:40, 5:25] = K["hat"].id  # a 400-px region: not an island
    before = lm.labels.copy()
    assert lm.island_mask(16)[70:72, 60:62].all() and not lm.island_mask(16)[20:40, 5:25].any()
    _, after = _undo_redo_roundtrip(lm, lambda: lm.remove_islands(16))
    assert (after[70:72, 60:62] == SKIN).all()  # filled from its surroundings
    assert (after[20:40, 5:25] == K["hat"].id).all()
    assert np.array_equal(after != before, LabelMap(before).island_mask(16))  # exactly the islands changed


def test_restore_segment_brings_back_the_source_classes_under_the_brush():
    source = np.full((32, 32), SKIN, np.uint8)
    source[:, :8] = 0
    lm = LabelMap(source.copy())
    lm.stroke([(4, 16), (28, 16)], HAIR, 6)  # a stray hair stroke across background and skin
    assert (lm.labels == HAIR).sum() > 100
    atom = lm.restore_segment((2, 16), (30, 16), source, 8)
    assert atom is not None and np.array_equal(lm.labels, source)  # skin back to skin, background to background
