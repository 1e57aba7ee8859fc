"""SMILE_SYN: semantic image synthesis with region-wise adaptive convolutions (official ``metrics/smileSYN.py``).

State-dict keys and shapes equal the official ``smileSYN_{256,512}.pth["g_ema"]``. Two implementations of the
same maths share the parameters:

* ``impl="fast"`` (default). The region style map is never built: the style branch's 3x3 convolution of a map
  that is constant per region equals a convolution of the *one-hot* map with per-sample weights folded from the
  region codes (19 input channels instead of 64). The demodulation ``sum_hw conv(g^2, W^2)`` is computed from
  border-exact window sums of ``g^2`` (sum over the positions each kernel tap sees), not from a second full
  convolution. Everything that depends only on the map (the semantic stem, every SPADE branch and the
  demodulation of the SPADE-only level, the resized one-hot maps) is computed once by
  :meth:`SynGenerator.map_features` and reused while only styles change; in float32 on a CPU the SPADE branch's
  second convolution is evaluated only near region borders (it is a per-class constant inside regions).
  On a CPU, weights that do not change per render are reordered for oneDNN once (``onednn.conv2d_packed``);
  in bf16 the stride-2 transposed convolutions run as one polyphase convolution
  (``onednn.conv_transpose3x3_s2``) and the style branch's convolution adds the cached SPADE term itself.
* ``impl="reference"``: the official algorithm literally (per-region Python loops with ``masked_scatter_``, a full
  convolution for the demodulation); kept as the baseline for tests and benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import build_from_checkpoint, load_state_dict_strict
from .layers import ConvLayer, EqualLinear, PixelNorm, literal_upfirdn2d
from .onednn import plain_convolutions
from .sem import check_size
from .syn_layers import (
    CODE_DIM,
    NUM_LABELS,
    STYLE_DIM,
    RegionEncoder,
    StyledConv,
    ToRGB,
    apply_region_codes,
    border_band,
    fill_missing_codes,
    mix_styles,
    one_hot,
    resize_nearest,
    window_sums,
)

# the per-region style helpers are part of this module's public face (engines and tests use them from here)
__all__ = ["MapFeatures", "SynGenerator", "apply_region_codes", "fill_missing_codes", "mix_styles", "one_hot",
           "run_layer"]


def run_layer(layer: nn.Module, x: torch.Tensor, skip: torch.Tensor | None, style: torch.Tensor, sem: torch.Tensor,
              spade: torch.Tensor, noise: torch.Tensor | None, demod: torch.Tensor | None
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One StyledConv or ToRGB on the fast path: (its output, the demodulation it applied; None for a ToRGB)."""
    if isinstance(layer, ToRGB):
        return layer(x, style, sem, skip, spade=spade, fast=True), None
    used: dict = {}
    return layer.forward_fast(x, style, sem, noise, spade, demod, used), used["demod"]


@dataclass
class MapFeatures:
    """Everything the generator computes from the layout alone (valid for one map, any style)."""

    sem: torch.Tensor  # (B, 19, S, S) one-hot
    stem: torch.Tensor  # (B, 512, 8, 8)
    sems: dict = field(default_factory=dict)  # resolution -> one-hot at that resolution
    spade: dict = field(default_factory=dict)  # layer name -> SPADE gamma
    demod: dict = field(default_factory=dict)  # SPADE-only layer name -> its demodulation (B, Cout)
    sums: dict = field(default_factory=dict)  # SPADE-only layer name -> window sums of gamma^2 it came from


