"""Safe, strict checkpoint loading with messages that name the file and the first bad key, and the architecture
our trainer records in the files it writes.

A network trained here may differ from the released one in size, widths or depth. The trainer records the
arguments it built each network with in the state dict's root metadata (``state_dict._metadata[""]``, where
PyTorch keeps per-module versions and every loader, the official code's included, ignores other entries), so
the file keeps the official layout and a loader builds the network from what was recorded instead of guessing
it from key names and shapes. Files without the record (the released ones) are still read by their keys."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded into a network; str(error) names the file and the problem."""


def read_checkpoint(source, name: str | None = None) -> Mapping:
    """torch.load with weights_only=True (no pickled code ever runs), errors as CheckpointError."""
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    name = name or str(path)
    if not path.is_file():
        raise CheckpointError(f"{name}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{name}: the file is empty")
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:2] != b"PK" and head[:1] != b"\x80":  # neither PyTorch's zip nor a pickle (protocol 2 or later)
        raise CheckpointError(f"{name}: not a readable checkpoint (neither a PyTorch file nor a pickle: "
                              f"it starts with {head!r})")
    try:
        return torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError,
            TypeError, AttributeError, IndexError, MemoryError, RecursionError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise CheckpointError(f"{name}: refused, the file holds pickled objects other than tensors ({msg})") \
                from exc
        raise CheckpointError(f"{name}: not a readable checkpoint, truncated or damaged ({msg})") from exc


ARCHITECTURE = "smile_studio.architecture"  # the entry of the root metadata that holds the record


def record_architecture(sd: Mapping, network: str, **arguments) -> Mapping:
    """``sd`` (a module's state_dict) with ``network`` (its class's name) and the ``arguments`` it was built with
    recorded in its root metadata; returned for chaining."""
    metadata = sd.__dict__.setdefault("_metadata", OrderedDict())
    metadata.setdefault("", {})[ARCHITECTURE] = {"network": network, **arguments}
    return sd


def recorded_architecture(sd: Mapping) -> dict | None:
    """What :func:`record_architecture` recorded in ``sd``, or None (a released file, one written elsewhere, or
    a record that is not one: a network's name and arguments of plain numbers)."""
    metadata = vars(sd).get("_metadata") if hasattr(sd, "__dict__") else None
    root = metadata.get("") if isinstance(metadata, Mapping) else None
    record = root.get(ARCHITECTURE) if isinstance(root, Mapping) else None
    if not isinstance(record, Mapping) or not isinstance(record.get("network"), str):
        return None
    arguments = {k: v for k, v in record.items() if k != "network"}
    if not all(isinstance(k, str) and (v is None or type(v) in (int, float)) for k, v in arguments.items()):
        return None
    return dict(record)


def _inside(obj: Mapping, container: str | tuple[str, ...] | None) -> Mapping:
    for box in (container,) if isinstance(container, str) else container or ():
        if box in obj and isinstance(obj[box], Mapping):
            return obj[box]
    return obj


