"""*Enhance*: a learned upsampling (Real-ESRGAN) of the final render before it goes back into a photo whose face is
larger than the render. Optional: the networks are entries of the weights manager (``smile-studio weights fetch
--enhance``), loaded weights-only; nothing downloads by itself, and without them everything works as before.

Inputs larger than 256² are upsampled in overlapping tiles (the networks are fully convolutional; a tile's
border, where the convolutions see padding instead of the neighbouring pixels, is cropped off), so that a 512²
render at x4 stays within about a GB on the CPU. Tiles agree with the whole pass only approximately (the deep
networks see further than the overlap), as in Real-ESRGAN's own tiled inference."""

from __future__ import annotations

import functools
import threading

import numpy as np
import torch

from ..nets.checkpoint import CheckpointError
from ..nets.runtime import image_tensor, pick_device
from ..weights.registry import CHECKPOINT_BY_KEY, ENHANCE_KEYS, Checkpoint, checkpoint_path
from .base import EngineError

TILE = 256  # input pixels per tile side: a 256² render goes through whole
OVERLAP = 32  # input pixels of context on each side of a tile (Real-ESRGAN's own tiling keeps 10)


class Enhancer:
    """A loaded enhancement network; calling it upsamples an RGB uint8 image by :attr:`scale` (thread-safe: one
    call at a time)."""

    def __init__(self, checkpoint: Checkpoint, net: torch.nn.Module, device: torch.device):
        self.checkpoint, self.net, self.device = checkpoint, net.eval().to(device), device
        self.scale = int(net.scale)
        self._lock = threading.Lock()

    def record(self) -> dict:
        """What the settings JSON records of this enhancement: which network, from which file, at what factor,
        under which licence."""
        c = self.checkpoint
        return {"key": c.key, "network": c.network, "file": c.filename, "scale": self.scale, "licence": c.licence}

    @classmethod
    def load(cls, key: str, device: str = "auto") -> Enhancer:
        """The network of registry entry ``key`` from its installed file; EngineError saying what to do when it
        is missing or not that network."""
        from ..nets.checkpoint import load_state_dict_strict

        if key not in ENHANCE_KEYS:
            raise EngineError(f"no enhancement network {key!r} (choose from {', '.join(ENHANCE_KEYS)})")
        c = CHECKPOINT_BY_KEY[key]
        path = checkpoint_path(key)
        if not path.is_file():
            raise EngineError(f"{c.network} is not installed: `smile-studio weights fetch --enhance {key}` "
                              f"downloads {c.filename}")
        net = c.builder()
        try:  # read once, weights-only, every key and shape checked against the network
            load_state_dict_strict(net, path, c.container, path.name)
        except CheckpointError as exc:
            raise EngineError(f"Enhance unavailable: {exc}") from exc
        return cls(c, net, pick_device(device))

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"Enhance takes an RGB uint8 image, not {rgb.dtype} {rgb.shape}")
        x = image_tensor(rgb).to(self.device) / 255
        h, w = rgb.shape[:2]
        m = self.net.multiple  # sides the network takes (x2 folds 2x2 pixels into channels)
        if h % m or w % m:  # mirrored out to the next multiple, as Real-ESRGAN's own inference pads
            x = torch.nn.functional.pad(x, (0, -w % m, 0, -h % m), mode="reflect")
        with self._lock, torch.inference_mode():
            y = upsample_tiled(self.net, x, self.scale)[:, :, :h * self.scale, :w * self.scale]
        return (y[0].clamp(0, 1).permute(1, 2, 0) * 255 + 0.5).to(torch.uint8).cpu().numpy()


def upsample_tiled(net: torch.nn.Module, x: torch.Tensor, scale: int, tile: int = TILE,
                   overlap: int = OVERLAP) -> torch.Tensor:
    """``net(x)`` (NCHW in [0, 1], output ``scale`` times larger) computed tile by tile: each tile is run with
    ``overlap`` pixels of its neighbours around it and only its own part of the output kept."""
    _, _, h, w = x.shape
    if h <= tile + 2 * overlap and w <= tile + 2 * overlap:
        return net(x)
    out = x.new_empty(x.shape[0], 3, h * scale, w * scale)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            py0, px0 = max(y0 - overlap, 0), max(x0 - overlap, 0)
            py1, px1 = min(y1 + overlap, h), min(x1 + overlap, w)
            piece = net(x[:, :, py0:py1, px0:px1])
            out[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = piece[
                :, :, (y0 - py0) * scale:(y1 - py0) * scale, (x0 - px0) * scale:(x1 - px0) * scale]
    return out


@functools.lru_cache(maxsize=2)
def shared_enhancer(key: str) -> Enhancer:
    """:meth:`Enhancer.load`, once per process and key (the editor, edit and every face of a batch share it)."""
    return Enhancer.load(key)


