"""The attribute-editing API over SMILE_SEM (Qt-free; the GUI and the CLI use only this).

Given a map, its six attribute values and targets for any subset of them, returns the new map(s), the label
vectors and the style used. The source style is ``S(map, y_src)``; the slots of the changed attributes are
replaced — from the mapping network ``F(z, y_trg)`` with truncation towards a per-domain mean (latent mode), or
from ``S(reference, y_ref)`` (reference mode) — so every attribute not asked for keeps its source slot.
Heatmaps, source styles, G's encoder features and its FAN skips are cached per photo/map, so a second toggle on
the same face runs only the mapping heads it needs, G's decoder and argmax.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..core.labels import ATTRIBUTES, NUM_CLASSES, label_vector, validate_attributes
from ..nets.fan import FAN
from ..nets.runtime import image_tensor
from ..nets.sem import NOISE_DIM, MappingNetwork, SemGenerator, StyleEncoder
from .base import LayoutRequest
from .cache import array_digest, lru_get

MEAN_SAMPLES = 1000


@dataclass(frozen=True)
class SemEdit:
    maps: np.ndarray  # (V, S, S) uint8
    style: torch.Tensor  # (V, 6, 64) the style G used
    source_style: torch.Tensor  # (1, 6, 64)
    y_src: np.ndarray  # (12,)
    y_trg: np.ndarray  # (12,)
    slots: tuple[int, ...]  # style slots (attribute indices) that were replaced
    seeds: tuple[int, ...]


class SemEditor:
    def __init__(self, generator: SemGenerator, mapping: MappingNetwork, encoder: StyleEncoder,
                 fan: FAN | None = None, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        self.device = torch.device(device)
        self.dtype = dtype
        cl = torch.channels_last
        self.G = generator.eval().to(self.device, dtype).to(memory_format=cl)
        self.F = mapping.eval().to(self.device)  # tiny: kept in float32
        self.S = encoder.eval().to(self.device, dtype).to(memory_format=cl)
        self.fan = fan.eval().to(self.device).to(memory_format=cl) if fan is not None else None
        self.size = generator.size
        self._cache: OrderedDict = OrderedDict()
        self._domain_mean: torch.Tensor | None = None

    # -- cached pieces -----------------------------------------------------------------------------------------
    def _cached(self, key, fn):
        return lru_get(self._cache, 32, key, fn, max_bytes=256 * 2**20)

    def one_hot(self, labels: np.ndarray) -> torch.Tensor:
        lab = torch.from_numpy(np.ascontiguousarray(labels, np.int64)).to(self.device)
        if lab.shape[-1] != self.size:
            lab = F.interpolate(lab[None, None].float(), size=(self.size, self.size), mode="nearest")[0, 0].long()
        oh = F.one_hot(lab, NUM_CLASSES).permute(2, 0, 1)[None].to(self.dtype)
        return oh.contiguous(memory_format=torch.channels_last)

    def heatmaps(self, photo: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor]:
        """FAN masks of the photo; without a photo or FAN weights, all-ones masks (every skip fully open)."""
        if photo is None or self.fan is None:
            ones = torch.ones(1, 1, 256, 256, device=self.device, dtype=self.dtype)
            return ones, ones

        def compute():
            rgb = image_tensor(photo).to(self.device)
            m1, m2 = self.fan.get_heatmap(rgb / 127.5 - 1)
            return m1.to(self.dtype), m2.to(self.dtype)

        return self._cached(("fan", array_digest(photo)), compute)

    def source_style(self, labels: np.ndarray, y: np.ndarray) -> torch.Tensor:
        def compute():
            return self.S(self.one_hot(labels), torch.from_numpy(y)[None].to(self.device)).float()

        return self._cached(("S", array_digest(labels, y)), compute)

    def encoded(self, labels: np.ndarray, x: torch.Tensor | None = None):
        """G's encoder features of the map (its one-hot ``x`` when already made)."""
        def compute():
            return self.G.encoder((self.one_hot(labels) if x is None else x).contiguous(
                memory_format=torch.channels_last))

        return self._cached(("enc", array_digest(labels)), compute)

    def skips(self, labels: np.ndarray, photo: np.ndarray | None, encoded: tuple) -> dict:
        """G's FAN skips for this map and photo (style-independent)."""
        key = ("skips", array_digest(labels), None if photo is None or self.fan is None else array_digest(photo))
        return self._cached(key, lambda: self.G.skips(encoded[1], self.heatmaps(photo)))

    @torch.no_grad()
    def prepare(self, labels: np.ndarray, photo: np.ndarray | None, attributes: dict) -> None:
        """Compute ahead what every edit of this face needs (landmark heatmaps, the face's style, G's encoder
        features, the domain means): run while the user looks at a face just opened, the first toggle then
        costs what a second one does."""
        self.source_style(labels, label_vector(validate_attributes(attributes)))
        self.skips(labels, photo, self.encoded(labels))
        self.domain_means()

    def domain_means(self) -> torch.Tensor:
        """Mean mapped style of every domain over 1000 z drawn from a fixed seed: (12, 64)."""
        if self._domain_mean is None:
            g = torch.Generator().manual_seed(12345)
            z = torch.randn(MEAN_SAMPLES, NOISE_DIM, generator=g).to(self.device)
            self._domain_mean = self.F.all_heads(z).mean(0)
        return self._domain_mean

    # -- editing -----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def edit(self, request: LayoutRequest) -> SemEdit:
        """The request's attribute edit (validated by LayoutRequest itself), ``variations`` maps in one pass."""
        labels, photo, psi, seed = request.labels, request.photo, request.psi, request.seed
        reference_labels, reference_attributes = request.reference_labels, request.reference_attributes
        cur, new = request.current, request.new_state()
        y_src, y_trg = label_vector(cur), label_vector(new)
        slots = tuple(i for i, a in enumerate(ATTRIBUTES) if cur[a.key] != new[a.key])
        v = int(request.variations)
        base = self.source_style(labels, y_src)  # (1, 6, 64)
        style = base.repeat(v, 1, 1)
        seeds = tuple(seed + i for i in range(v))
        if slots:
            if reference_labels is not None:
                ref_state = validate_attributes(dict(reference_attributes or new))
                y_ref = label_vector(ref_state)
                ref_style = self.source_style(reference_labels, y_ref)
                for k in slots:
                    style[:, k] = ref_style[0, k]
            else:
                z = torch.stack([torch.randn(NOISE_DIM, generator=torch.Generator().manual_seed(s)) for s in seeds])
                # only the heads of the changed attributes' target values run (the others' outputs are not used)
                columns = [2 * k + int(np.argmax(y_trg[2 * k:2 * k + 2])) for k in slots]
                lat = self.F.all_heads(z.to(self.device), columns)  # (V, len(slots), 64)
                mean = self.domain_means()[columns]
                lat = mean[None] + float(psi) * (lat - mean[None])
                for i, k in enumerate(slots):
                    style[:, k] = lat[:, i]
        x = self.one_hot(labels)
        encoded = self.encoded(labels, x)
        logits = self.G(x, style.to(self.dtype), self.heatmaps(photo), encoded=encoded,
                        skips=self.skips(labels, photo, encoded))
        maps = logits.argmax(1).to(torch.uint8).cpu().numpy()
        return SemEdit(maps, style, base, y_src, y_trg, slots, seeds)