def extract_state_dict(obj: Mapping, container: str | tuple[str, ...] | None, name: str) -> dict:
    """Pick the state_dict out of an official file (``obj[container]`` when present; of several containers, the
    first present) and strip ``module.``. Anything else a file may hold (None, a number, a list, non-string keys)
    is a CheckpointError naming it."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{name}: holds {type(obj).__name__}, not a dictionary of tensors; not a checkpoint "
                              "of this network")
    sd = _inside(obj, container)
    if not all(isinstance(k, str) for k in sd):
        bad = next(k for k in sd if not isinstance(k, str))
        raise CheckpointError(f"{name}: key {bad!r} is not a parameter name; not a checkpoint of this network")
    if not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        keys = [str(k) for k in list(obj.keys())[:5]]
        raise CheckpointError(f"{name}: no state_dict found (expected {container!r} or tensors; found {keys})")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return dict(sd)


def check_state_dict(model: nn.Module, sd: Mapping, name: str, ignore_extra: bool = False) -> None:
    """Raise CheckpointError naming the first missing, unexpected or mis-shaped key (in the model's order)."""
    check_signature({k: tuple(v.shape) for k, v in model.state_dict().items()}, sd, name, ignore_extra,
                    type(model).__name__)


def check_signature(expected: Mapping[str, tuple], sd: Mapping, name: str, ignore_extra: bool = False,
                    network: str = "this network") -> None:
    """The same check against ``{key: shape}`` (what a network's state_dict holds), without building it.
    BatchNorm's ``num_batches_tracked`` counters are optional either way: files saved before PyTorch 0.4.1 lack
    them, and they hold no weights."""
    for key, shape in expected.items():
        if key not in sd and key.endswith("num_batches_tracked"):
            continue
        if key not in sd:
            raise CheckpointError(f"{name}: missing key {key!r} (expected shape {tuple(shape)}); "
                                  f"{sum(k not in sd for k in expected)} keys missing in all")
        if tuple(sd[key].shape) != tuple(shape):
            raise CheckpointError(f"{name}: key {key!r} has shape {tuple(sd[key].shape)}, expected {tuple(shape)}")
    if not ignore_extra:
        extra = [k for k in sd if k not in expected and not k.endswith("num_batches_tracked")]
        if extra:
            raise CheckpointError(f"{name}: unexpected key {extra[0]!r} ({len(extra)} unexpected in all); "
                                  f"is this the right checkpoint for {network}?")


def load_state_dict_strict(model: nn.Module, source, container: str | tuple[str, ...] | None = None,
                           name: str | None = None, ignore_extra: bool = False) -> None:
    name = name or (str(source) if not isinstance(source, Mapping) else "state_dict")
    sd = extract_state_dict(read_checkpoint(source, name), container, name)
    check_state_dict(model, sd, name, ignore_extra)
    if ignore_extra:
        sd = {k: v for k, v in sd.items() if k in model.state_dict()}
    model.load_state_dict(sd, strict=True)


def build_from_checkpoint(source, shaped_like: Callable[[dict], nn.Module], container: str | None = None,
                          name: str | None = None,
                          built: tuple[type[nn.Module], Callable[..., nn.Module]] | None = None) -> nn.Module:
    """A network built to the checkpoint's own shapes and loaded strictly: from the architecture recorded in the
    file when it has one (``built`` = (the network's class, how to build it from the record's arguments)),
    else from its keys (``shaped_like(state_dict)`` reads size and widths from them: the released files)."""
    name = name or (str(source) if not isinstance(source, Mapping) else "state_dict")
    raw = read_checkpoint(source, name)
    record = recorded_architecture(_inside(raw, container)) if isinstance(raw, Mapping) else None
    sd = extract_state_dict(raw, container, name)
    try:
        model = _built_as_recorded(record, built, sd, name) if record is not None and built is not None else None
        if model is None:
            model = shaped_like(sd)
    except (KeyError, ValueError, IndexError, AttributeError, TypeError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{name}: not a checkpoint of this network (its shapes do not fit: {exc})") from exc
    load_state_dict_strict(model, sd, name=name)
    return model


def _built_as_recorded(record: dict, built: tuple, sd: Mapping, name: str) -> nn.Module | None:
    """The network as ``record`` says it was built, its shapes checked against the file's before any weight is
    allocated (a record claiming a huge network cannot exhaust memory); None when the record's arguments do not
    fit this version's constructor (a file from another version: its keys are read instead)."""
    cls, build = built
    network = record.pop("network")
    if network != cls.__name__:
        raise CheckpointError(f"{name}: holds a {network}, not a {cls.__name__}")
    try:
        with torch.device("meta"):
            probe = build(**record)
    except TypeError:
        return None
    check_state_dict(probe, sd, name)
    return build(**record)
