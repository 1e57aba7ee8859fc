"""Content keys and bounded caches the engines keep between requests (photos, maps and their derived data)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np


def array_digest(*arrays: np.ndarray | None) -> bytes:
    """A 16-byte key for the content of the arrays (shape and dtype included; None entries are skipped)."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        if a is not None:
            a = np.ascontiguousarray(a)
            h.update(f"{a.shape}{a.dtype}".encode())
            h.update(a.data)
    return h.digest()


def nbytes(value: Any) -> int:
    """Memory held by a cached value: arrays and tensors, and containers (tuples, lists, dicts, dataclasses) of
    them; anything else counts as nothing."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if hasattr(value, "element_size") and hasattr(value, "nelement"):  # a torch tensor (torch is not imported)
        return int(value.element_size() * value.nelement())
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if hasattr(value, "__dataclass_fields__"):
        return sum(nbytes(getattr(value, f)) for f in value.__dataclass_fields__)
    return 0


def lru_get(cache: OrderedDict, limit: int, key, compute: Callable[[], Any], max_bytes: int | None = None) -> Any:
    """``cache[key]``, computed on a miss; the least recently used entries are dropped beyond ``limit`` entries
    and, with ``max_bytes``, beyond that much memory (the newest entry always stays)."""
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = compute()
    if max_bytes is not None:
        sizes = cache.__dict__.setdefault("sizes", {})
        sizes[key] = nbytes(value)
    while len(cache) > limit or (max_bytes is not None and len(cache) > 1
                                 and sum(cache.sizes.get(k, 0) for k in cache) > max_bytes):
        old, _ = cache.popitem(last=False)
        cache.__dict__.get("sizes", {}).pop(old, None)
    return value
