"""The memory allocator's settings (glibc; no-ops elsewhere), torch-free so the interface can use them.

glibc returns large blocks (> 128 KiB by default) to the system after every free and maps them anew on the next
allocation, so each intermediate activation of a generator pays page faults on first touch (for a 32 MB tensor a
plain multiply costs 3x more). Raising the mmap and trim thresholds keeps freed blocks in the heap for reuse;
once the editor is idle, :func:`release_free_memory` gives the free pages back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_tuned = False


def tune_allocator(threshold_bytes: int = 1 << 30) -> bool:
    """Keep freed large blocks for reuse (glibc only; a no-op elsewhere). Returns whether it applied."""
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = _libc()
        ok = libc.mallopt(_M_MMAP_THRESHOLD, threshold_bytes) == 1 and libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                     threshold_bytes) == 1
    except (OSError, AttributeError):
        return False
    _tuned = ok
    return ok


@functools.cache
def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def release_free_memory() -> bool:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``; a no-op elsewhere). With the
    allocator tuned, a render's freed activations stay in the heap for the next render: while painting that saves
    page faults, but once the editor is idle it is memory the machine could use. Returns whether it applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        _libc().malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True
