"""Process-level settings that make CPU inference fast: threads and the memory allocator.

glibc returns large blocks (> 128 KiB by default) to the system after every free and maps them anew on the next
allocation, so each intermediate activation of a generator pays page faults on first touch (for a 32 MB tensor a
plain multiply costs 3x more). Raising the mmap and trim thresholds keeps freed blocks in the heap for reuse.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys

import torch

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


def pick_device(prefer: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU falls back to CPU."""
    if prefer in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def has_bf16_matrix_units() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AMX or AVX-512 BF16) and oneDNN may use them (an
    ``ONEDNN_MAX_CPU_ISA`` cap can forbid it), where bf16 inference is ~3x faster than float32; elsewhere bf16
    is emulated and slower."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    try:
        return (torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
                and any(bool(getattr(torch.cpu, n)()) for n in probes if hasattr(torch.cpu, n)))
    except (RuntimeError, AttributeError):
        return False


_FEATURE_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


def cpu_description() -> str:
    """'AMD EPYC 9R14 (avx2 fma avx512f ...; PyTorch kernels: AVX512)': the CPU's name, the vector and matrix
    features that decide which fast paths run, and the kernel level PyTorch picked."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name in ("", platform.machine(), platform.processor()):
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    have = [f for f in _FEATURE_FLAGS if f in flags] or ["features unknown"]
    try:
        level = torch.backends.cpu.get_cpu_capability()
    except (RuntimeError, AttributeError):
        level = "unknown"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return f"{name} ({' '.join(have)}; PyTorch kernels: {level}{f'; oneDNN capped at {cap}' if cap else ''})"


def preview_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The dtype of interactive renders: 'exact' -> float32; 'fast'/'auto' -> bf16 on CPUs with bf16 matrix units,
    float32 elsewhere (a GPU renders one 256x256 image in ~20 ms in float32: launch-bound, bf16 gains nothing)."""
    if precision not in ("auto", "fast", "exact"):
        raise ValueError(f"unknown precision {precision!r} (auto, fast or exact)")
    if precision != "exact" and device.type == "cpu" and has_bf16_matrix_units():
        return torch.bfloat16
    return torch.float32


def image_tensor(rgb) -> torch.Tensor:
    """(H, W, 3) uint8 image (possibly a read-only snapshot) -> (1, 3, H, W) float32 in [0, 255], a copy."""
    return torch.tensor(rgb).permute(2, 0, 1)[None].float()


def dtype_name(dtype: torch.dtype) -> str:
    """'float32', 'bfloat16', ... (for people: banners, reports, settings)."""
    return str(dtype).removeprefix("torch.")
