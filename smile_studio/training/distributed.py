"""One process or many: the ``torchrun`` environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) decides.
NCCL on GPUs, gloo on CPUs; rank 0 alone logs, shows progress and writes checkpoints."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..nets.checkpoint import record_architecture
from ..nets.runtime import pick_device


@dataclass(frozen=True)
class Place:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def start(device: str = "auto") -> Place:
    """Join the process group when launched by torchrun with more than one process; pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Place(rank, world, dev)


def stop() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap(module: nn.Module, place: Place) -> nn.Module:
    """DDP over the group (gradients averaged across ranks, parameters broadcast from rank 0 at the start)."""
    if place.world == 1:
        return module
    ids = [place.device.index] if place.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def inner(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


def recorded(module: nn.Module) -> dict:
    """``module``'s state_dict with the architecture it was built with recorded in it (see
    :mod:`..nets.checkpoint`): what the exported files hold."""
    return record_architecture(module.state_dict(), type(module).__name__, **module.architecture)


def digest(modules: dict[str, nn.Module]) -> str:
    """SHA-256 of every parameter and buffer, in order: equal digests mean bit-identical replicas."""
    h = hashlib.sha256()
    for name in sorted(modules):
        for key, value in inner(modules[name]).state_dict().items():
            h.update(key.encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def any_rank(flag: bool, place: Place) -> bool:
    """Whether ``flag`` is set on any rank (one all-reduce): a signal that reached one process stops them all at
    the same step."""
    if place.world == 1:
        return flag
    t = torch.tensor([1 if flag else 0], device=place.device if place.device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def replica_digests(modules: dict[str, nn.Module], place: Place) -> list[str]:
    """Every rank's digest (rank order); a single process gives its own."""
    mine = digest(modules)
    if place.world == 1:
        return [mine]
    out: list = [None] * place.world
    dist.all_gather_object(out, mine)
    return out
