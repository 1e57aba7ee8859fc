"""The SMILE engines: SMILE_SEM for attribute edits and SMILE_SYN for rendering, on the official networks.

Device and precision: CUDA when available, CPU otherwise. Attribute edits run in float32 (the same seed gives the
same map everywhere); renders marked exact (exports, headless) run in float32, interactive previews in bf16 on CPUs
with bf16 matrix units. Models stay resident; photo encodings are cached, and a map that differs from the previous
one in a small box (a brush stroke) updates that map's features. A stroke's preview (``RenderRequest.stroke``)
updates the last interactive render around the change (:mod:`..nets.syn_local`; approximate, the exact render
follows the stroke); a render asked at a generator level's side stops at that level.
"""

from __future__ import annotations

import copy
import math
import os
from collections import OrderedDict

import numpy as np
import torch

from ..core.labels import NUM_CLASSES
from ..nets.allocator import tune_allocator
from ..nets.fan import FAN
from ..nets.runtime import dtype_name, image_tensor, pick_device, preview_dtype
from ..nets.sem import MappingNetwork, SemGenerator, StyleEncoder
from ..nets.syn import SynGenerator, mix_styles, one_hot
from ..nets.syn_local import RenderContext, grown, render_recorded, update_local
from ..weights import checkpoint_path
from .base import EngineInfo, LayoutRequest, LayoutResult, RenderRequest
from .cache import array_digest, lru_get, nbytes
from .sem_edit import SemEditor


class NeuralLayoutEngine:
    name = "smile"
    description = "SMILE_SEM (official network)"

    def __init__(self, editor: SemEditor):
        self.editor = editor

    @classmethod
    def from_sources(cls, g, f, s, fan=None, device: str = "auto", dtype=torch.float32) -> NeuralLayoutEngine:
        # shaped by the files themselves: the released networks, or ones trained with other sizes and widths
        nets = [SemGenerator.from_checkpoint(g), MappingNetwork.from_checkpoint(f), StyleEncoder.from_checkpoint(s)]
        if nets[0].size != nets[2].size:
            raise ValueError(f"the SEM generator is {nets[0].size}x{nets[0].size} but the style encoder "
                             f"{nets[2].size}x{nets[2].size}: files of different runs")
        fan_net = None
        if fan is not None:
            fan_net = FAN()
            fan_net.load_official(fan)
        return cls(SemEditor(*nets, fan=fan_net, device=pick_device(device), dtype=dtype))

    @property
    def info(self) -> EngineInfo:
        return EngineInfo("SMILE", official_weights=True, device=str(self.editor.device))

    def prepare(self, labels: np.ndarray, photo: np.ndarray | None, attributes: dict) -> None:
        """What every edit of this face needs, computed ahead (see :meth:`SemEditor.prepare`)."""
        self.editor.prepare(labels, photo, attributes)

    def edit(self, request: LayoutRequest) -> LayoutResult:
        res = self.editor.edit(request)
        maps = tuple(_fit_map(m, request.labels.shape[0]) for m in res.maps)
        return LayoutResult(maps=maps, attributes=request.new_state(), seeds=res.seeds, engine=self.name,
                            style=res.style.cpu().numpy())


