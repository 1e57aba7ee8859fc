"""The engines' caches are bounded in entries and in bytes."""

from collections import OrderedDict

import numpy as np
import torch

from smile_studio.engines.cache import array_digest, lru_get, nbytes


def test_lru_cache_is_bounded_in_bytes_and_keeps_the_newest():
    cache: OrderedDict = OrderedDict()
    mb = 2**20
    for i in range(6):
        lru_get(cache, 100, i, lambda: np.zeros(mb, np.uint8), max_bytes=3 * mb)
    assert list(cache) == [3, 4, 5]  # the oldest went first
    lru_get(cache, 100, 3, lambda: None, max_bytes=3 * mb)  # a hit refreshes the entry
    lru_get(cache, 100, 9, lambda: (torch.zeros(mb // 4), {"x": np.zeros(mb, np.uint8)}), max_bytes=3 * mb)
    assert 3 in cache and 9 in cache and 4 not in cache
    lru_get(cache, 100, "big", lambda: np.zeros(10 * mb, np.uint8), max_bytes=3 * mb)
    assert list(cache) == ["big"]  # larger than the budget alone: kept (it was just asked for), all else gone
    assert nbytes((torch.zeros(3, dtype=torch.float16), [np.zeros(5, np.float64)])) == 6 + 40
    assert array_digest(np.zeros((2, 3))) != array_digest(np.zeros((3, 2)))
