"""SMILE_SYN rendered fast: the renderer the editor, the engines and the evaluation use, over the generator's
parameters (:class:`.syn.SynGenerator`), equal to its official ``forward`` (a test and the golden fixtures hold
it so).

Everything that depends only on the map — the semantic stem, every SPADE term, the demodulation of the
SPADE-only level, the map at every resolution — is :class:`MapFeatures`, computed once by :func:`map_features`
and reused while only styles change (or updated in a stroke's box by :func:`map_features_update`). Each layer
then runs the maths of :mod:`.syn_fast_layers` (:func:`run_layers`); :func:`synthesize` is the whole render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .onednn import plain_convolutions
from .syn import SynGenerator
from .syn_fast_layers import border_band, demod_from_sums, run_layer, spade_term, window_sums
from .syn_layers import CODE_DIM, NUM_LABELS, ToRGB, resize_nearest


@dataclass
class MapFeatures:
    """Everything the generator computes from the layout alone (valid for one map, any style)."""

    sem: torch.Tensor  # (B, 19, S, S) one-hot
    stem: torch.Tensor  # (B, 512, 8, 8)
    sems: dict = field(default_factory=dict)  # resolution -> one-hot at that resolution
    spade: dict = field(default_factory=dict)  # layer name -> SPADE gamma
    demod: dict = field(default_factory=dict)  # SPADE-only layer name -> its demodulation (B, Cout)
    sums: dict = field(default_factory=dict)  # SPADE-only layer name -> window sums of gamma^2 it came from


@torch.no_grad()
def synthesize(gen: SynGenerator, sem: torch.Tensor, style: torch.Tensor, noise: list[torch.Tensor] | None = None,
               features: MapFeatures | None = None, upto: int | None = None) -> torch.Tensor:
    """``gen(sem, style, noise)`` on the fast path: sem one-hot (B or 1, 19, S, S), style (B, 19, 64) or
    (B, 1216) -> image (B, 3, S, S), float32. ``noise`` defaults to ``make_noise(0)`` as the official wrapper
    uses; ``features``: the map's, computed before. ``upto`` (one of ``gen.levels()``) stops at the image the
    skip connections have summed at that side: the coarse image the finer levels add detail to, for quick
    previews (a 128 preview at 256 skips the most expensive level); ``sem`` may then be given at that side."""
    style = style.reshape(style.shape[0], NUM_LABELS, CODE_DIM)
    if noise is None:
        noise = gen.make_noise(0, sem.device)
    if upto is not None and upto not in gen.levels():
        raise ValueError(f"upto must be one of {gen.levels()}, not {upto}")
    if features is None:
        features = map_features(gen, sem, dtype=style.dtype, upto=upto)
    return run_layers(gen, features, style.to(features.stem.dtype), noise, upto).float()


def run_layers(gen: SynGenerator, features: MapFeatures, style: torch.Tensor, noise: list[torch.Tensor],
               upto: int | None = None, outputs: dict | None = None, demods: dict | None = None) -> torch.Tensor:
    """The layers up to the image of side ``upto``; returns that image. ``outputs`` and ``demods``, when given,
    receive every layer's output and every modulated convolution's demodulation (what a local update of a
    stroke reads, :mod:`.syn_local`)."""
    out = features.stem
    if out.shape[0] != style.shape[0]:
        out = out.expand(style.shape[0], -1, -1, -1)
    skip = None
    ni = 0
    for name, layer, res in gen.layers(upto):
        rgb = isinstance(layer, ToRGB)
        y, demod = run_layer(layer, out, skip, style, features.sems[res], features.spade[name],
                             None if rgb else noise[ni], features.demod.get(name))
        if rgb:
            skip = y
        else:
            out, ni = y, ni + 1
        if outputs is not None:
            outputs[name] = y
        if demods is not None and demod is not None:
            demods[name] = demod
    return skip


@torch.no_grad()
def map_features(gen: SynGenerator, sem: torch.Tensor, dtype: torch.dtype | None = None, upto: int | None = None
                 ) -> MapFeatures:
    """Everything that depends only on the layout; reuse it for every style of the same map. ``upto``: only
    what an image of that side needs (see :func:`synthesize`)."""
    dtype = dtype or sem.dtype
    bands: dict = {}

    def term(name: str, layer: nn.Module, s: torch.Tensor, res: int) -> torch.Tensor:
        if res not in bands:
            bands[res] = None
            # float32 on a CPU: skipping region interiors pays; bf16 matrix units or a GPU convolve faster than
            # the gather costs
            if s.shape[0] == 1 and res >= 64 and dtype == torch.float32 and s.device.type == "cpu":
                lab = s[0].argmax(0).to(torch.uint8).cpu().numpy()
                band = border_band(lab)
                bands[res] = (band, lab) if band.mean() < 0.7 else None
        return spade_term(layer.conv, s, bands[res])

    return _features(gen, sem, dtype, gen.layers(upto), term)


@torch.no_grad()
def map_features_update(gen: SynGenerator, old: MapFeatures, sem: torch.Tensor, box: tuple[int, int, int, int],
                        in_place: bool = False) -> MapFeatures:
    """``map_features(gen, sem)`` from the features of a map that differs from ``sem`` only inside ``box`` =
    (y0, x0, y1, x1) at the map's resolution, ends exclusive (a brush stroke): each SPADE term is recomputed on
    the box grown by its receptive field and pasted into a copy of the old one (into the old one itself with
    ``in_place``: no copy of ~130 MB per dab, ``old`` is spent); the SPADE-only demodulations' window sums change
    by the box's old and new contributions (in float64); the stem and the resized maps are small and recomputed
    whole. Batch 1."""
    size = sem.shape[-1]
    y0, x0, y1, x1 = box
    sums: dict = {}

    def term(name: str, layer: nn.Module, s: torch.Tensor, res: int) -> torch.Tensor:
        f = res / size
        # pixels at this resolution whose source pixel may lie in the box (1 for rounding), grown by the 2 px the
        # two 3x3 convolutions of the SPADE branch see
        r0, c0 = max(int(y0 * f) - 3, 0), max(int(x0 * f) - 3, 0)
        r1, c1 = min(math.ceil(y1 * f) + 3, res), min(math.ceil(x1 * f) + 3, res)
        # their inputs, with 2 px of context where the image has it (at the image's edge the crop's zero padding
        # is the image's own)
        i0, j0, i1, j1 = max(r0 - 2, 0), max(c0 - 2, 0), min(r1 + 2, res), min(c1 + 2, res)
        with plain_convolutions():  # a crop's shape is seldom seen twice: no reordered weights kept for it
            part = spade_term(layer.conv, s[:, :, i0:i1, j0:j1].contiguous(memory_format=torch.channels_last))
        spade = old.spade[name] if in_place else old.spade[name].clone()
        new = part[:, :, r0 - i0:r1 - i0, c0 - j0:c1 - j0]
        if name in old.sums:
            edges = (r0 == 0, r1 == res, c0 == 0, c1 == res)
            k = layer.conv.k
            sums[name] = (old.sums[name] + window_sums(new.double() ** 2, k, edges, torch.float64)
                          - window_sums(spade[:, :, r0:r1, c0:c1].double() ** 2, k, edges, torch.float64))
        spade[:, :, r0:r1, c0:c1] = new
        return spade

    layers = (item for item in gen.layers() if item[0] in old.spade)  # old may stop at a level (``upto``)
    return _features(gen, sem, old.stem.dtype, layers, term, sums)


def _features(gen: SynGenerator, sem: torch.Tensor, dtype: torch.dtype, layers, term, sums: dict | None = None
              ) -> MapFeatures:
    """The stem, the map at every resolution, each layer's SPADE term (``term(name, layer, map at its
    resolution, resolution)``) and the demodulation of the SPADE-only layers (from ``sums``, their window sums,
    where given)."""
    sem = sem.to(dtype).contiguous(memory_format=torch.channels_last)
    feats = MapFeatures(sem=sem, stem=gen.input(resize_nearest(sem, (gen.input_sem_size,) * 2)))
    for name, layer, res in layers:
        s = feats.sems.get(res)
        if s is None:
            s = feats.sems[res] = resize_nearest(sem, (res, res)).contiguous(memory_format=torch.channels_last)
        feats.spade[name] = term(name, layer, s, res)
        if layer.conv.only_spade and layer.conv.demodulate:
            g = feats.spade[name]
            total = (sums or {}).get(name)
            feats.sums[name] = total if total is not None else window_sums(g * g, layer.conv.k,
                                                                            dtype=torch.float64)
            feats.demod[name] = demod_from_sums(layer.conv, feats.sums[name], res * res, g.dtype)
    return feats
