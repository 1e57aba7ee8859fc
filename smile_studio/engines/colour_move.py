"""Moving a region's colours to a style's (the offline renderer's reference and seeded styles), in CIELAB.

A region restyled from a reference takes the reference's colour statistics, a move that must not draw the
region's outline: the parse's class edges are a pixel or two off the photo's (a brow's label holds skin, the
skin's label holds a strand of hair), and a region's edge pixels are mixed with the neighbour. So the move

* uses robust statistics (median and half the 16-84 % range) read inside the region, away from its edge;
* grows a region's lightness spread at most twice and never its colour spread (a cheek's blush grown with it
  turned into red blotches);
* moves a pixel less the farther it is from the class's colour, and not at all past STRAY spreads (moved in
  full, an edge pixel half the neighbour's became a saturated rim);
* carries the move onto the kept neighbours' pixels that look like the restyled class rather than their own
  (the skin-coloured rim of a brow's label, left behind, ringed the brows of a darker skin in the old tone).
"""

from __future__ import annotations

import cv2
import numpy as np

#: how far a style may shrink or grow a region's spread, per Lab channel (lightness, a, b)
SPREAD_RATIO = (np.float32([0.5, 0.5, 0.5]), np.float32([2.0, 1.0, 1.0]))
STRAY = (2.5, 5.0)  # spreads from a class's colour past which a pixel moves less, and not at all
CARRY_REACH = 1 / 85  # of the map's side: how far into a kept neighbour a move is carried (3 px at 256)

Stats = tuple[np.ndarray, np.ndarray]  # Lab centre (3,), spread (3,)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB) * 255.0, 0, 255)


def _lab_rows(colours: np.ndarray) -> np.ndarray:
    return rgb_to_lab(np.asarray(colours, np.float32).reshape(-1, 1, 3)).reshape(-1, 3)


def lab_stats(rgb: np.ndarray) -> Stats:
    """Robust Lab centre and spread of (N, 3) colours: the median and half the 16-84 % range (the standard
    deviation of a normal colour cloud), so a few stray pixels do not move a style."""
    lo, mid, hi = np.percentile(_lab_rows(rgb), (16, 50, 84), axis=0)
    return mid.astype(np.float32), ((hi - lo) / 2 + 0.5).astype(np.float32)


def _distance(lab: np.ndarray, stats: Stats) -> np.ndarray:
    """Per pixel, the largest channel distance from a class's colour, in its spreads."""
    return np.abs((lab - stats[0]) / stats[1]).max(1)


def move_colours(colours: np.ndarray, stats: Stats, target: Stats) -> np.ndarray:
    """(N, 3) RGB colours of a class with ``stats``, moved to ``target``'s centre and spread."""
    lab = _lab_rows(colours)
    ratio = np.clip(target[1] / stats[1], *SPREAD_RATIO)
    moved = (lab - stats[0]) * ratio + target[0]
    weight = np.clip((STRAY[1] - _distance(lab, stats)) / (STRAY[1] - STRAY[0]), 0, 1)[:, None]
    return lab_to_rgb((moved * weight + lab * (1 - weight)).reshape(-1, 1, 3)).reshape(-1, 3)


def carry_to_neighbours(out: np.ndarray, photo: np.ndarray, labels: np.ndarray, kept: np.ndarray,
                        moves: dict[int, tuple[Stats, Stats]], own_stats) -> None:
    """Carry each restyled class's move into the kept pixels beside it (in place), as far as each looks like
    that class rather than its own: the two classes' colour models, as normal clouds, give the odds.
    ``own_stats(c)``: the photo's statistics of kept class ``c`` (None when it has too few pixels)."""
    reach = max(1, int(round(CARRY_REACH * labels.shape[0])))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    for c, (stats, target) in moves.items():
        near = kept & cv2.dilate((labels == c).astype(np.uint8), kernel).astype(bool)
        for own in np.unique(labels[near]):
            own_colour = own_stats(int(own))
            if own_colour is None:
                continue
            ys, xs = np.nonzero(near & (labels == own))
            lab = _lab_rows(photo[ys, xs])
            d_new, d_own = _distance(lab, stats), _distance(lab, own_colour)
            odds = 1 / (1 + np.exp(np.clip((d_new ** 2 - d_own ** 2) / 2, -30, 30)))  # P(restyled class)
            moved = move_colours(photo[ys, xs], stats, target)
            out[ys, xs] = out[ys, xs] * (1 - odds[:, None]) + moved * odds[:, None]
