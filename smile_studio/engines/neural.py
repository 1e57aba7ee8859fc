"""The SMILE engines: SMILE_SEM for attribute edits and SMILE_SYN for rendering, on the official networks.

Device and precision: CUDA when available (optional fp16/bf16 autocast), CPU otherwise (fp32 by default, bf16 on
request). Models stay resident; photo encodings and map features are cached between calls.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import torch

from ..core.labels import NUM_CLASSES
from ..nets.fan import FAN
from ..nets.runtime import pick_device, tune_allocator
from ..nets.sem import MappingNetwork, SemGenerator, StyleEncoder
from ..nets.syn import SynGenerator, mix_styles, one_hot
from ..weights import checkpoint_path
from .base import LayoutRequest, LayoutResult, RenderRequest
from .sem_edit import SemEditor


def _digest(a: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(a).data, digest_size=16).digest()


class NeuralLayoutEngine:
    name = "smile"
    description = "SMILE_SEM (official network)"

    def __init__(self, editor: SemEditor):
        self.editor = editor

    @classmethod
    def from_sources(cls, g, f, s, fan=None, device: str = "auto", dtype=torch.float32) -> NeuralLayoutEngine:
        nets = [SemGenerator(256), MappingNetwork(), StyleEncoder(256)]
        for net, src in zip(nets, (g, f, s), strict=True):
            net.load_official(src)
        fan_net = None
        if fan is not None:
            fan_net = FAN()
            fan_net.load_official(fan)
        return cls(SemEditor(*nets, fan=fan_net, device=pick_device(device), dtype=dtype))

    def edit(self, request: LayoutRequest) -> LayoutResult:
        res = self.editor.edit(request.labels, request.current, request.target, seed=request.seed, psi=request.psi,
                               variations=request.variations, reference_labels=request.reference_labels,
                               reference_attributes=request.reference_attributes, photo=request.photo)
        maps = tuple(_fit_map(m, request.labels.shape[0]) for m in res.maps)
        return LayoutResult(maps=maps, attributes=request.new_state(), seeds=res.seeds, engine=self.name,
                            style=res.style.cpu().numpy())


class NeuralRenderEngine:
    name = "smile"
    description = "SMILE_SYN (official network)"

    def __init__(self, generator: SynGenerator, device: str = "auto", dtype=torch.float32):
        self.device = pick_device(device)
        if self.device.type == "cpu":
            tune_allocator()
        self.dtype = dtype
        self.gen = generator.eval().to(self.device)
        if dtype != torch.float32:
            self.gen = self.gen.to(dtype)
        self._cache: OrderedDict = OrderedDict()

    @classmethod
    def from_source(cls, source, size: int = 256, **kw) -> NeuralRenderEngine:
        gen = SynGenerator(size)
        gen.load_official(source)
        return cls(gen, **kw)

    def _cached(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return self._cache[key]

    def _sem(self, labels: np.ndarray) -> torch.Tensor:
        lab = torch.from_numpy(np.ascontiguousarray(labels, np.int64))[None]
        sem = one_hot(lab).to(self.device)
        size = self.gen.size
        if sem.shape[-1] != size:
            sem = torch.nn.functional.interpolate(sem, size=(size, size), mode="nearest")
        return sem

    def _codes(self, rgb: np.ndarray, labels: np.ndarray) -> torch.Tensor:
        def compute():
            x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().to(self.device)
            x = torch.nn.functional.interpolate(x / 127.5 - 1, size=(self.gen.size, self.gen.size), mode="bilinear")
            codes, present = self.gen.encode(x.to(self.dtype), self._sem(labels).to(self.dtype))
            return codes.float(), present

        return self._cached(("codes", _digest(rgb), _digest(labels)), compute)

    @torch.no_grad()
    def render(self, req: RenderRequest) -> np.ndarray:
        sem = self._sem(req.labels)
        sources: list[torch.Tensor] = []
        choice = []
        fill = self.gen.map_style(self.gen.random_z(0).to(self.device).to(self.dtype)).float()  # for absent regions
        base = fill
        if req.photo is not None and req.source_labels is not None:
            codes, present = self._codes(req.photo, req.source_labels)
            base = torch.where(present[..., None], codes, fill)
        sources.append(base)
        index: dict = {}
        for c in range(NUM_CLASSES):
            s = req.styles[c]
            if s.kind == "seed":
                key = ("seed", s.seed)
                if key not in index:
                    z = self.gen.random_z(s.seed).to(self.device).to(self.dtype)
                    index[key] = len(sources)
                    sources.append(self.gen.map_style(z).float())
                choice.append(index[key])
            elif s.kind == "reference" and (ref := req.reference(s.ref)) is not None and ref.labels is not None:
                key = ("ref", ref.id)
                if key not in index:
                    codes, present = self._codes(ref.rgb, ref.labels)
                    index[key] = len(sources)
                    sources.append(torch.where(present[..., None], codes, base))
                choice.append(index[key])
            else:
                choice.append(0)
        style = mix_styles(sources, choice).to(self.dtype)
        feats = self._cached(("map", _digest(req.labels)), lambda: self.gen.map_features(sem, dtype=self.dtype))
        img = self.gen.synthesize(sem, style, features=feats)
        out = ((img.clamp(-1, 1) + 1) * 127.5).round().byte()[0].permute(1, 2, 0).cpu().numpy()
        size = req.size or req.labels.shape[0]
        if out.shape[0] != size:
            import cv2

            out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
        return out


def _fit_map(m: np.ndarray, size: int) -> np.ndarray:
    if m.shape[0] == size:
        return m
    import cv2

    return cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST)


def neural_engines() -> tuple[NeuralLayoutEngine, NeuralRenderEngine]:
    """Engines over the installed official checkpoints (the registry checks that they exist first)."""
    fan = checkpoint_path("fan")
    layout = NeuralLayoutEngine.from_sources(checkpoint_path("sem_G"), checkpoint_path("sem_F"),
                                             checkpoint_path("sem_S"), fan if fan.is_file() else None)
    render = NeuralRenderEngine.from_source(checkpoint_path("syn256"))
    return layout, render
