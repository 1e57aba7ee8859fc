"""Process-level settings for inference: the device, CPU features and the preview precision (the memory
allocator's settings are in :mod:`.allocator`, which needs no torch)."""

from __future__ import annotations

import os
import platform

import torch


def pick_device(prefer: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU falls back to CPU."""
    if prefer in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


CPU_CAP_ENV = "SMILE_CPU_CAP"
CPU_CAPS = ("avx2",)


def cpu_cap() -> str | None:
    """The CPU level this process was told to behave as (``SMILE_CPU_CAP=avx2``), or None: the CPU's own."""
    cap = os.environ.get(CPU_CAP_ENV, "").strip().lower()
    if not cap:
        return None
    if cap not in CPU_CAPS:
        raise ValueError(f"{CPU_CAP_ENV}={cap!r}: the only cap is 'avx2' (unset it to use the whole CPU)")
    return cap


def onednn_bf16_supported() -> bool:
    """Whether oneDNN has bf16 instructions to use here (never under the AVX2 cap): elsewhere bf16 would be
    emulated or refused."""
    if cpu_cap() == "avx2" or not torch.backends.mkldnn.is_available():
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (RuntimeError, AttributeError):
        return False


def has_bf16_matrix_units() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AMX or AVX-512 BF16) and oneDNN may use them (an
    ``ONEDNN_MAX_CPU_ISA`` cap or ``SMILE_CPU_CAP=avx2`` forbids it), where bf16 inference is ~3x faster than
    float32; elsewhere bf16 is emulated and slower."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    try:
        return onednn_bf16_supported() and any(bool(getattr(torch.cpu, n)()) for n in probes if hasattr(torch.cpu, n))
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
    caps = [f"oneDNN capped at {os.environ['ONEDNN_MAX_CPU_ISA']}"] if os.environ.get("ONEDNN_MAX_CPU_ISA") else []
    if cpu_cap():
        caps.append(f"behaving as {cpu_cap().upper()} only ({CPU_CAP_ENV})")
    return f"{name} ({' '.join(have)}; PyTorch kernels: {level}{''.join('; ' + c for c in caps)})"


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
