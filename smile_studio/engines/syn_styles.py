"""The per-region style of a SMILE_SYN render (1, 19, 64), resolved from a request: the photo's own region
codes (the encoder's), with the regions styled by a seed (the mapping network's style) or by a reference (that
photo's codes) taking those; regions a photo lacks take seed 0's. Codes and seed styles are small and reused
across edits, so they are cached."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

from ..core.labels import NUM_CLASSES
from ..nets.runtime import image_tensor
from ..nets.syn import SynGenerator, mix_styles
from .base import RenderRequest
from .cache import array_digest, lru_get

CODES_KEPT, CODES_BYTES = 16, 64 * 2**20  # photos' region codes kept (references, the open face)
SEEDS_KEPT = 64  # seeds' mapped styles kept


class RegionStyles:
    """``sem_of(labels)``: a map's one-hot tensor at the generator's side, on ``device``."""

    def __init__(self, device: torch.device, sem_of: Callable[[np.ndarray], torch.Tensor]):
        self.device, self.sem_of = device, sem_of
        self._codes: OrderedDict = OrderedDict()
        self._seeds: OrderedDict = OrderedDict()

    def codes(self, gen: SynGenerator, dtype: torch.dtype, rgb: np.ndarray, labels: np.ndarray):
        """A photo's region codes (1, 19, 64) and which regions it has (1, 19)."""
        def compute():
            x = image_tensor(rgb).to(self.device)
            x = torch.nn.functional.interpolate(x / 127.5 - 1, size=(gen.size, gen.size), mode="bilinear")
            codes, present = gen.encode(x.to(dtype), self.sem_of(labels).to(dtype))
            return codes.float(), present

        return lru_get(self._codes, CODES_KEPT, (dtype, array_digest(rgb, labels)), compute, max_bytes=CODES_BYTES)

    def seeded(self, gen: SynGenerator, dtype: torch.dtype, seed: int) -> torch.Tensor:
        """Seed ``seed``'s random style (1, 19, 64), through the mapping network."""
        def compute():
            return gen.map_style(gen.random_z(seed).to(self.device).to(dtype)).float()

        return lru_get(self._seeds, SEEDS_KEPT, (dtype, seed), compute)

    def of(self, gen: SynGenerator, dtype: torch.dtype, req: RenderRequest) -> torch.Tensor:
        """The request's style (1, 19, 64) in ``dtype``."""
        fill = self.seeded(gen, dtype, 0)  # for absent regions
        base = fill
        if req.photo is not None and req.source_labels is not None:
            codes, present = self.codes(gen, dtype, req.photo, req.source_labels)
            base = torch.where(present[..., None], codes, fill)
        sources, choice, index = [base], [], {}
        for c in range(NUM_CLASSES):
            s = req.styles[c]
            if s.kind == "seed":
                key = ("seed", s.seed)
                if key not in index:
                    index[key] = len(sources)
                    sources.append(self.seeded(gen, dtype, s.seed))
                choice.append(index[key])
            elif s.kind == "reference" and (ref := req.reference(s.ref)) is not None and ref.labels is not None:
                key = ("ref", ref.id)
                if key not in index:
                    codes, present = self.codes(gen, dtype, ref.rgb, ref.labels)
                    index[key] = len(sources)
                    sources.append(torch.where(present[..., None], codes, base))
                choice.append(index[key])
            else:
                choice.append(0)
        return mix_styles(sources, choice).to(dtype)
