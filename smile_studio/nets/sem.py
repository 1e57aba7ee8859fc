"""SMILE_SEM: layout manipulation networks (StarGAN v2 derivatives on one-hot maps), released configuration.

Generator with FAN high-pass skips and modulated decoder blocks (``--MOD``), mapping network and style encoder
with split styles (64-d gender slot, 16-d slots for the other five attributes, tiled to 64 to stack), and the
discriminator. Keys and shapes equal the official ``smileSEM_{G,F,S,D}_ema.pth``.

Eval-mode noise: the official ``NoiseInjection`` calls ``torch.manual_seed(0)`` before each draw, which resets the
process RNG on every generator call. We draw the same numbers from a local ``torch.Generator`` (cached per shape),
so the outputs are identical and the caller's random state is left alone.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import build_from_checkpoint, load_state_dict_strict
from .layers import derived
from .onednn import conv2d_packed, nearest_polyphase_weight, packed_path_applies, upsample_conv3x3

NUM_LABELS = 19
NUM_DOMAINS = 6  # attributes; 12 label columns
STYLE_DIM = 64
SMALL_DIM = 16
NOISE_DIM = 16
W_DIM = STYLE_DIM + (NUM_DOMAINS - 1) * SMALL_DIM  # 144
_NOISE_CACHE: dict[tuple, torch.Tensor] = {}
# Inputs at most this side (the 512-channel coarse levels) are convolved with weights reordered once and kept:
# there the per-call reorder of a 512x512x3x3 weight costs more than the convolution itself.
PACK_MAX_SIDE = 16
# Below this input side a 3x3 convolution then pooling costs ~1 ms: not worth a pooled 4x4 copy of its weight (17 MB
# for 512 channels).
POOLED_MIN_SIDE = 16


def eval_noise(batch: int, height: int, width: int) -> torch.Tensor:
    """The official eval noise ``torch.manual_seed(0); empty(B, 1, H, W).normal_()``, from a local generator."""
    key = (batch, height, width)
    t = _NOISE_CACHE.get(key)
    if t is None:
        g = torch.Generator().manual_seed(0)
        t = torch.empty(batch, 1, height, width).normal_(generator=g)
        _NOISE_CACHE[key] = t
    return t


def pack_style(s: torch.Tensor) -> torch.Tensor:
    """(B, 6, 64) split style -> (B, 144) decoder vector: the 64-d gender slot, then 16 dims of each other slot."""
    return torch.cat([s[:, 0, :STYLE_DIM]] + [s[:, i, :SMALL_DIM] for i in range(1, NUM_DOMAINS)], dim=1)


def select_by_label(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B, 12, 64) per-domain outputs, two-hot y (B, 12) -> (B, 6, 64) (the official ``out[y == 1]``)."""
    if not torch.all(y.sum(1) == NUM_DOMAINS):
        raise ValueError("every label row needs exactly one value per attribute (6 ones in 12 columns)")
    return out[y.unsqueeze(-1).expand_as(out) == 1].view(y.size(0), -1, out.size(-1))


