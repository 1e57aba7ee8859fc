"""SMILE_SYN: semantic image synthesis with region-wise adaptive convolutions (official ``metrics/smileSYN.py``).

The generator holds the parameters (state-dict keys and shapes equal the official
``smileSYN_{256,512}.pth["g_ema"]``) and the official ``forward``, in forward order: the semantic stem, then per
level two styled convolutions and a ToRGB (:mod:`.syn_layers`). Rendering for the editor goes through the fast
path over the same parameters (:func:`.syn_fast.synthesize`), which a test holds equal to this forward.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import build_from_checkpoint, load_state_dict_strict
from .layers import ConvLayer, EqualLinear, PixelNorm, literal_upfirdn2d
from .sem import check_size
from .syn_layers import (
    CODE_DIM,
    NUM_LABELS,
    STYLE_DIM,
    RegionEncoder,
    StyledConv,
    ToRGB,
    apply_region_codes,
    fill_missing_codes,
    mix_styles,
    one_hot,
)

# the per-region style helpers are part of this module's public face (engines and tests use them from here)
__all__ = ["SynGenerator", "apply_region_codes", "fill_missing_codes", "mix_styles", "official_render", "one_hot"]


class SynGenerator(nn.Module):
    """SMILE_SYN generator (``Generator(size, input_seg=64, encoder=True)``) with mapping network and encoder."""

    def __init__(self, size: int = 256, width: float = 1.0, n_mlp: int = 8):
        """``size`` 256 or 512 with ``width`` 1 and ``n_mlp`` 8 is the released network; sizes 64 and 128, a
        fraction of the widths (every channel count times ``width``) and a shorter mapping network are for
        training tests and experiments (same keys)."""
        super().__init__()
        check_size(size, "SMILE_SYN")
        self.size = size
        self.architecture = {"size": size, "width": width, "n_mlp": n_mlp}  # recorded in the files we train
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(STYLE_DIM, STYLE_DIM, lr_mul=0.01, activation=True)
                                                  for _ in range(n_mlp)])
        self.encoder = RegionEncoder(size, max(int(32 * width), 4))
        channels = {k: max(int(v * width), 4) for k, v in
                    {4: 512, 8: 512, 16: 512, 32: 256, 64: 256, 128: 128, 256: 64, 512: 32}.items()}
        stem = max(int(256 * width), 4)
        self.input_sem_size = 64
        self.input = nn.Sequential(
            ConvLayer(NUM_LABELS, stem, 3), ConvLayer(stem, stem, 3, downsample=True),
            ConvLayer(stem, stem, 3, downsample=True), ConvLayer(stem, channels[4], 3, downsample=True))
        self.log_size = int(math.log2(size)) - 3 + 2  # stem output is 8x8
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.conv1 = StyledConv(channels[4], channels[4], 3)
        self.to_rgb1 = ToRGB(channels[4], upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for layer_idx in range(self.num_layers):
            res = (layer_idx + 8) // 2
            self.noises.register_buffer(f"noise_{layer_idx}", torch.randn(1, 1, 2**res, 2**res))
        cin = channels[4]
        for i in range(3, self.log_size + 1):
            cout = channels[2**i]
            last = i == self.log_size  # the last level is SPADE-only ("drop_last_sean")
            self.convs.append(StyledConv(cin, cout, 3, upsample=True, only_spade=last))
            self.convs.append(StyledConv(cout, cout, 3, only_spade=last))
            self.to_rgbs.append(ToRGB(cout, only_spade=last))
            cin = cout
        self.n_latent = self.log_size * 2 - 2

    # -- official-compatible loading ---------------------------------------------------------------------------
    def load_official(self, source) -> None:
        """Load an official checkpoint (path or dict, ``g_ema`` container or plain state_dict), strict."""
        load_state_dict_strict(self, source, container="g_ema")

    @classmethod
    def from_checkpoint(cls, source) -> SynGenerator:
        """A generator shaped like the checkpoint: as ``smile-studio train syn`` recorded it in the files it
        writes, else (the released files) with size, widths and mapping depth read from the keys."""
        def shaped_like(sd: dict) -> SynGenerator:
            size = 8 * 2 ** len({k.split(".")[1] for k in sd if k.startswith("to_rgbs.")})
            n_mlp = len({k.split(".")[1] for k in sd if k.startswith("style.")})
            return cls(size, width=sd["input.0.0.weight"].shape[0] / 256, n_mlp=n_mlp)

        return build_from_checkpoint(source, shaped_like, container="g_ema",
                                     built=(cls, cls))

    # -- styles ------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, rgb: torch.Tensor, sem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Region codes of a photo: rgb (B, 3, S, S) in [-1, 1], sem one-hot -> ((B, 19, 64), present (B, 19))."""
        return self.encoder(rgb, sem)

    @torch.no_grad()
    def map_style(self, z: torch.Tensor) -> torch.Tensor:
        """Random per-region styles: z (B, 1216) ~ N(0, I) -> (B, 19, 64)."""
        return self.style(z).view(-1, NUM_LABELS, CODE_DIM)

    def random_z(self, seed: int, batch: int = 1) -> torch.Tensor:
        g = torch.Generator().manual_seed(int(seed))
        return torch.randn(batch, STYLE_DIM, generator=g)

    def make_noise(self, seed: int = 0, device: torch.device | str = "cpu") -> list[torch.Tensor]:
        """The official ``make_noise``: same values, from a local generator (the process RNG is untouched)."""
        g = torch.Generator().manual_seed(seed)
        noises = [torch.randn(1, 1, 8, 8, generator=g)]
        for layer_idx in range(self.num_layers):
            res = (layer_idx + 8) // 2
            noises.append(torch.randn(1, 1, 2**res, 2**res, generator=g))
        return [n.to(device) for n in noises[: self.num_layers + 1]]

    # -- synthesis ---------------------------------------------------------------------------------------------
    def layers(self, upto: int | None = None):
        """(name, StyledConv/ToRGB module, resolution of its input) in forward order, up to the ToRGB whose image
        has side ``upto`` (all layers by default)."""
        yield "conv1", self.conv1, 8
        yield "to_rgb1", self.to_rgb1, 8
        res = 8
        for li in range(len(self.to_rgbs)):
            if upto is not None and res >= upto:
                return
            yield f"convs.{2 * li}", self.convs[2 * li], res
            res *= 2
            yield f"convs.{2 * li + 1}", self.convs[2 * li + 1], res
            yield f"to_rgbs.{li}", self.to_rgbs[li], res

    def levels(self) -> tuple[int, ...]:
        """The image sides the generator passes through (8, 16, ..., size): the ``upto`` values that exist."""
        return tuple(2**i for i in range(3, self.size.bit_length()))

    def forward(self, sem: torch.Tensor, style: torch.Tensor, noise: list | None = None) -> torch.Tensor:
        """The official forward: the semantic stem, then per level a styled convolution (upsampling), a styled
        convolution and a ToRGB whose image is added to the up-sampled coarser one, the map nearest-resized to
        every layer's side. sem one-hot (B, 19, S, S), style (B, 19, 64) or (B, 1216) -> raw image (B, 3, S, S)
        (the official range, roughly [-1, 1], no tanh). ``noise``: one map per styled convolution (the official
        renders use ``make_noise(0)``); fresh noise when None (training). Differentiable: training calls it."""
        style = style.reshape(style.shape[0], NUM_LABELS, CODE_DIM)
        noise = noise or [None] * self.num_layers
        out = self.input(F.interpolate(sem, (self.input_sem_size, self.input_sem_size), mode="nearest"))
        skip = None
        ni = 0
        for _name, layer, _res in self.layers():
            s = F.interpolate(sem, out.shape[-2:], mode="nearest")
            if isinstance(layer, ToRGB):
                skip = layer(out, style, s, skip)
            else:
                out = layer(out, style, s, noise[ni])
                ni += 1
        return skip


@torch.no_grad()
def official_render(gen: SynGenerator, sem: torch.Tensor, style: torch.Tensor, noise: list | None = None
                    ) -> torch.Tensor:
    """The official wrapper's render, step by step: ``forward`` with ``make_noise(0)`` unless ``noise`` is given,
    without gradients, upfirdn2d run as the official CPU fallback does. The baseline the fast path is held to
    and timed against."""
    with literal_upfirdn2d():
        return gen(sem, style.float(), noise if noise is not None else gen.make_noise(0, sem.device))
