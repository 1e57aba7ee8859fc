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

import numpy as np
import torch

from ..nets.allocator import tune_allocator
from ..nets.fan import FAN
from ..nets.runtime import dtype_name, pick_device, preview_dtype
from ..nets.sem import MappingNetwork, SemGenerator, StyleEncoder
from ..nets.syn import SynGenerator, one_hot
from ..nets.syn_fast import synthesize
from .base import EngineInfo, LayoutRequest, LayoutResult, RenderRequest
from .sem_edit import SemEditor
from .stroke_preview import StrokePreviews
from .syn_maps import MapFeatureCache
from .syn_styles import RegionStyles


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
    """SMILE_SYN behind the render protocol. A render is one of three kinds, each in its own method: *exact*
    (exports, headless: float32, the official path), *stroke* (a dab's preview: the last render updated around
    the change) and *preview* (interactive: reduced precision where the CPU has bf16 units, recorded for the
    next stroke). What they share lives in three small parts: the map features (:class:`MapFeatureCache`), the
    region styles (:class:`RegionStyles`) and the stroke previews (:class:`StrokePreviews`)."""

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
        self.maps = MapFeatureCache()
        self.styles = RegionStyles(self.device, self._sem)
        self.strokes = StrokePreviews()
        self._noise_maps: list[torch.Tensor] | None = None

    @property
    def info(self) -> EngineInfo:
        return EngineInfo("SMILE", official_weights=True, device=str(self.device),
                          preview_precision=dtype_name(self.preview_dtype))

    @property
    def large_side(self) -> int | None:
        return self.large.exact_gen.size if self.large is not None else None

    @classmethod
    def from_source(cls, source, **kw) -> NeuralRenderEngine:
        """The released file or one ``smile-studio train syn`` wrote (its size and widths read from it)."""
        return cls(SynGenerator.from_checkpoint(source), **kw)

    def session(self) -> NeuralRenderEngine:
        """This engine with stroke previews of its own (``RendersSessions``): the networks, the map features and
        the styles are shared."""
        view = copy.copy(self)
        view.strokes = StrokePreviews()
        return view

    # -- rendering ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def render(self, req: RenderRequest) -> np.ndarray:
        if req.exact:
            return self._exact(req)
        if req.stroke:
            return self._stroke(req)
        return self._preview(req)

    def _exact(self, req: RenderRequest) -> np.ndarray:
        if self.large is not None and req.size == self.large_side:
            return self.large.render(req)
        gen, dtype = self.exact_gen, torch.float32
        sem = self._sem(req.labels)
        feats = self.maps.features(gen, dtype, sem, req.labels)
        return self._image(synthesize(gen, sem, self.styles.of(gen, dtype, req), features=feats)[0], req)

    def _stroke(self, req: RenderRequest) -> np.ndarray:
        gen, dtype = self.fast_gen, self.preview_dtype
        img = self.strokes.update(
            gen, dtype, req, lambda r: self.styles.of(gen, dtype, r),
            lambda labels: self.maps.features(gen, dtype, self._sem(labels, keep_level=True), labels,
                                              spend_previous=True))
        if img is not None:
            return self._image(img[0], req)
        return self._preview(req.halved())  # nothing to update: a half-size render, which the next dabs update

    def _preview(self, req: RenderRequest) -> np.ndarray:
        # a render asked at a smaller side that is one of the generator's levels stops there (the coarse image
        # the finer levels add detail to): a 128 render skips the most expensive level of a 256 one
        gen, dtype = self.fast_gen, self.preview_dtype
        sem = self._sem(req.labels, keep_level=True)
        style = self.styles.of(gen, dtype, req)
        feats = self.maps.features(gen, dtype, sem, req.labels)
        return self._image(self.strokes.record(gen, feats, style, self._noise(), req.labels, dtype)[0], req)

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
        style = torch.cat([self.styles.of(gen, dtype, r) for r in reqs])
        img = synthesize(gen, sem, style)
        return [self._image(img[i], r) for i, r in enumerate(reqs)]

    # -- shared ------------------------------------------------------------------------------------------------
    def _sem(self, labels: np.ndarray, keep_level: bool = False) -> torch.Tensor:
        """One-hot map at the generator's size; ``keep_level``: left at a smaller side the generator passes
        through (a preview rendered up to that level)."""
        lab = torch.from_numpy(np.ascontiguousarray(labels, np.int64))[None]
        sem = one_hot(lab).to(self.device)
        size = self.exact_gen.size
        if sem.shape[-1] != size and not (keep_level and sem.shape[-1] in self.exact_gen.levels()):
            sem = torch.nn.functional.interpolate(sem, size=(size, size), mode="nearest")
        return sem

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


def _fit_map(m: np.ndarray, size: int) -> np.ndarray:
    if m.shape[0] == size:
        return m
    import cv2

    return cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST)
