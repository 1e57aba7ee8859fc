"""SMILE_SEM's official training recipe (SMILE_REFERENCE §4), on the networks the app runs.

Per step: one discriminator update (latent-guided fakes, BCE, R1 on the real one-hot maps weighted 1, the loss
averaged over real and fake), then G, F and S together: adversarial + diversity (masked by 1 - the FAN heatmap,
weight 20 decaying linearly to 0 over 200k steps) + style reconstruction (64-d gender slot, 16-d other slots) +
cycle cross-entropy back to the source map with the detached source style. Adam (lr 1e-4, F 1e-6, betas
(0, 0.99), coupled weight decay 1e-4), EMA 0.999 on G, F and S, the cycling multi-label sampler.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.labelio import colorize
from ..nets.checkpoint import load_state_dict_strict
from ..nets.sem import NOISE_DIM, SMALL_DIM, Conv2DMod, Discriminator, MappingNetwork, SemGenerator, StyleEncoder
from ..nets.syn_layers import one_hot
from .config import TrainConfig
from .distributed import Place, inner, recorded, wrap
from .recipe import Recipe, ema_update

FILES = {"G": "smileSEM_G.pth", "F": "smileSEM_F.pth", "S": "smileSEM_S.pth", "D": "smileSEM_D.pth"}
EMA_FILES = {"G": "smileSEM_G_ema.pth", "F": "smileSEM_F_ema.pth", "S": "smileSEM_S_ema.pth"}


def scaled(width: int, fraction: float) -> int:
    return max(int(width * fraction), 4)


def official_init(module: nn.Module) -> None:
    """``models/utils.py:weights_init``: Kaiming-normal (fan_in, relu) convolutions and linears with zero biases;
    modulated convolutions keep their Kaiming-normal (leaky_relu) weights."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, Conv2DMod):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in", nonlinearity="leaky_relu")