def stack_heads(heads: nn.ModuleList, h: torch.Tensor, columns: list[int] | None = None) -> torch.Tensor:
    """Run the 12 per-domain heads (or only those of ``columns``); 16-d outputs are tiled x4 to 64 so they stack
    (SPLIT_STYLE): (B, 12 or len(columns), 64)."""
    outs = []
    for j in range(len(heads)) if columns is None else columns:
        o = heads[j](h)
        outs.append(o.repeat(1, STYLE_DIM // SMALL_DIM) if o.size(1) == SMALL_DIM else o)
    return torch.stack(outs, 1)


def instance_norm(norm: nn.InstanceNorm2d, x: torch.Tensor) -> torch.Tensor:
    """``norm(x)`` (affine, no running statistics); in inference as one scale and shift per sample and channel,
    which keeps ``x``'s memory layout (PyTorch's own makes channels_last inputs contiguous, and the next
    convolution copies them back)."""
    if torch.is_grad_enabled():
        return norm(x)
    var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, unbiased=False)
    scale = torch.rsqrt(var + norm.eps) * norm.weight.float()[:, None, None]
    return torch.addcmul((norm.bias.float()[:, None, None] - mean * scale).to(x.dtype), x, scale.to(x.dtype))


class ResBlk(nn.Module):
    """[IN] -> LReLU -> conv3 -> [avgpool] -> [IN] -> LReLU -> conv3, plus a shortcut, over sqrt(2)."""

    def __init__(self, din: int, dout: int, normalize: bool = False, downsample: bool = False):
        super().__init__()
        self.normalize, self.downsample = normalize, downsample
        self.learned_sc = din != dout
        self.conv1 = nn.Conv2d(din, din, 3, 1, 1)
        self.conv2 = nn.Conv2d(din, dout, 3, 1, 1)
        if normalize:
            self.norm1 = nn.InstanceNorm2d(din, affine=True)
            self.norm2 = nn.InstanceNorm2d(din, affine=True)
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(din, dout, 1, 1, 0, bias=False)

    def pooled_conv1_weight(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """conv3x3 then 2x2 average pooling = one stride-2 4x4 convolution whose kernel is the 3x3 kernel spread
        over the four pooled positions (W'[m, n] = 1/4 sum_{a+i=m, b+j=n} W[i, j]): same result, ~2x faster."""
        w = self.conv1.weight.float()
        wf = w.new_zeros(w.shape[0], w.shape[1], 4, 4)
        for a in (0, 1):
            for b in (0, 1):
                wf[:, :, a:a + 3, b:b + 3] += w / 4
        return wf.to(dtype, memory_format=torch.channels_last)

    def _pooled_conv1(self, r: torch.Tensor) -> torch.Tensor:
        """Inference: the pooled form of conv1; at the 512-channel coarse levels with the 4x4 weight reordered
        once (the only copy kept), elsewhere with it kept as it is."""
        w, dtype = self.conv1.weight, r.dtype
        if r.shape[-1] <= 2 * PACK_MAX_SIDE and packed_path_applies(r):
            return conv2d_packed(derived(self, "_packed_pooled", [w], dict, dtype), r,
                                 lambda: self.pooled_conv1_weight(dtype), self.conv1.bias, padding=1, stride=2)
        weight = derived(self, "_pooled", [w], lambda: self.pooled_conv1_weight(dtype), dtype)
        return F.conv2d(r, weight, self.conv1.bias, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shortcut: a bias-free 1x1 convolution commutes with 2x2 average pooling, so pool first (4x less work)
        sc = F.avg_pool2d(x, 2) if self.downsample else x
        if self.learned_sc:
            sc = self.conv1x1(sc)
        r = instance_norm(self.norm1, x) if self.normalize else x
        r = F.leaky_relu(r, 0.2)
        if self.downsample and not torch.is_grad_enabled() and r.shape[-1] >= POOLED_MIN_SIDE:
            r = self._pooled_conv1(r)
        else:
            r = self.conv1(r)
            if self.downsample:
                r = F.avg_pool2d(r, 2)
        if self.normalize:
            r = instance_norm(self.norm2, r)
        r = self.conv2(F.leaky_relu(r, 0.2))
        return (sc + r) / math.sqrt(2)


class Conv2DMod(nn.Module):
    """Weights modulated by ``affine(w) + 1`` per sample, optionally demodulated; no bias, no lr scale."""

    def __init__(self, din: int, dout: int, w_dim: int, k: int, demod: bool = True):
        super().__init__()
        self.din, self.dout, self.k, self.demod = din, dout, k, demod
        self.affine = nn.Linear(w_dim, din)
        self.weight = nn.Parameter(torch.randn(dout, din, k, k))

    def forward(self, x: torch.Tensor, w: torch.Tensor, upsample: bool = False) -> torch.Tensor:
        """Same maths as the official per-sample weights ``W * m`` (grouped convolution), computed as a shared
        convolution of the modulated input: conv(x, W*m) = conv(m*x, W), and the demodulation
        rsqrt(sum_{i,k} (W m_i)^2) = rsqrt(sum_i m_i^2 sum_k W^2) is a per-sample, per-output scale.
        ``upsample``: the input is first upsampled x2 (nearest)."""
        m = self.affine(w.reshape(w.shape[0], -1)) + 1  # (B, in)
        d = torch.rsqrt(torch.einsum("oi,bi->bo", self._energy(), m.float() ** 2) + 1e-8) if self.demod else None
        if not torch.is_grad_enabled():
            return self._inference(x, m, d, upsample)
        x = x * m[:, :, None, None].to(x.dtype)
        if upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        out = F.conv2d(x, self.weight.to(x.dtype), padding=(self.k - 1) // 2)
        return out if d is None else out * d[:, :, None, None].to(out.dtype)

    def _inference(self, x: torch.Tensor, m: torch.Tensor, d: torch.Tensor | None, upsample: bool) -> torch.Tensor:
        """Upsampling is one polyphase convolution of the small input (16 instead of 36 multiply-adds per output,
        no upsampled copy). Coarse levels (side <= PACK_MAX_SIDE) convolve the modulated input with weights
        reordered once (the reordered copy is the only one kept); finer levels of one image fold m and d into
        their small weights instead (no pass over the activations for them)."""
        dtype, pad = x.dtype, (self.k - 1) // 2
        poly = upsample and self.k == 3
        packed = None
        if x.shape[-1] <= PACK_MAX_SIDE and packed_path_applies(x):
            packed = derived(self, "_packed", [self.weight], dict, dtype)
            weight = (lambda: self._polyphase_weight(dtype)) if poly else self._weight(dtype)
        elif poly:
            weight = derived(self, "_poly", [self.weight], lambda: self._polyphase_weight(dtype), dtype)
        else:
            weight = self._weight(dtype)
        if packed is None and x.shape[0] == 1:  # one image: scale the weight's input (and output) channels
            scale = m.float()[0, None, :, None, None]
            if d is not None:
                scale = scale * d[0].repeat(4 if poly else 1)[:, None, None, None]
            weight, d = (weight * scale).to(dtype), None
        else:
            x = x * m[:, :, None, None].to(dtype)
        if poly:
            return upsample_conv3x3(x, weight, d, packed)
        if upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        out = F.conv2d(x, weight, padding=pad) if packed is None else conv2d_packed(packed, x, weight, padding=pad)
        return out if d is None else out * d[:, :, None, None].to(dtype)

    def _weight(self, dtype: torch.dtype) -> torch.Tensor:
        return derived(self, "_wcast", [self.weight], lambda: self.weight.to(dtype), dtype)

    def _polyphase_weight(self, dtype: torch.dtype) -> torch.Tensor:
        return nearest_polyphase_weight(self.weight.float()).to(dtype, memory_format=torch.channels_last)

    def _energy(self) -> torch.Tensor:
        """sum_k W^2 per (out, in): the demodulation's weight term, constant in inference."""
        return derived(self, "_energy_cache", [self.weight], lambda: (self.weight.float() ** 2).sum((2, 3)))


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            noise = x.new_empty(x.shape[0], 1, *x.shape[2:]).normal_()
        else:
            noise = eval_noise(x.shape[0], *x.shape[2:]).to(x.device, x.dtype)
        return x + self.weight * noise


class MODResBlk(nn.Module):
    """LReLU -> [nearest x2] -> Conv2DMod -> noise -> LReLU -> Conv2DMod -> noise. With FAN skips there is no
    shortcut (``w_hpf > 0``), so none is built."""

    def __init__(self, din: int, dout: int, w_dim: int, upsample: bool = False):
        super().__init__()
        self.upsample = upsample
        self.noise = NoiseInjection()  # one module, shared by both convolutions (as in the official code)
        self.conv1 = Conv2DMod(din, dout, w_dim, 3)
        self.conv2 = Conv2DMod(dout, dout, w_dim, 3)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = self.noise(self.conv1(F.leaky_relu(x, 0.2), w, upsample=self.upsample))
        x = self.noise(self.conv2(F.leaky_relu(x, 0.2), w))
        return x


_HPF = torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]])


def high_pass(x: torch.Tensor, w_hpf: float = 1.0) -> torch.Tensor:
    k = (_HPF / w_hpf).to(x.dtype).to(x.device)[None, None].repeat(x.size(1), 1, 1, 1)
    return F.conv2d(x, k, padding=1, groups=x.size(1))


class SemGenerator(nn.Module):
    """``models/generator.py:Generator`` with --FAN --MOD --SPLIT_STYLE: (one-hot map, style, fan masks) -> logits."""

    def __init__(self, size: int = 256, base: int | None = None, max_dim: int = 512):
        """``size`` 256 or 512 is the released network; smaller sizes (64, 128) and ``base`` / ``max_dim`` widths
        below the official ``2**13 // size`` / 512 are for training tests and experiments (same keys)."""
        super().__init__()
        check_size(size, "SMILE_SEM")
        self.size = size
        self.architecture = {"size": size, "base": base, "max_dim": max_dim}  # recorded in the files we train
        dim_in = base or 2**13 // size
        self.hpf_keys = [2**i for i in range(5, int(np.log2(size)))]  # 32 ... size/2 ([32, 64, 128] at 256)
        self.hpf_details = [32]
        self.from_rgb = nn.Conv2d(NUM_LABELS, dim_in, 3, 1, 1)
        self.encode = nn.ModuleList()
        self.decode = nn.ModuleList()
        repeat = int(np.log2(size)) - 4 + 1  # +1 with FAN
        dim_out = dim_in
        for _ in range(repeat):
            dim_out = min(dim_in * 2, max_dim)
            self.encode.append(ResBlk(dim_in, dim_out, normalize=True, downsample=True))
            self.decode.insert(0, MODResBlk(dim_out, dim_in, W_DIM, upsample=True))
            dim_in = dim_out
        for _ in range(2):
            self.encode.append(ResBlk(dim_out, dim_out, normalize=True))
            self.decode.insert(0, MODResBlk(dim_out, dim_out, W_DIM))
        self.to_rgb = Conv2DMod(base or 2**13 // size, NUM_LABELS, W_DIM, 1, demod=False)

    @classmethod
    def from_checkpoint(cls, source) -> SemGenerator:
        """A generator shaped like the checkpoint (size and widths read from its keys), weights loaded."""
        def shaped_like(sd: dict) -> SemGenerator:
            n_encode = len({k.split(".")[1] for k in sd if k.startswith("encode.")})
            widths = [sd[f"encode.{i}.conv2.weight"].shape[0] for i in range(n_encode)]
            return cls(2 ** (n_encode + 1), base=sd["from_rgb.weight"].shape[0], max_dim=max(widths))

        return build_from_checkpoint(source, shaped_like, built=(cls, cls))

    def encoder(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        x = self.from_rgb(x)
        cache = {}
        for block in self.encode:
            if x.size(2) in self.hpf_keys:
                cache[x.size(2)] = x
            x = block(x)
        return x, cache

    def skips(self, cache: dict, fan) -> dict:
        """The FAN high-pass skip added at each level {side: high_pass(mask * encoder feature)}: it depends on the
        map and the photo, not on the style, so an editor computes it once per face."""
        out = {}
        for size, feature in cache.items():
            f = fan[0] if size in self.hpf_details else fan[1]
            out[size] = high_pass(F.interpolate(f, size=size, mode="bilinear") * feature)
        return out

    def decoder(self, x: torch.Tensor, cache: dict, s: torch.Tensor, fan, skips: dict | None = None
                ) -> torch.Tensor:
        w = pack_style(s)
        skips = self.skips(cache, fan) if skips is None else skips
        for block in self.decode:
            x = block(x, w)
            if x.size(2) in skips:
                x = x + skips[x.size(2)]
        return self.to_rgb(F.relu(x), w)

    def forward(self, x: torch.Tensor, s: torch.Tensor, fan, encoded: tuple | None = None,
                skips: dict | None = None) -> torch.Tensor:
        """x one-hot (B or 1, 19, S, S); s (B, 6, 64); fan = (mask, mask2), each (B or 1, 1, 256, 256). Raw
        logits. ``encoded`` is a cached ``encoder(x)`` of the same map (it depends on the map alone), ``skips``
        a cached :meth:`skips` of it and ``fan``; a map batch of 1 serves every style of the batch."""
        h, cache = encoded if encoded is not None else self.encoder(x)
        if h.shape[0] != s.shape[0]:
            h = h.expand(s.shape[0], -1, -1, -1)
        return self.decoder(h, cache, s, fan, skips)

    def load_official(self, source) -> None:
        load_state_dict_strict(self, source)


class MappingNetwork(nn.Module):
    """``models/mapping.py:Noise2Style``: z (B, 16) and two-hot y (B, 12) -> style (B, 6, 64)."""

    def __init__(self, hidden: int = 512):
        super().__init__()
        self.architecture = {"hidden": hidden}
        layers: list[nn.Module] = [nn.Linear(NOISE_DIM, hidden), nn.ReLU()]
        for _ in range(3):
            layers += [nn.Linear(hidden, hidden), nn.ReLU()]
        self.shared = nn.Sequential(*layers)
        self.unshared = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                          nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, STYLE_DIM if i < 2 else SMALL_DIM))
            for i in range(2 * NUM_DOMAINS))

    @classmethod
    def from_checkpoint(cls, source) -> MappingNetwork:
        return build_from_checkpoint(source, lambda sd: cls(sd["shared.0.weight"].shape[0]), built=(cls, cls))

    def all_heads(self, z: torch.Tensor, columns: list[int] | None = None) -> torch.Tensor:
        """Every domain's style (B, 12, 64), or those of the label ``columns`` (B, len(columns), 64); small heads
        tiled to 64."""
        return stack_heads(self.unshared, self.shared(z), columns)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return select_by_label(self.all_heads(z), y)

    def load_official(self, source) -> None:
        load_state_dict_strict(self, source)


