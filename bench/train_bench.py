"""One training iteration of SMILE_SEM and of SMILE_SYN at 256x256 (the released widths), fp32 and bf16
autocast, on the GPU when there is one (else the CPU): median seconds per optimiser step over ``--runs`` steps
after one warm-up step, and bf16's ratio to fp32 measured in the same process.

The batch is real where ../shared is present (sample photos and their maps, resized), random otherwise; speed
does not depend on the values.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch
from common import SHARED, machine_line, peak_mb, peak_reset, timed

from smile_studio.core.imageio import read_image
from smile_studio.core.labelio import read_label_map
from smile_studio.core.labels import default_attributes, label_vector
from smile_studio.training.config import TrainConfig
from smile_studio.training.distributed import Place
from smile_studio.training.sem import SemRecipe
from smile_studio.training.syn import SynRecipe


def batch(size: int, n: int, device: torch.device):
    photos = sorted((SHARED / "samples").glob("*.jpg")) if (SHARED / "samples").is_dir() else []
    photos = [p for p in photos if p.with_suffix(".png").is_file()][:n]
    if len(photos) == n:
        rgb = np.stack([cv2.resize(read_image(p), (size, size), interpolation=cv2.INTER_AREA) for p in photos])
        labels = np.stack([cv2.resize(read_label_map(p.with_suffix(".png")).labels, (size, size),
                                      interpolation=cv2.INTER_NEAREST) for p in photos])
    else:
        rng = np.random.default_rng(0)
        rgb = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        labels = rng.integers(0, 19, (n, size, size), dtype=np.uint8)
    x = torch.from_numpy(rgb).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    y = torch.from_numpy(np.stack([label_vector(default_attributes())] * n))
    return [x.to(device), torch.from_numpy(labels.astype(np.int64)).to(device), y.to(device)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=None, help="default: 4 on a GPU, 1 on a CPU")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--networks", default="sem,syn")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    n = args.batch or (4 if device.type == "cuda" else 1)
    print(machine_line())
    print(f"one optimiser step at {args.size}x{args.size}, batch {n}, on {device} (median of {args.runs})")
    micro = [batch(args.size, n, device)]
    table = np.stack([label_vector(default_attributes())])
    for network in args.networks.split(","):
        times = {}
        for precision in ("fp32", "bf16"):
            config = TrainConfig.for_network(network, "-", size=args.size, batch=n, precision=precision,
                                             fan="none", lpips="none")
            torch.manual_seed(0)
            recipe = (SemRecipe if network == "sem" else SynRecipe)(config, Place(0, 1, device), table)
            step = iter(range(10**6))
            peak_reset()
            seconds, losses = timed(lambda r=recipe, s=step: r.step(micro, next(s)), args.runs)
            times[precision] = seconds
            finite = all(np.isfinite(v) for v in losses.values())
            print(f"  {network} {precision}: {seconds:.3f} s/step, peak {peak_mb():.0f} MB, losses finite: {finite}")
        print(f"  {network} bf16 / fp32: {times['bf16'] / times['fp32']:.2f}x the time")


if __name__ == "__main__":
    main()
