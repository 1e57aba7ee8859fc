"""SMILE Studio: a desktop editor for face layouts built on SMILE (ICCVW 2021)."""

import os as _os

__version__ = "0.1.0"

# ``SMILE_CPU_CAP=avx2`` makes this process behave as on a CPU with AVX2 only (no AVX-512, no bf16 units): the
# feature probing of :mod:`.nets.runtime` honours it, and so do PyTorch's and oneDNN's kernels through their own
# caps, set here before torch is imported unless the caller chose them. CI runs the network and engine tests a
# second time under it, so nothing passes only on the CPU it was written on.
if _os.environ.get("SMILE_CPU_CAP", "").strip().lower() == "avx2":
    _os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
    _os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
