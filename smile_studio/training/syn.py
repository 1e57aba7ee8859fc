"""SMILE_SYN training, which the official code never released (design and reasoning: docs/training.md).

A StyleGAN2-style adversarial recipe around the released generator: the region encoder reads the photo, each
region's code (random mapped codes for regions the photo lacks, as ``extract_style`` fills them) drives the
generator, which must reconstruct the photo (L1 x10, LPIPS when its networks are installed, discriminator
feature matching x10) and fool a layout-conditioned discriminator (non-saturating loss, lazy R1 gamma 10 every
16 steps). Half the samples also render with a random subset of regions restyled from the mapping network
("mixed styles"): only the adversarial loss sees those, so mixed codes must still give realistic faces.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..nets.checkpoint import load_state_dict_strict, read_checkpoint
from ..nets.syn import SynGenerator, one_hot
from ..nets.syn_disc import SynDiscriminator
from ..nets.syn_layers import CODE_DIM, NUM_LABELS, STYLE_DIM
from .config import TrainConfig
from .distributed import Place, inner, recorded, wrap
from .recipe import Recipe, ema_update


def file_name(size: int) -> str:
    return f"smileSYN_{size}.pth"


class SynRecipe(Recipe):
    def __init__(self, config: TrainConfig, place: Place, label_table: np.ndarray):
        super().__init__(config, place)
        g = SynGenerator(config.size, width=config.width, n_mlp=config.n_mlp).to(self.device)
        d = SynDiscriminator(config.size, config.width).to(self.device)
        g.train()
        d.train()
        for m in g.modules():  # the SPADE-only level keeps a blend factor it never uses (as the released file)
            if getattr(m, "only_spade", False):
                m.blending_gamma.requires_grad_(False)
        self.ema = copy.deepcopy(g).eval().requires_grad_(False)
        betas = (config.beta1, config.beta2)
        self.optimizers = {k: torch.optim.Adam(n.parameters(), lr=config.lr, betas=betas,
                                               weight_decay=config.weight_decay) for k, n in (("G", g), ("D", d))}
        self.trained = {"G": wrap(g, place), "D": wrap(d, place)}
        self.perceptual = _perceptual(config.lpips, self.device)

    def replicas(self) -> dict:
        return {**self.trained, "G_ema": self.ema}

    def styles(self, g: SynGenerator, rgb: torch.Tensor, sem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the photo's region codes with absent regions filled from the mapping network, the same with a random
        subset of regions restyled on ``mix_prob`` of the samples): each (B, 19, 64)."""
        b = rgb.shape[0]
        codes, present = g.encoder(rgb, sem)
        random = g.style(torch.randn(b, STYLE_DIM, device=rgb.device)).view(b, NUM_LABELS, CODE_DIM)
        style = torch.where(present[..., None], codes, random)
        mixing = (torch.rand(b, 1, device=rgb.device) < self.config.mix_prob) & (
            torch.rand(b, NUM_LABELS, device=rgb.device) < 0.5)
        return style, torch.where(mixing[..., None], random, style)

    def step(self, micro: list, step: int) -> dict[str, float]:
        t = self.trained
        prepared = [(rgb, one_hot(labels).float()) for rgb, labels, _ in micro]
        d_losses = self.accumulate(prepared, lambda b: self._d_loss(b, step), [t["D"]], [self.optimizers["D"]], "d")
        g_losses = self.accumulate(prepared, self._g_loss, [t["G"]], [self.optimizers["G"]], "g")
        ema_update(self.ema, t["G"], self.config.ema)
        return {**d_losses, **g_losses}

    def _render(self, g, rgb: torch.Tensor, sem: torch.Tensor) -> torch.Tensor:
        """Reconstruction and mixed-style render in one batch: (2B, 3, S, S)."""
        style, mixed = self.styles(inner(g), rgb, sem)
        with self.autocast():
            return g(torch.cat([sem, sem]), torch.cat([style, mixed])).float()

    def _d_loss(self, batch, step: int) -> tuple[torch.Tensor, dict]:
        rgb, sem = batch
        c, G, D = self.config, inner(self.trained["G"]), self.trained["D"]
        with torch.no_grad():
            fakes = self._render(G, rgb, sem)
        regularise = step % c.r1_every == 0
        real_in = rgb.clone().requires_grad_(regularise)
        with contextlib.nullcontext() if regularise else self.autocast():  # R1 in float32: fp16 would underflow
            real = D(real_in, sem)[0].float()
        with self.autocast():
            fake = D(fakes, torch.cat([sem, sem]))[0].float()
        loss = F.softplus(-real).mean() + F.softplus(fake).mean()
        parts = {"D/real": F.softplus(-real).mean().detach(), "D/fake": F.softplus(fake).mean().detach()}
        if regularise:  # lazy R1 (StyleGAN2): every r1_every steps, scaled by r1_every
            grad = torch.autograd.grad(real.sum(), real_in, create_graph=True)[0]
            r1 = grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()
            loss = loss + c.r1_gamma / 2 * r1 * c.r1_every
            parts["D/r1"] = r1.detach()
        return loss, parts

    def _g_loss(self, batch) -> tuple[torch.Tensor, dict]:
        rgb, sem = batch
        c, G, D = self.config, self.trained["G"], inner(self.trained["D"])
        b = rgb.shape[0]
        out = self._render(G, rgb, sem)
        rec = out[:b]
        with self.autocast():
            logits, feats = D(out, torch.cat([sem, sem]))
            with torch.no_grad():
                real_feats = D(rgb, sem)[1]
        adv = F.softplus(-logits.float()).mean()
        l1 = F.l1_loss(rec, rgb)
        fm = sum(F.l1_loss(f[:b].float(), r.float()) for f, r in zip(feats, real_feats, strict=True)) / len(feats)
        loss = adv + c.lambda_l1 * l1 + c.lambda_fm * fm
        parts = {"G/adv": adv.detach(), "G/l1": l1.detach(), "G/fm": fm.detach()}
        if self.perceptual is not None:
            lp = self.perceptual(rec, rgb).mean()
            loss = loss + c.lambda_lpips * lp
            parts["G/lpips"] = lp.detach()
        return loss, parts

    # -- files -------------------------------------------------------------------------------------------------
    def exports(self) -> dict[str, object]:
        """rosinality's layout, as the official wrapper reads it: ``g_ema`` (what the app loads), ``g``, ``d``."""
        return {file_name(self.config.size): {"g_ema": recorded(self.ema), "g": recorded(inner(self.trained["G"])),
                                              "d": recorded(inner(self.trained["D"]))}}

    def load(self, folder: Path) -> None:
        path = folder / file_name(self.config.size)
        saved = read_checkpoint(path)
        for key, net in (("g_ema", self.ema), ("g", inner(self.trained["G"])), ("d", inner(self.trained["D"]))):
            load_state_dict_strict(net, saved, container=key, name=f"{path}[{key}]")

    @torch.no_grad()
    def samples(self, batch) -> np.ndarray:
        """Rows: photo | EMA reconstruction | EMA render with mixed styles."""
        rgb, labels, _ = (t[:4] for t in batch)
        sem = one_hot(labels).float()
        out = self._render(self.ema, rgb, sem)
        n = rgb.shape[0]
        tiles = torch.cat([rgb, out[:n], out[n:]], 3).clamp(-1, 1)
        grid = torch.cat(list(tiles), 1)  # (3, rows * S, 3 * S)
        return ((grid.permute(1, 2, 0).cpu().numpy() + 1) * 127.5).round().astype(np.uint8)


def _perceptual(choice: str, device: torch.device):
    """LPIPS (AlexNet + the LPIPS heads) when both files are installed and ``choice`` is not "none"."""
    if choice == "none":
        return None
    from ..nets.lpips import LPIPS
    from ..weights import checkpoint_path

    alex, heads = checkpoint_path("alexnet"), checkpoint_path("lpips")
    if not (alex.is_file() and heads.is_file()):
        return None
    return LPIPS.from_files(alex, heads).to(device).eval().requires_grad_(False)
