"""What a network's training step provides to the shared loop (:mod:`.loop`): its networks and optimisers,
one step over micro-batches, its files in the official layouts, and sample grids; plus the pieces both recipes
use (autocast, loss scaling, accumulation with DDP's gradient sync on the last micro-batch, EMA)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import TrainConfig
from .distributed import Place, inner


def ema_update(ema: nn.Module, live: nn.Module, beta: float) -> None:
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), inner(live).parameters(), strict=True):
            pe.lerp_(p, 1 - beta)
        for be, b in zip(ema.buffers(), inner(live).buffers(), strict=True):
            be.copy_(b)


class Recipe:
    """One network's training step. Subclasses build ``trained`` (name -> module, DDP-wrapped where several
    processes run), ``optimizers`` and implement :meth:`step`, :meth:`exports`, :meth:`load` and :meth:`samples`."""

    cycling = False  # the multi-label cycling sampler (SEM) instead of epoch shuffling
    trained: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def __init__(self, config: TrainConfig, place: Place):
        self.config, self.place, self.device = config, place, place.device
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.precision)
        self._autocast_dtype = dtype
        self.scalers = {}

    def autocast(self):
        if self._autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self._autocast_dtype)

    def scaler(self, name: str) -> torch.amp.GradScaler:
        """fp16 needs loss scaling (bf16 and fp32 do not: the scaler is then a no-op)."""
        if name not in self.scalers:
            self.scalers[name] = torch.amp.GradScaler(self.device.type, enabled=self.config.precision == "fp16")
        return self.scalers[name]

    def accumulate(self, micro: list, loss_of, modules: list[nn.Module], optimizers: list, scaler_name: str
                   ) -> dict[str, float]:
        """Backward over the micro-batches (gradients synchronised across ranks only on the last), then one
        optimiser step each; returns the losses averaged over the micro-batches."""
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        scaler = self.scaler(scaler_name)
        totals: dict[str, float] = {}
        for k, batch in enumerate(micro):
            last = k == len(micro) - 1
            with contextlib.ExitStack() as stack:
                if not last:
                    for m in modules:
                        if hasattr(m, "no_sync"):
                            stack.enter_context(m.no_sync())
                loss, parts = loss_of(batch)
                scaler.scale(loss / len(micro)).backward()
            for name, value in parts.items():
                totals[name] = totals.get(name, 0.0) + float(value) / len(micro)
        for opt in optimizers:
            scaler.step(opt)
        scaler.update()
        return totals

    def optimizer_state(self) -> dict:
        state = {f"optim_{k}": o.state_dict() for k, o in self.optimizers.items()}
        state.update({f"scaler_{k}": s.state_dict() for k, s in self.scalers.items()})
        return state

    def load_optimizer_state(self, state: dict) -> None:
        for k, o in self.optimizers.items():
            o.load_state_dict(state[f"optim_{k}"])
        for key, value in state.items():
            if key.startswith("scaler_"):
                self.scaler(key[len("scaler_"):]).load_state_dict(value)

    def replicas(self) -> dict[str, nn.Module]:
        """What must be bit-identical on every rank and after an exact resume: trained networks and EMA copies."""
        raise NotImplementedError

    def step(self, micro: list, step: int) -> dict[str, float]:
        raise NotImplementedError

    def exports(self) -> dict[str, object]:
        """The networks in their official file layouts (name -> object for torch.save)."""
        raise NotImplementedError

    def load(self, folder: Path) -> None:
        """Networks (trained and EMA) from a checkpoint folder written by :meth:`exports`."""
        raise NotImplementedError

    def samples(self, batch) -> np.ndarray:
        """An RGB grid showing what the networks do now."""
        raise NotImplementedError
