"""The editor's tool state and its strokes, without Qt: painting with mirror, class protection and the brush
interpolated between the points of a fast drag; one undo step per stroke; the state announces each change once."""

from __future__ import annotations

import numpy as np
import pytest

from smile_studio.core.document import Document
from smile_studio.core.editor import EditorState, Stroke
from smile_studio.core.labelmap import LabelMap
from smile_studio.core.labels import CLASS_BY_KEY as K
from smile_studio.core.labels import MIRROR_LUT, NUM_CLASSES
from smile_studio.core.labels import ClassId as C


@pytest.fixture
def doc(face_map):
    return Document(LabelMap(face_map.copy()))


def _brush(cls: int, size: float) -> EditorState:
    state = EditorState()
    state.set_class(cls)
    state.set_brush_size(size)
    return state


def _drag(doc, state, points):
    stroke = Stroke(doc, state)
    stroke.begin(*points[0])
    for p in points[1:]:
        stroke.move(*p)
    return stroke.end()


def test_the_state_announces_each_change_once_and_refuses_nonsense():
    state, heard = EditorState(), []
    state.subscribe(heard.append)
    assert state.set_class(C.HAIR) and not state.set_class(C.HAIR)
    state.set_tool("eraser")
    state.set_brush_size(500)  # clamped to the largest brush
    state.set_mirror(True)
    state.set_contiguous(False)
    assert heard == ["current_class", "tool", "brush_size", "mirror", "contiguous"]
    assert state.brush_size == 256.0 and state.tool == "eraser" and state.mirror and not state.contiguous
    for bad in (lambda: state.set_class(NUM_CLASSES), lambda: state.set_tool("lasso"),
                lambda: state.set_paintable(np.ones(3, bool))):
        with pytest.raises(ValueError):
            bad()
    assert heard == ["current_class", "tool", "brush_size", "mirror", "contiguous"]


def test_protection_tables_are_normalised():
    state = EditorState()
    assert state.protect(C.BACKGROUND)
    assert state.paintable is not None and not state.paintable[C.BACKGROUND] and state.paintable[C.SKIN]
    assert state.protect(C.BACKGROUND, protected=False) and state.paintable is None  # nothing protected: None
    assert not state.set_paintable(np.ones(NUM_CLASSES, bool))  # the same thing: no announcement


def test_a_fast_drag_paints_a_continuous_line_as_one_undo_step(doc):
    state = _brush(K["nose"].id, 5)
    before = doc.labels.copy()
    entry = _drag(doc, state, [(40, 70), (90, 70)])  # two points 50 px apart: the segment joins them
    assert entry is not None
    row = doc.labels[70, 42:89]
    assert (row == K["nose"].id).all()
    assert doc.history.can_undo and doc.undo() and np.array_equal(doc.labels, before)
    assert not doc.history.can_undo  # the whole drag was one step


def test_mirror_and_protection_together(doc):
    state = _brush(C.R_EYE, 7)
    state.set_mirror(True)
    state.protect(C.BACKGROUND)
    w = doc.labels.shape[1]
    _drag(doc, state, [(40, 80), (40, 84)])  # on the skin, left of the centre line
    lab = doc.labels
    assert lab[82, 40] == C.R_EYE
    assert lab[82, w - 40] == MIRROR_LUT[C.R_EYE] == C.L_EYE  # the mirrored side takes the mirrored class
    # a stroke over the background is refused pixel by pixel, on both sides
    before = lab.copy()
    _drag(doc, state, [(3, 3), (3, 20)])
    assert np.array_equal(doc.labels, before)


def test_the_eraser_restores_the_map_as_opened(doc):
    state = _brush(C.HAIR, 9)
    opened = doc.labels.copy()
    _drag(doc, state, [(64, 70), (64, 80)])
    assert (doc.labels != opened).any()
    state.set_tool("eraser")
    _drag(doc, state, [(64, 66), (64, 84)])
    assert np.array_equal(doc.labels, opened)


def test_a_stroke_keeps_the_choices_it_began_with(doc):
    state = _brush(C.HAIR, 5)
    stroke = Stroke(doc, state)
    stroke.begin(50, 70)
    state.set_class(K["nose"].id)  # a hotkey pressed mid-drag changes the next stroke
    stroke.move(70, 70)
    stroke.end()
    assert doc.labels[70, 60] == C.HAIR and not (doc.labels == K["nose"].id).any()
    state.set_tool("fill")
    with pytest.raises(ValueError):
        Stroke(doc, state)


def test_a_stroke_ended_under_it_paints_no_more(doc):
    state = EditorState()
    state.set_class(C.HAIR)
    stroke = Stroke(doc, state)
    stroke.begin(50, 70)
    doc.end()  # something else closed the undo step (an undo mid-drag)
    before = doc.labels.copy()
    assert stroke.move(70, 70) == 0 and np.array_equal(doc.labels, before)
    assert stroke.end() is None


def test_a_drag_whose_release_never_came_is_closed_by_the_next(doc):
    state = _brush(C.HAIR, 5)
    lost = Stroke(doc, state)
    lost.begin(50, 70)  # the window lost the mouse: no end()
    state.set_class(K["nose"].id)
    _drag(doc, state, [(50, 90), (70, 90)])
    assert not doc.history.in_action
    assert doc.undo() and doc.labels[90, 60] != K["nose"].id  # the second stroke, then the first, undo apart
    assert doc.labels[70, 50] == C.HAIR and doc.undo() and doc.labels[70, 50] != C.HAIR


def test_brush_sizes_are_whole_pixels():
    state = EditorState()
    state.set_brush_size(12.4)
    assert state.brush_size == 12.0
    state.set_brush_size(12.6)
    assert state.brush_size == 13.0
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            state.set_brush_size(bad)
    assert state.brush_size == 13.0
