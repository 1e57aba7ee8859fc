"""Stroke previews: while a brush stroke is drawn, each dab's preview brings the last interactive render to the
new map around what changed (:mod:`..nets.syn_local`: every layer recomputed in a window, the rest read from
the recorded render) — a fraction of a render's work, approximate away from the change; the exact render
follows when the stroke ends."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..nets.syn import SynGenerator
from ..nets.syn_fast import MapFeatures
from ..nets.syn_local import RenderContext, grown, render_recorded, update_local
from .base import RenderRequest
from .syn_maps import changed_box, stroke_sized

STROKE_MARGIN = 3 / 32  # a dab's preview recomputes its changed box grown by this fraction of the side, per level


class StrokePreviews:
    """The last interactive render with every layer's output (``context``), and its updates."""

    def __init__(self) -> None:
        self.context: RenderContext | None = None

    def record(self, gen: SynGenerator, features: MapFeatures, style: torch.Tensor, noise: list,
               labels: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        """Render and keep every layer's output (a float32 render's in float16: half the memory, its rounding
        far below a stroke preview's error); the image (1, 3, S, S)."""
        self.context = None  # the last render's outputs go before the new ones are made
        store = torch.float16 if dtype == torch.float32 else None
        self.context = render_recorded(gen, features, style, noise, labels, store)
        return self.context.image

    def update(self, gen: SynGenerator, dtype: torch.dtype, req: RenderRequest,
               style_of: Callable[[RenderRequest], torch.Tensor],
               features_of: Callable[[np.ndarray], MapFeatures]) -> torch.Tensor | None:
        """The recorded render brought to ``req``'s map (1, 3, S, S), or None where there is none to update (none
        yet, another style, precision or side, or a change too large). ``style_of(req)``: its style;
        ``features_of(labels)``: the map's features (the previous map's may be spent on them)."""
        ctx = self.context
        if ctx is None or ctx.style.dtype != dtype or req.labels.shape[0] not in (ctx.side, 2 * ctx.side):
            return None
        if req.labels.shape[0] != ctx.side:
            req = req.halved()
        if req.labels.shape != ctx.labels.shape:
            return None
        if not torch.equal(style_of(req).reshape(ctx.style.shape), ctx.style):
            return None
        box = changed_box(ctx.labels, req.labels)
        if box is None:
            return ctx.image
        if not stroke_sized(box, req.labels):
            return None
        return update_local(gen, ctx, features_of(req.labels), req.labels,
                            grown(box, int(ctx.side * STROKE_MARGIN), ctx.side))
