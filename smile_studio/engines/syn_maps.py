"""SMILE_SYN's map features (the label map's SPADE inputs and stem, per level), kept between renders.

While painting, every dab makes a new map that differs from the last in a small box; its features are then
updated from the last map's in that box (~4x less work than computing them anew) instead of computed whole. The
cache is bounded in bytes: a 256 map's features are ~140 MB in float32."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch

from ..nets.syn import SynGenerator
from ..nets.syn_fast import MapFeatures, map_features, map_features_update
from .cache import array_digest, nbytes

STROKE_AREA = 0.25  # a changed box up to this fraction of the map updates the previous map's features
MAP_CACHE_BYTES = 192 * 2**20  # one 256 map's features in float32 and a 128 map's, or two 256 maps' in bf16

Box = tuple[int, int, int, int]


def changed_box(old: np.ndarray, new: np.ndarray) -> Box | None:
    """(y0, x0, y1, x1), ends exclusive, around the pixels where two maps differ; None where they are equal."""
    diff = np.asarray(old) != np.asarray(new)
    rows, cols = np.flatnonzero(diff.any(1)), np.flatnonzero(diff.any(0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def stroke_sized(box: Box, labels: np.ndarray) -> bool:
    """Whether a changed box is small enough to be updated as a stroke (up to STROKE_AREA of the map)."""
    return (box[2] - box[0]) * (box[3] - box[1]) <= STROKE_AREA * labels.size


class MapFeatureCache:
    """Map features by (dtype, map side, map content), the newest last; at most ``max_bytes`` (one entry at
    least)."""

    def __init__(self, max_bytes: int = MAP_CACHE_BYTES):
        self.max_bytes = max_bytes
        self.entries: OrderedDict = OrderedDict()  # key -> (labels, MapFeatures)

    def clear(self) -> None:
        self.entries.clear()

    def features(self, gen: SynGenerator, dtype: torch.dtype, sem: torch.Tensor, labels: np.ndarray,
                 spend_previous: bool = False) -> MapFeatures:
        """The features of ``labels`` (one-hot ``sem``): cached, or updated from the newest cached map when the
        two differ in a stroke-sized box (``spend_previous``: in that map's own tensors, which then leave the
        cache), or computed."""
        key = (dtype, labels.shape, array_digest(labels))
        cache = self.entries
        if key in cache:
            cache.move_to_end(key)
            return cache[key][1]
        feats = None
        previous = next((k for k in reversed(cache) if k[:2] == key[:2]), None)
        if previous is not None:
            old_labels, old_feats = cache[previous]
            box = changed_box(old_labels, labels)
            if box is not None and stroke_sized(box, labels):
                k = sem.shape[-1] / labels.shape[0]
                box = (int(box[0] * k), int(box[1] * k), math.ceil(box[2] * k), math.ceil(box[3] * k))
                if spend_previous:
                    del cache[previous]
                feats = map_features_update(gen, old_feats, sem, box, in_place=spend_previous)
        if feats is None:
            feats = map_features(gen, sem, dtype=dtype, upto=sem.shape[-1])
        cache[key] = (np.array(labels, copy=True), feats)
        while len(cache) > 1 and sum(nbytes(v) for v in cache.values()) > self.max_bytes:
            # the oldest map of the new one's kind goes first: previews at another side keep the full-size map
            same = [k for k in cache if k[:2] == key[:2] and k != key]
            del cache[same[0] if same else next(iter(cache))]
        return feats