class SynGenerator(nn.Module):
    """SMILE_SYN generator (``Generator(size, input_seg=64, encoder=True)``) with mapping network and encoder."""

    def __init__(self, size: int = 256, impl: str = "fast", width: float = 1.0, n_mlp: int = 8):
        """``size`` 256 or 512 with ``width`` 1 and ``n_mlp`` 8 is the released network; sizes 64 and 128, a
        fraction of the widths (every channel count times ``width``) and a shorter mapping network are for
        training tests and experiments (same keys)."""
        super().__init__()
        check_size(size, "SMILE_SYN")
        self.size = size
        self.architecture = {"size": size, "width": width, "n_mlp": n_mlp}  # recorded in the files we train
        self.impl = impl
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
    def from_checkpoint(cls, source, impl: str = "fast") -> SynGenerator:
        """A generator shaped like the checkpoint: as ``smile-studio train syn`` recorded it in the files it
        writes, else (the released files) with size, widths and mapping depth read from the keys."""
        def shaped_like(sd: dict) -> SynGenerator:
            size = 8 * 2 ** len({k.split(".")[1] for k in sd if k.startswith("to_rgbs.")})
            n_mlp = len({k.split(".")[1] for k in sd if k.startswith("style.")})
            return cls(size, impl, width=sd["input.0.0.weight"].shape[0] / 256, n_mlp=n_mlp)

        return build_from_checkpoint(source, shaped_like, container="g_ema",
                                     built=(cls, lambda **arch: cls(impl=impl, **arch)))

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
    def _layers(self, upto: int | None = None):
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

    @torch.no_grad()
    def map_features(self, sem: torch.Tensor, dtype: torch.dtype | None = None, upto: int | None = None
                     ) -> MapFeatures:
        """Everything that depends only on the layout; reuse it for every style of the same map. ``upto``: only
        what an image of that side needs (see :meth:`synthesize`)."""
        dtype = dtype or sem.dtype
        bands: dict = {}

        def spade_term(name: str, layer: nn.Module, s: torch.Tensor, res: int) -> torch.Tensor:
            if res not in bands:
                bands[res] = None
                # float32 on a CPU: skipping region interiors pays; bf16 matrix units or a GPU convolve faster
                # than the gather costs
                if s.shape[0] == 1 and res >= 64 and dtype == torch.float32 and s.device.type == "cpu":
                    lab = s[0].argmax(0).to(torch.uint8).cpu().numpy()
                    band = border_band(lab)
                    bands[res] = (band, lab) if band.mean() < 0.7 else None
            return layer.conv.spade_term(s, bands[res])

        return self._features(sem, dtype, self._layers(upto), spade_term)

    @torch.no_grad()
    def map_features_update(self, old: MapFeatures, sem: torch.Tensor, box: tuple[int, int, int, int],
                            in_place: bool = False) -> MapFeatures:
        """``map_features(sem)`` from the features of a map that differs from ``sem`` only inside ``box`` =
        (y0, x0, y1, x1) at the map's resolution, ends exclusive (a brush stroke): each SPADE term is recomputed
        on the box grown by its receptive field and pasted into a copy of the old one (into the old one itself
        with ``in_place``: no copy of ~130 MB per dab, ``old`` is spent); the SPADE-only demodulations' window sums
        change by the box's old and new contributions (in float64); the stem and the resized maps are small and
        recomputed whole. Batch 1."""
        size = sem.shape[-1]
        y0, x0, y1, x1 = box
        sums: dict = {}

        def spade_term(name: str, layer: nn.Module, s: torch.Tensor, res: int) -> torch.Tensor:
            f = res / size
            # pixels at this resolution whose source pixel may lie in the box (1 for rounding), grown by the 2 px
            # the two 3x3 convolutions of the SPADE branch see
            r0, c0 = max(int(y0 * f) - 3, 0), max(int(x0 * f) - 3, 0)
            r1, c1 = min(math.ceil(y1 * f) + 3, res), min(math.ceil(x1 * f) + 3, res)
            # their inputs, with 2 px of context where the image has it (at the image's edge the crop's zero
            # padding is the image's own)
            i0, j0, i1, j1 = max(r0 - 2, 0), max(c0 - 2, 0), min(r1 + 2, res), min(c1 + 2, res)
            with plain_convolutions():  # a crop's shape is seldom seen twice: no reordered weights kept for it
                part = layer.conv.spade_term(s[:, :, i0:i1, j0:j1].contiguous(memory_format=torch.channels_last))
            spade = old.spade[name] if in_place else old.spade[name].clone()
            new = part[:, :, r0 - i0:r1 - i0, c0 - j0:c1 - j0]
            if name in old.sums:
                edges = (r0 == 0, r1 == res, c0 == 0, c1 == res)
                k = layer.conv.k
                sums[name] = (old.sums[name] + window_sums(new.double() ** 2, k, edges, torch.float64)
                              - window_sums(spade[:, :, r0:r1, c0:c1].double() ** 2, k, edges, torch.float64))
            spade[:, :, r0:r1, c0:c1] = new
            return spade

        layers = (item for item in self._layers() if item[0] in old.spade)  # old may stop at a level (``upto``)
        return self._features(sem, old.stem.dtype, layers, spade_term, sums)

    def _features(self, sem: torch.Tensor, dtype: torch.dtype, layers, spade_term, sums: dict | None = None
                  ) -> MapFeatures:
        """The stem, the map at every resolution, each layer's SPADE term (``spade_term(name, layer, map at its
        resolution, resolution)``) and the demodulation of the SPADE-only layers (from ``sums``, their window
        sums, where given)."""
        sem = sem.to(dtype).contiguous(memory_format=torch.channels_last)
        feats = MapFeatures(sem=sem, stem=self.input(resize_nearest(sem, (self.input_sem_size,) * 2)))
        for name, layer, res in layers:
            s = feats.sems.get(res)
            if s is None:
                s = feats.sems[res] = resize_nearest(sem, (res, res)).contiguous(memory_format=torch.channels_last)
            feats.spade[name] = spade_term(name, layer, s, res)
            if layer.conv.only_spade and layer.conv.demodulate:
                g = feats.spade[name]
                total = (sums or {}).get(name)
                feats.sums[name] = total if total is not None else window_sums(g * g, layer.conv.k,
                                                                                dtype=torch.float64)
                feats.demod[name] = layer.conv.demod_from_sums(feats.sums[name], res * res, g.dtype)
        return feats

    @torch.no_grad()
    def synthesize(self, sem: torch.Tensor, style: torch.Tensor, noise: list[torch.Tensor] | None = None,
                   features: MapFeatures | None = None, upto: int | None = None) -> torch.Tensor:
        """Render: sem one-hot (B or 1, 19, S, S), style (B, 19, 64) or (B, 1216) -> image (B, 3, S, S).

        The output is the raw network output (official range, roughly [-1, 1], no tanh); ``noise`` defaults to
        ``make_noise(0)`` as the official wrapper uses. ``upto`` (one of :meth:`levels`) stops at the image the
        skip connections have summed at that side: the coarse image the finer levels add detail to, for quick
        previews (a 128 preview at 256 skips the most expensive level). ``sem`` may then be given at that side.
        """
        style = style.reshape(style.shape[0], NUM_LABELS, CODE_DIM)
        if noise is None:
            noise = self.make_noise(0, sem.device)
        fast = self.impl == "fast"
        if not fast:
            return self._forward_reference(sem, style.float(), noise)
        if upto is not None and upto not in self.levels():
            raise ValueError(f"upto must be one of {self.levels()}, not {upto}")
        if features is None:
            features = self.map_features(sem, dtype=style.dtype, upto=upto)
        return self.run_layers(features, style.to(features.stem.dtype), noise, upto).float()

    def run_layers(self, features: MapFeatures, style: torch.Tensor, noise: list[torch.Tensor],
                   upto: int | None = None, outputs: dict | None = None, demods: dict | None = None
                   ) -> torch.Tensor:
        """The fast path layer by layer up to the image of side ``upto``; returns that image. ``outputs`` and
        ``demods``, when given, receive every layer's output and every modulated convolution's demodulation
        (what a local update of a stroke reads, :mod:`.syn_local`)."""
        out = features.stem
        if out.shape[0] != style.shape[0]:
            out = out.expand(style.shape[0], -1, -1, -1)
        skip = None
        ni = 0
        for name, layer, res in self._layers(upto):
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

    def forward(self, sem: torch.Tensor, style: torch.Tensor, noise: list | None = None) -> torch.Tensor:
        """Differentiable render for training: the official maths layer by layer, fresh noise unless given.
        sem one-hot (B, 19, S, S), style (B, 19, 64) or (B, 1216) -> raw image (B, 3, S, S)."""
        style = style.reshape(style.shape[0], NUM_LABELS, CODE_DIM)
        return self._forward_literal(sem, style, noise or [None] * self.num_layers)

    def _forward_reference(self, sem: torch.Tensor, style: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        """The official forward, step by step (nearest-resizing the map inside every layer)."""
        with literal_upfirdn2d():
            return self._forward_literal(sem, style, noise)

    def _forward_literal(self, sem: torch.Tensor, style: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        out = self.input(F.interpolate(sem, (self.input_sem_size, self.input_sem_size), mode="nearest"))
        skip = None
        ni = 0
        for _name, layer, _res in self._layers():
            s = F.interpolate(sem, out.shape[-2:], mode="nearest")
            if isinstance(layer, ToRGB):
                skip = layer(out, style, s, skip, fast=False)
            else:
                out = layer(out, style, s, noise[ni], fast=False)
                ni += 1
        return skip