def check_size(size: int, what: str) -> None:
    if size not in (64, 128, 256, 512):
        raise ValueError(f"{what} is built for sizes 64, 128, 256 and 512 (released: 256, 512), not {size}")


def _trunk(size: int, base: int | None = None, max_dim: int = 512) -> tuple[list[nn.Module], int]:
    """The style encoder's and discriminator's shared trunk, down to 4x4 then a 4x4 convolution to 1x1."""
    check_size(size, "SMILE_SEM")
    dim_in = base or 2**14 // size
    blocks: list[nn.Module] = [nn.Conv2d(NUM_LABELS, dim_in, 3, 1, 1)]
    dim_out = dim_in
    for _ in range(int(np.log2(size)) - 2):
        dim_out = min(dim_in * 2, max_dim)
        blocks.append(ResBlk(dim_in, dim_out, downsample=True))
        dim_in = dim_out
    blocks += [nn.LeakyReLU(0.2), nn.Conv2d(dim_out, dim_out, 4, 1, 0), nn.LeakyReLU(0.2)]
    return blocks, dim_out


class StyleEncoder(nn.Module):
    """``models/encoder.py:StyleEncoder``: one-hot map and two-hot y -> style (B, 6, 64)."""

    def __init__(self, size: int = 256, base: int | None = None, max_dim: int = 512):
        super().__init__()
        self.size = size
        self.architecture = {"size": size, "base": base, "max_dim": max_dim}
        blocks, dim_out = _trunk(size, base, max_dim)
        self.shared = nn.Sequential(*blocks)
        self.unshared = nn.ModuleList(nn.Linear(dim_out, STYLE_DIM if i < 2 else SMALL_DIM)
                                      for i in range(2 * NUM_DOMAINS))

    @classmethod
    def from_checkpoint(cls, source) -> StyleEncoder:
        def shaped_like(sd: dict) -> StyleEncoder:
            n_blocks = len({k.split(".")[1] for k in sd if k.startswith("shared.") and ".conv2." in k})
            return cls(2 ** (n_blocks + 2), sd["shared.0.weight"].shape[0], sd["unshared.0.weight"].shape[1])

        return build_from_checkpoint(source, shaped_like, built=(cls, cls))

    def all_heads(self, x: torch.Tensor) -> torch.Tensor:
        return stack_heads(self.unshared, self.shared(x).view(x.size(0), -1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return select_by_label(self.all_heads(x), y)

    def load_official(self, source) -> None:
        load_state_dict_strict(self, source)


class Discriminator(nn.Module):
    """``models/discriminator.py:Discriminator``: real/fake logit per attribute value, flat (B*6,)."""

    def __init__(self, size: int = 256, base: int | None = None, max_dim: int = 512):
        super().__init__()
        self.architecture = {"size": size, "base": base, "max_dim": max_dim}
        blocks, dim_out = _trunk(size, base, max_dim)
        blocks.append(nn.Conv2d(dim_out, 2 * NUM_DOMAINS, 1, 1, 0))
        self.main = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.main(x)
        return out[y[:, :, None, None].expand_as(out) == 1]

    def load_official(self, source) -> None:
        load_state_dict_strict(self, source)