class NeuralRenderEngine:
    name = "smile"
    description = "SMILE_SYN (official network)"

    def __init__(self, generator: SynGenerator, device: str = "auto", precision: str = "auto",
                 large: NeuralRenderEngine | None = None):
        """``precision``: 'exact' renders everything in float32; 'auto'/'fast' renders interactive previews in
        bf16 on CPUs with bf16 matrix units (~3x faster, within ~0.04 of float32 on the [-1, 1] image) and
        requests marked ``exact`` (exports, headless) in float32. ``large``: the engine of a larger generator
        (SMILE_SYN 512) for exact renders asked at its side."""
        self.device = pick_device(device)
        self.large = large
        if self.device.type == "cpu":
            tune_allocator()
        self.exact_gen = generator.eval().to(self.device)
        self.preview_dtype = preview_dtype(self.device, precision)
        self.fast_gen = self.exact_gen
        if self.preview_dtype != torch.float32:
            self.fast_gen = copy.deepcopy(self.exact_gen).to(self.preview_dtype)
            self.description = f"{self.description}, {dtype_name(self.preview_dtype)} previews"
        # region codes of photos are small and reused across edits; a map's features are large (~80 MB in bf16)
        # and while painting every stroke makes a new map, so only the last few are kept
        self._codes_cache: OrderedDict = OrderedDict()
        self._styles_cache: OrderedDict = OrderedDict()  # seed -> mapped style (the 8-layer mapping network)
        self._maps_cache: OrderedDict = OrderedDict()
        self._context: RenderContext | None = None  # the last interactive render, every layer's output
        self._noise_maps: list[torch.Tensor] | None = None

    @property
    def info(self) -> EngineInfo:
        fast = self.preview_dtype != torch.float32
        return EngineInfo("SMILE", official_weights=True, device=str(self.device),
                          preview_precision=dtype_name(self.preview_dtype) if fast else None)

    @property
    def large_side(self) -> int | None:
        return self.large.exact_gen.size if self.large is not None else None

    @classmethod
    def from_source(cls, source, **kw) -> NeuralRenderEngine:
        """The released file or one ``smile-studio train syn`` wrote (its size and widths read from it)."""
        return cls(SynGenerator.from_checkpoint(source), **kw)

    def _sem(self, labels: np.ndarray, keep_level: bool = False) -> torch.Tensor:
        """One-hot map at the generator's size; ``keep_level``: left at a smaller side the generator passes
        through (a preview rendered up to that level)."""
        lab = torch.from_numpy(np.ascontiguousarray(labels, np.int64))[None]
        sem = one_hot(lab).to(self.device)
        size = self.exact_gen.size
        if sem.shape[-1] != size and not (keep_level and sem.shape[-1] in self.exact_gen.levels()):
            sem = torch.nn.functional.interpolate(sem, size=(size, size), mode="nearest")
        return sem

    def _codes(self, gen: SynGenerator, dtype: torch.dtype, rgb: np.ndarray, labels: np.ndarray) -> torch.Tensor:
        def compute():
            x = image_tensor(rgb).to(self.device)
            x = torch.nn.functional.interpolate(x / 127.5 - 1, size=(gen.size, gen.size), mode="bilinear")
            codes, present = gen.encode(x.to(dtype), self._sem(labels).to(dtype))
            return codes.float(), present

        return lru_get(self._codes_cache, 16, (dtype, array_digest(rgb, labels)), compute, max_bytes=64 * 2**20)

    def _seed_style(self, gen: SynGenerator, dtype: torch.dtype, seed: int) -> torch.Tensor:
        def compute():
            return gen.map_style(gen.random_z(seed).to(self.device).to(dtype)).float()

        return lru_get(self._styles_cache, 64, (dtype, seed), compute)

    def _map_features(self, gen: SynGenerator, dtype: torch.dtype, sem: torch.Tensor, labels: np.ndarray,
                      spend_previous: bool = False):
        """The map's features: cached, or updated from the newest cached map when they differ in a small box
        (a brush stroke: ~4x less work than computing them anew; ``spend_previous``: in that map's own tensors,
        which then leave the cache), or computed. The cache is bounded in bytes (a 256 map's are ~140 MB)."""
        key = (dtype, labels.shape, array_digest(labels))
        cache = self._maps_cache
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
                feats = gen.map_features_update(old_feats, sem, box, in_place=spend_previous)
        if feats is None:
            feats = gen.map_features(sem, dtype=dtype, upto=sem.shape[-1])
        cache[key] = (np.array(labels, copy=True), feats)
        while len(cache) > 1 and sum(nbytes(v) for v in cache.values()) > MAP_CACHE_BYTES:
            # the oldest map of the new one's kind goes first: previews at another side keep the full-size map
            same = [k for k in cache if k[:2] == key[:2] and k != key]
            del cache[same[0] if same else next(iter(cache))]
        return feats

    def _style(self, gen: SynGenerator, dtype: torch.dtype, req: RenderRequest) -> torch.Tensor:
        """The request's per-region style (1, 19, 64): the photo's codes (absent regions from seed 0), with the
        regions styled by a seed or a reference taking those codes."""
        sources: list[torch.Tensor] = []
        choice = []
        fill = self._seed_style(gen, dtype, 0)  # for absent regions
        base = fill
        if req.photo is not None and req.source_labels is not None:
            codes, present = self._codes(gen, dtype, req.photo, req.source_labels)
            base = torch.where(present[..., None], codes, fill)
        sources.append(base)
        index: dict = {}
        for c in range(NUM_CLASSES):
            s = req.styles[c]
            if s.kind == "seed":
                key = ("seed", s.seed)
                if key not in index:
                    index[key] = len(sources)
                    sources.append(self._seed_style(gen, dtype, s.seed))
                choice.append(index[key])
            elif s.kind == "reference" and (ref := req.reference(s.ref)) is not None and ref.labels is not None:
                key = ("ref", ref.id)
                if key not in index:
                    codes, present = self._codes(gen, dtype, ref.rgb, ref.labels)
                    index[key] = len(sources)
                    sources.append(torch.where(present[..., None], codes, base))
                choice.append(index[key])
            else:
                choice.append(0)
        return mix_styles(sources, choice).to(dtype)

    @staticmethod
    def _image(img: torch.Tensor, req: RenderRequest) -> np.ndarray:
        out = ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
        size = req.size or req.labels.shape[0]
        if out.shape[0] != size:
            import cv2

            out = cv2.resize(out, (size, size),
                             interpolation=cv2.INTER_AREA if out.shape[0] > size else cv2.INTER_CUBIC)
        return out

    def _noise(self) -> list[torch.Tensor]:
        if self._noise_maps is None:
            self._noise_maps = self.exact_gen.make_noise(0, self.device)  # the official renders' fixed noise
        return self._noise_maps

    @torch.no_grad()
    def render(self, req: RenderRequest) -> np.ndarray:
        if req.exact and self.large is not None and req.size == self.large_side:
            return self.large.render(req)
        if req.exact:
            gen, dtype = self.exact_gen, torch.float32
            sem = self._sem(req.labels)
            feats = self._map_features(gen, dtype, sem, req.labels)
            return self._image(gen.synthesize(sem, self._style(gen, dtype, req), features=feats)[0], req)
        gen, dtype = self.fast_gen, self.preview_dtype
        if req.stroke:
            img = self._stroke_update(gen, dtype, req)
            if img is not None:
                return self._image(img[0], req)
            req = req.halved()  # no render of this face to update: a half-size one, which the next dabs update
        # a render asked at a smaller side that is one of the generator's levels stops there (the coarse image
        # the finer levels add detail to): a 128 render skips the most expensive level of a 256 one
        sem = self._sem(req.labels, keep_level=True)
        style = self._style(gen, dtype, req)
        feats = self._map_features(gen, dtype, sem, req.labels)
        self._context = None  # let the last render's outputs go before the new ones are made
        # a float32 context is kept in float16 (half the memory; its rounding is far below a stroke preview's error)
        store = torch.float16 if dtype == torch.float32 else None
        self._context = render_recorded(gen, feats, style, self._noise(), req.labels, store)
        return self._image(self._context.image[0], req)

    def _stroke_update(self, gen: SynGenerator, dtype: torch.dtype, req: RenderRequest) -> torch.Tensor | None:
        """The last render brought to the request's map around what changed (``nets.syn_local``): a fraction of
        a render's work, approximate away from the change; None where there is no such render to update (none
        yet, another style, another precision, or a change too large)."""
        ctx = self._context
        if ctx is None or ctx.style.dtype != dtype or req.labels.shape[0] not in (ctx.side, 2 * ctx.side):
            return None
        if req.labels.shape[0] != ctx.side:
            req = req.halved()
        if req.labels.shape != ctx.labels.shape:
            return None
        style = self._style(gen, dtype, req)
        if not torch.equal(style.reshape(ctx.style.shape), ctx.style):
            return None
        box = changed_box(ctx.labels, req.labels)
        if box is None:
            return ctx.image
        if not stroke_sized(box, req.labels):
            return None
        sem = self._sem(req.labels, keep_level=True)
        feats = self._map_features(gen, dtype, sem, req.labels, spend_previous=True)
        return update_local(gen, ctx, feats, req.labels, grown(box, int(ctx.side * STROKE_MARGIN), ctx.side))

    @torch.no_grad()
    def render_many(self, reqs: list[RenderRequest]) -> list[np.ndarray]:
        """Several exact renders (different maps and styles) through the generator as one batch: what a folder
        of faces needs on a GPU. Requests that are not all exact are rendered one by one."""
        large = [self.large is not None and r.size == self.large_side for r in reqs]
        if all(large):
            return self.large.render_many(reqs)
        if not all(r.exact for r in reqs) or any(large):  # mixed sides or previews: one by one
            return [self.render(r) for r in reqs]
        gen, dtype = self.exact_gen, torch.float32
        sem = torch.cat([self._sem(r.labels) for r in reqs])
        style = torch.cat([self._style(gen, dtype, r) for r in reqs])
        img = gen.synthesize(sem, style)
        return [self._image(img[i], r) for i, r in enumerate(reqs)]


