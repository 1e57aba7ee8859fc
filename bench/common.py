"""What the benchmark scripts share: where ../shared is, timing with a warm-up, peak memory."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch

from smile_studio.app.main import peak_rss_mb

SHARED = Path(os.environ.get("SMILE_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def machine_line() -> str:
    """The CPU (name, features, kernel level) and which fast paths run: printed first by every benchmark, since
    figures only compare within one machine."""
    from smile_studio.nets.onednn import fast_paths_report
    from smile_studio.nets.runtime import cpu_description

    on = [k for k, v in fast_paths_report().items() if v]
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (f"CPU {cpu_description()}, {torch.get_num_threads()} threads{gpu}; torch {torch.__version__}; "
            f"fast paths: {', '.join(on) or 'none'}")


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, runs: int) -> tuple[float, object]:
    """(median seconds over ``runs`` calls after one warm-up call, the last result); waits for the GPU."""
    out = fn()
    times = []
    for _ in range(runs):
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def peak_reset() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    """Peak GPU memory where a GPU was used, else the process's peak resident memory since peak_reset()."""
    if torch.cuda.is_available() and torch.cuda.max_memory_allocated():
        return torch.cuda.max_memory_allocated() / 2**20
    return peak_rss_mb()


GOLDEN_FILES = {"syn256": "syn256_G", "sem_G": "sem256_G", "sem_F": "sem256_F", "sem_S": "sem256_S",
                "fan": "sem256_FAN"}  # registry key -> golden manifest of the SMILE engines' files


def write_golden_weights(folder: Path) -> dict[str, Path]:
    """The golden synthetic weights as the official files (the registry's names and containers) in ``folder``:
    {registry key: path}. They stand in for the official files, which cannot be downloaded here."""
    from smile_studio.nets.golden import synth_state_dict
    from smile_studio.weights.registry import CHECKPOINT_BY_KEY

    manifests = SHARED / "golden" / "manifests"
    if not manifests.is_dir():
        raise SystemExit(f"needs the golden manifests in {manifests} (set SMILE_SHARED)")
    paths = {}
    for key, manifest in GOLDEN_FILES.items():
        c = CHECKPOINT_BY_KEY[key]
        sd = synth_state_dict(manifests / f"{manifest}.json", 1)
        paths[key] = folder / c.filename
        torch.save({c.container: sd} if c.container else sd, paths[key])
    return paths



def verdict(ok: bool) -> int:
    """Say whether every target was met; the exit status that goes with it."""
    print(f"targets: {'MET' if ok else 'MISSED'}")
    return 0 if ok else 1