class SemRecipe(Recipe):
    cycling = True

    def __init__(self, config: TrainConfig, place: Place, label_table: np.ndarray):
        super().__init__(config, place)
        size, w = config.size, config.width
        nets = {"G": SemGenerator(size, scaled(2**13 // size, w), scaled(512, w)),
                "F": MappingNetwork(scaled(512, w)),
                "S": StyleEncoder(size, scaled(2**14 // size, w), scaled(512, w)),
                "D": Discriminator(size, scaled(2**14 // size, w), scaled(512, w))}
        for net in nets.values():
            official_init(net)
            net.to(self.device).train()
        self.ema = {k: copy.deepcopy(nets[k]).eval().requires_grad_(False) for k in EMA_FILES}
        betas = (config.beta1, config.beta2)
        self.optimizers = {k: torch.optim.Adam(net.parameters(), lr=config.f_lr if k == "F" else config.lr,
                                               betas=betas, weight_decay=config.weight_decay)
                           for k, net in nets.items()}
        self.trained = {k: wrap(net, place) for k, net in nets.items()}
        self.labels = torch.from_numpy(label_table).to(self.device)
        self.fan = _heatmap_network(config.fan, self.device)

    def replicas(self) -> dict[str, nn.Module]:
        return {**self.trained, **{f"{k}_ema": m for k, m in self.ema.items()}}

    # -- one step ----------------------------------------------------------------------------------------------
    def heatmaps(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fan is None:
            ones = torch.ones(1, 1, 256, 256, device=self.device)
            return ones, ones
        with torch.no_grad():
            return self.fan.get_heatmap(rgb)

    def ds_weight(self, step: int) -> float:
        c = self.config
        return c.lambda_ds * max(0.0, 1.0 - step / c.ds_decay_iterations)

    def step(self, micro: list, step: int) -> dict[str, float]:
        prepared = [self._prepare(batch) for batch in micro]
        t = self.trained
        d_losses = self.accumulate(prepared, self._d_loss, [t["D"]], [self.optimizers["D"]], "d")
        g_losses = self.accumulate(prepared, lambda b: self._g_loss(b, step), [t["G"], t["F"], t["S"]],
                                   [self.optimizers[k] for k in ("G", "F", "S")], "g")
        for k, ema in self.ema.items():
            ema_update(ema, t[k], self.config.ema)
        return {**d_losses, **g_losses}

    def _prepare(self, batch) -> dict:
        rgb, labels, y_org = batch
        b = rgb.shape[0]
        x = one_hot(labels)
        y_trg = self.labels[torch.randint(len(self.labels), (b,)).to(self.device)]
        z, z2 = torch.randn(b, NOISE_DIM).to(self.device), torch.randn(b, NOISE_DIM).to(self.device)
        return {"x": x, "y_org": y_org.float(), "y_trg": y_trg, "z": z, "z2": z2, "fan": self.heatmaps(rgb),
                "target": labels}

    def _d_loss(self, b: dict) -> tuple[torch.Tensor, dict]:
        G, F_, D = inner(self.trained["G"]), inner(self.trained["F"]), self.trained["D"]
        with torch.no_grad(), self.autocast():
            fake = torch.softmax(G(b["x"], F_(b["z"], b["y_trg"]), b["fan"]).float(), 1)
        x = b["x"].clone().requires_grad_(True)
        out_real = D(x, b["y_org"]).float()  # float32: R1's gradient would underflow in fp16 activations
        with self.autocast():
            out_fake = D(fake, b["y_trg"]).float()
        grad = torch.autograd.grad(out_real.sum(), x, create_graph=True)[0]
        r1 = 0.5 * grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()
        real = F.binary_cross_entropy_with_logits(out_real, torch.ones_like(out_real))
        fake_l = F.binary_cross_entropy_with_logits(out_fake, torch.zeros_like(out_fake))
        loss = (real + fake_l) / 2 + self.config.lambda_r1 * r1
        return loss, {"D/real": real.detach(), "D/fake": fake_l.detach(), "D/r1": r1.detach()}

    def _g_loss(self, b: dict, step: int) -> tuple[torch.Tensor, dict]:
        c, t = self.config, self.trained
        G, F_, S, D = t["G"], t["F"], t["S"], inner(t["D"])
        x, fan = b["x"], b["fan"]
        with self.autocast():
            s_trg = F_(b["z"], b["y_trg"])
            fake = torch.softmax(G(x, s_trg, fan).float(), 1)
            out = D(fake, b["y_trg"]).float()
            adv = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
            with torch.no_grad():
                fake2 = torch.softmax(inner(G)(x, inner(F_)(b["z2"], b["y_trg"]), fan).float(), 1)
            ds = _diversity(fake, fake2, fan[0], masked=self.fan is not None)
            s_pred = S(fake, b["y_trg"]).float()
            sty = F.l1_loss(s_pred[:, 0], s_trg[:, 0].float()) + sum(
                F.l1_loss(s_pred[:, k, :SMALL_DIM], s_trg[:, k, :SMALL_DIM].float()) for k in range(1, s_pred.shape[1]))
            with torch.no_grad():
                s_org = inner(S)(x, b["y_org"])
            rec = G(fake, s_org, fan).float()
            cyc = F.cross_entropy(rec, b["target"])
        loss = adv + self.ds_weight(step) * ds + c.lambda_sty * sty + c.lambda_cyc * cyc
        return loss, {"G/adv": adv.detach(), "G/ds": ds.detach(), "G/sty": sty.detach(), "G/cycle": cyc.detach()}

    # -- files -------------------------------------------------------------------------------------------------
    def exports(self) -> dict[str, object]:
        """The official files (a plain state_dict each), with how each network was built recorded in it."""
        files = {name: recorded(inner(self.trained[k])) for k, name in FILES.items()}
        files.update({name: recorded(self.ema[k]) for k, name in EMA_FILES.items()})
        return files

    def load(self, folder: Path) -> None:
        for k, name in FILES.items():
            load_state_dict_strict(inner(self.trained[k]), folder / name)
        for k, name in EMA_FILES.items():
            load_state_dict_strict(self.ema[k], folder / name)

    @torch.no_grad()
    def samples(self, batch) -> np.ndarray:
        """Rows: source map | EMA edit towards another image's labels | its cycle back to the source style."""
        b = self._prepare([t[:4] for t in batch])
        G, F_, S = self.ema["G"], self.ema["F"], self.ema["S"]
        fake = G(b["x"], F_(b["z"], b["y_trg"]), b["fan"])
        rec = G(one_hot(fake.argmax(1)), S(b["x"], b["y_org"]), b["fan"])
        rows = [np.concatenate([colorize(m.argmax(0).cpu().numpy()) for m in (xi, fi, ri)], 1)
                for xi, fi, ri in zip(b["x"], fake, rec, strict=True)]
        return np.concatenate(rows, 0)


def _diversity(fake: torch.Tensor, fake2: torch.Tensor, heat: torch.Tensor, masked: bool) -> torch.Tensor:
    """-L1 between two edits of the same map from two latent codes, away from the landmarks (1 - heatmap);
    without heatmaps (no FAN weights) over the whole map."""
    if not masked:
        return -F.l1_loss(fake, fake2)
    m = (1 - F.interpolate(heat, size=fake.shape[-2:], mode="bilinear")).expand_as(fake)
    keep = m > 0
    if not bool(keep.any()):
        return fake.sum() * 0
    return -F.l1_loss((m * fake)[keep], (m * fake2)[keep])


def _heatmap_network(choice: str, device: torch.device):
    """The FAN landmark network for the diversity mask and the skips: the installed ``wing.ckpt`` (``auto``),
    a given file, or none (all-ones masks, as the app uses without it)."""
    if choice == "none":
        return None
    from ..nets.fan import FAN
    from ..weights import checkpoint_path

    path = checkpoint_path("fan") if choice == "auto" else Path(choice)
    if not path.is_file():
        if choice == "auto":
            return None
        raise ValueError(f"{path}: no such FAN file")
    fan = FAN()
    fan.load_official(path)
    return fan.to(device).eval().requires_grad_(False)
