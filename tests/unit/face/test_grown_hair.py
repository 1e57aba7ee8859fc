"""A fringe drawn from the photo's own hair, mirrored about the hairline in the aligned crop's frame."""

from __future__ import annotations

import numpy as np

from smile_studio.core.labels import ClassId as C
from smile_studio.face.composite import paste_edit
from smile_studio.face.grown_hair import BAND, hairline, mirrored_hair, strand_taper


def _map(line_row: int = 100, side: int = 256) -> np.ndarray:
    labels = np.full((side, side), C.SKIN, np.uint8)
    labels[:line_row] = C.HAIR
    return labels


def test_the_hairline_is_where_hair_meets_skin_in_each_column():
    labels = _map()
    labels[:, :20] = C.BACKGROUND  # no hair above skin here
    line = hairline(labels)
    assert np.isnan(line[:20]).all() and np.allclose(line[30:], 100)


def test_the_photo_is_mirrored_about_the_hairline_even_on_a_tilted_head():
    rows = np.repeat(np.arange(1024, dtype=np.float32)[:, None], 1024, 1)  # a photo whose red is its row
    photo = np.stack([rows / 4, np.zeros_like(rows), np.zeros_like(rows)], -1).astype(np.uint8)
    upright = np.array([[4.0, 0, 0], [0, 4.0, 0]])  # crop -> photo, 4x
    colours, on_hair = mirrored_hair(photo, (0, 0), upright, (1024, 1024), _map())
    # the mirror line lies BAND above the hairline (crop row 100, between pixels 99 and 100)
    line = (100 - BAND * 256 - 0.5) * 4
    y = 440
    assert abs(colours[y, 500, 0] - (2 * line - y) / 4) <= 1.0
    assert on_hair[y, 500]
    # a fringe longer than the hair above the line: the mirror goes back and forth within the hair (rows < 400)
    # instead of reaching past the top of the head
    assert on_hair[1000, 500] and colours[1000, 500, 0] < 100
    angle = np.deg2rad(20)  # the same about a line that is tilted with the face
    rot = 4.0 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tilted = np.hstack([rot, [[300.0], [100.0]]])
    _, on_tilted = mirrored_hair(photo, (0, 0), tilted, (1024, 1024), _map())
    below = tilted @ np.array([128, 110, 1.0])  # 10 crop px under the line, in the middle
    assert on_tilted[int(below[1]), int(below[0])]


def test_a_fringe_takes_the_photos_hair_and_thins_out_at_its_edge():
    rng = np.random.default_rng(0)
    photo = np.full((1024, 1024, 3), 200, np.uint8)
    photo[:400] = rng.integers(20, 90, (400, 1024, 3), np.uint8)  # dark, busy hair above row 400
    source = _map()
    labels = source.copy()
    labels[100:130, 60:200] = C.HAIR  # a fringe down to crop row 130
    render = np.full((256, 256, 3), 150, np.uint8)  # a flat grey render: nothing like the photo's hair
    out = paste_edit(photo, render, np.array([[4.0, 0, 0], [0, 4.0, 0]]), source, labels)
    fringe = out[420:500, 300:700].astype(np.float32)
    assert fringe.mean() < 80  # the photo's dark hair, not the render's grey
    assert fringe.std() > 10  # with its texture
    edge = out[515:521, 300:700].astype(np.float32).mean()
    assert 80 < edge < 195  # the last pixels over the skin are thinned, between hair and skin
    taper = strand_taper(np.ones((50, 50), bool) & (np.arange(50)[:, None] < 40), np.eye(2, 3) * 4, 256, 4.0,
                         np.random.default_rng(0))
    assert taper[0, 0] == 1 and taper[39, 10] < 0.5


def test_a_bald_scalp_continues_the_forehead_and_covers_the_hairlines_shadow():
    rng = np.random.default_rng(1)
    photo = np.full((1024, 1024, 3), 40, np.uint8)  # dark hair everywhere above the hairline
    forehead = rng.normal(0, 6, (624, 1024, 1)) + np.array([225, 180, 160])
    photo[400:] = np.clip(forehead, 0, 255).astype(np.uint8)
    photo[400:412] = (120, 90, 80)  # the hairline's shadow, on skin
    source = _map()
    source[150:156, 60:200] = C.L_BROW  # brows well below the hairline (crop row 100)
    labels = source.copy()
    labels[30:100, 40:216] = C.SKIN  # bald over the top of the head
    render = np.full((256, 256, 3), 150, np.uint8)  # a flat grey render: nothing like the forehead
    out = paste_edit(photo, render, np.array([[4.0, 0, 0], [0, 4.0, 0]]), source, labels)
    scalp = out[200:380, 400:700].astype(np.float32)
    assert np.abs(scalp.mean((0, 1)) - [225, 180, 160]).max() < 12  # the forehead's skin, not the render's grey
    assert scalp.std((0, 1)).mean() > 3  # with its grain
    assert out[400:412, 400:700].astype(np.float32).mean() > 150  # the old hairline's shadow is painted over
    assert np.array_equal(out[:, :80], photo[:, :80])  # far from the edit, the photo itself
