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


def lru_get(cache: OrderedDict, limit: int, key, compute: Callable[[], Any]) -> Any:
    """``cache[key]``, computed on a miss; the least recently used entries beyond ``limit`` are dropped."""
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = compute()
    while len(cache) > limit:
        cache.popitem(last=False)
    return value
