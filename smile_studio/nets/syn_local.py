"""Local re-rendering of SMILE_SYN while a brush stroke is drawn.

A dab changes the map in a small box, but the generator is not local: its 8x8 stem sees the whole map and every
modulated convolution is demodulated by sums over the whole image, so in an exact render a dab moves every pixel
a little (on the golden synthetic weights a 16 px dab moves pixels 64 px away by up to 0.05 of the [-1, 1]
range). There is no exact local update. What is cheap and close: keep every layer's output of the last render
(:class:`RenderContext`) and recompute each layer only inside a window around the change (the changed box grown
by a margin, scaled to every level), reading the kept outputs of the previous layer outside the window and the
kept demodulations. A layer whose window covers most of its output is recomputed whole and exactly (the coarse
levels always are). The editor shows these renders while the stroke is drawn and renders exactly once it ends;
their error against the exact render is measured (``bench/paint_bench.py``) and bounded by the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .onednn import plain_convolutions
from .syn import SynGenerator
from .syn_fast import MapFeatures, run_layers
from .syn_fast_layers import run_layer, styled_conv, to_rgb
from .syn_layers import CODE_DIM, NUM_LABELS, ToRGB

Box = tuple[int, int, int, int]  # (y0, x0, y1, x1) in pixels, ends exclusive

REACH = 3  # input pixels around a window that every layer's output in the window depends on
WHOLE = 0.5  # a window over more than this fraction of a layer's output: the layer is recomputed whole


FLOAT16_MAX = 65504.0


@dataclass
class RenderContext:
    """Every layer's output of one render (batch 1) and the demodulations it applied: what a local update reads
    outside its window. ``labels`` is the map the outputs now belong to. The convolutions' outputs may be kept
    in a narrower dtype than they were computed in (:func:`render_recorded`'s ``store``); the images (ToRGB
    outputs) never are."""

    side: int
    labels: np.ndarray
    style: torch.Tensor
    noise: list
    outputs: dict
    demod: dict

    @property
    def image(self) -> torch.Tensor:
        return self.outputs[next(reversed(self.outputs))]  # the last layer is the ToRGB of ``side``

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.outputs.values(), *self.demod.values()))


def _walk(gen: SynGenerator, side: int):
    """(name, layer, input resolution, name of the layer feeding x, name of the ToRGB feeding the skip, noise
    index) in forward order; x of the first layer is the stem."""
    conv, rgb, ni = None, None, 0
    for name, layer, res in gen.layers(side):
        if isinstance(layer, ToRGB):
            yield name, layer, res, conv, rgb, None
            rgb = name
        else:
            yield name, layer, res, conv, None, ni
            conv, ni = name, ni + 1


@torch.no_grad()
def render_recorded(gen: SynGenerator, features: MapFeatures, style: torch.Tensor, noise: list,
                    labels: np.ndarray, store: torch.dtype | None = None) -> RenderContext:
    """The fast-path render of ``features``' map (:func:`.syn_fast.run_layers`, stopping at the map's side),
    keeping every layer's output. ``store``: keep the convolutions' outputs in this dtype (float16 halves what
    a float32 context holds, ~110 MB at 256; a layer whose values float16 cannot hold stays as computed)."""
    side = features.sem.shape[-1]
    style = style.reshape(1, NUM_LABELS, CODE_DIM).to(features.stem.dtype)
    ctx = RenderContext(side, np.array(labels, copy=True), style, noise, {}, {})
    run_layers(gen, features, style, noise, side, ctx.outputs, ctx.demod)
    if store is not None:
        convolutions = {name for name, layer, _ in gen.layers(side) if not isinstance(layer, ToRGB)}
        for name, out in ctx.outputs.items():
            if name in convolutions:
                ctx.outputs[name] = _narrowed(out, store)
    return ctx


def _narrowed(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if t.dtype == dtype or t.element_size() <= torch.empty(0, dtype=dtype).element_size():
        return t
    if dtype == torch.float16:
        lo, hi = t.aminmax()
        if not (torch.isfinite(lo) and torch.isfinite(hi) and max(-lo.item(), hi.item()) < FLOAT16_MAX):
            return t
    return t.to(dtype)


def scaled(box: Box, f: float, limit: int) -> Box:
    """``box`` at a resolution ``f`` times as fine, rounded outwards, within [0, limit)."""
    y0, x0, y1, x1 = box
    return (max(math.floor(y0 * f), 0), max(math.floor(x0 * f), 0), min(math.ceil(y1 * f), limit),
            min(math.ceil(x1 * f), limit))


def grown(box: Box, by: int, limit: int) -> Box:
    y0, x0, y1, x1 = box
    return max(y0 - by, 0), max(x0 - by, 0), min(y1 + by, limit), min(x1 + by, limit)


def _crop(t: torch.Tensor, box: Box) -> torch.Tensor:
    return t[:, :, box[0]:box[2], box[1]:box[3]]


def _within(t: torch.Tensor, box: Box, origin: tuple[int, int]) -> torch.Tensor:
    """The part of ``t`` (a crop whose first pixel is at ``origin``) that covers ``box``."""
    return t[:, :, box[0] - origin[0]:box[2] - origin[0], box[1] - origin[1]:box[3] - origin[1]]


@torch.no_grad()
def update_local(gen: SynGenerator, ctx: RenderContext, features: MapFeatures, labels: np.ndarray, box: Box
                 ) -> torch.Tensor:
    """Bring ``ctx`` to the map of ``features`` (``labels``), recomputing every layer inside ``box`` (at
    ``ctx.side``, already grown by the margin the caller chose) scaled to the layer's resolution; returns the
    image. ``ctx`` is updated in place."""
    if features.sem.shape[-1] != ctx.side:
        raise ValueError(f"the context is {ctx.side}x{ctx.side}, the map {features.sem.shape[-1]}")
    style = ctx.style
    for name, layer, res, x_from, skip_from, ni in _walk(gen, ctx.side):
        rgb = isinstance(layer, ToRGB)
        out_res = 2 * res if not rgb and layer.conv.upsample else res
        window = scaled(box, out_res / ctx.side, out_res)
        x = features.stem if x_from is None else ctx.outputs[x_from]
        skip = None if skip_from is None else ctx.outputs[skip_from]
        sem, spade = features.sems[res], features.spade[name]
        noise = None if ni is None else ctx.noise[ni]
        area = (window[2] - window[0]) * (window[3] - window[1])
        if area > WHOLE * out_res * out_res:
            out, demod = run_layer(layer, x.to(style.dtype), skip, style, sem, spade, noise,
                                   features.demod.get(name))
            ctx.outputs[name] = out if rgb else _narrowed(out, ctx.outputs[name].dtype)
            if demod is not None:
                ctx.demod[name] = demod
            continue
        if area == 0:
            continue
        with plain_convolutions():  # a crop's shape is seldom seen twice: no reordered weights kept for it
            part = _window(layer, rgb, res, out_res, window, x, skip, style, sem, spade, noise,
                           features.demod.get(name, ctx.demod.get(name)))
        _crop(ctx.outputs[name], window).copy_(part)
    ctx.labels = np.array(labels, copy=True)
    return ctx.image


def _window(layer, rgb: bool, res: int, out_res: int, window: Box, x, skip, style, sem, spade, noise, demod
            ) -> torch.Tensor:
    """A layer's output inside ``window`` (at ``out_res``), computed from crops of its inputs (at ``res``) grown
    by REACH; ``demod``: the demodulation to apply (the whole image's, kept from its last render)."""
    if rgb:
        crop = grown(window, REACH, res)
        part = _within(to_rgb(layer, _crop(x, crop).to(style.dtype), style, _crop(sem, crop), None,
                              _crop(spade, crop)), window, crop[:2])
        if skip is not None:  # the coarser image, up-sampled, plus this level's detail
            crop = grown(scaled(window, 0.5, res // 2), REACH, res // 2)
            part = part + _within(layer.upsample(_crop(skip, crop)), window, (2 * crop[0], 2 * crop[1]))
        return part
    up = layer.conv.upsample
    crop = grown(scaled(window, 0.5, res) if up else window, REACH, res)
    covered = scaled(crop, 2, out_res) if up else crop  # the output pixels the crop's output covers
    out, _ = styled_conv(layer, _crop(x, crop).to(style.dtype), style, _crop(sem, crop), _crop(noise, covered),
                         _crop(spade, crop), demod)
    return _within(out, window, covered[:2])