STROKE_AREA = 0.25  # a changed box up to this fraction of the map updates the previous map's features
STROKE_MARGIN = 3 / 32  # a dab's preview recomputes its changed box grown by this fraction of the side, per level
MAP_CACHE_BYTES = 192 * 2**20  # one 256 map's features in float32 and a 128 map's, or two 256 maps' in bf16


def changed_box(old: np.ndarray, new: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, x0, y1, x1), ends exclusive, around the pixels where two maps differ; None where they are equal."""
    diff = np.asarray(old) != np.asarray(new)
    rows, cols = np.flatnonzero(diff.any(1)), np.flatnonzero(diff.any(0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def stroke_sized(box: tuple[int, int, int, int], labels: np.ndarray) -> bool:
    """Whether a changed box is small enough to be updated as a stroke (up to STROKE_AREA of the map)."""
    return (box[2] - box[0]) * (box[3] - box[1]) <= STROKE_AREA * labels.size


def _fit_map(m: np.ndarray, size: int) -> np.ndarray:
    if m.shape[0] == size:
        return m
    import cv2

    return cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST)


def neural_engines(interactive: bool = True) -> tuple[NeuralLayoutEngine, NeuralRenderEngine]:
    """Engines over the installed official checkpoints (the registry checks that they exist first).
    ``interactive=False`` (headless runs): float32 only, no preview copy of the generator."""
    fan = checkpoint_path("fan")
    layout = NeuralLayoutEngine.from_sources(checkpoint_path("sem_G"), checkpoint_path("sem_F"),
                                             checkpoint_path("sem_S"), fan if fan.is_file() else None)
    precision = os.environ.get("SMILE_STUDIO_PRECISION", "auto").strip().lower() if interactive else "exact"
    render = NeuralRenderEngine.from_source(
        checkpoint_path("syn256"), precision=precision if precision in ("auto", "fast", "exact") else "auto",
        large=_large_engine())
    return layout, render


def _large_engine() -> NeuralRenderEngine | None:
    """The optional SMILE_SYN 512 engine; a damaged file leaves SMILE at 256 (and says so in the log) instead of
    switching SMILE off."""
    path = checkpoint_path("syn512")
    if not path.is_file():
        return None
    try:
        return NeuralRenderEngine.from_source(path, precision="exact")
    except Exception as exc:  # noqa: BLE001 - an optional file must not cost the required ones
        import logging

        logging.getLogger(__name__).warning("SMILE_SYN 512 unusable, rendering at 256: %s", exc)
        return None
