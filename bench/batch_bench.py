"""Batched rendering for ``smile-studio batch``: 8 different faces through SMILE_SYN one by one vs as one batch
(``render_many``), exact float32, in one process (golden synthetic weights when ../shared is present, else seeded
random ones; speed does not depend on the values). On a GPU the batch is the point; on a CPU it shows the cost."""

from __future__ import annotations

import time

import numpy as np
import torch
from common import SHARED, machine_line, sync

from smile_studio.engines.base import RenderRequest, render_batch
from smile_studio.engines.neural import NeuralRenderEngine
from smile_studio.nets.golden import synth_state_dict
from smile_studio.nets.syn import SynGenerator


def main() -> None:
    print(machine_line())
    m = SHARED / "golden" / "manifests"
    source = {"g_ema": synth_state_dict(m / "syn256_G.json", 1)} if m.is_dir() else \
        {"g_ema": SynGenerator(256).state_dict()}
    engine = NeuralRenderEngine.from_source(source, precision="exact")
    d = np.load(SHARED / "golden" / "syn256_seed1.npz") if m.is_dir() else None
    rng = np.random.default_rng(0)
    labs = [d["labA"], d["labB"]] if d is not None else [rng.integers(0, 19, (256, 256), dtype=np.uint8)] * 2
    reqs = [RenderRequest(np.roll(labs[i % 2], 3 * i, axis=1), exact=True) for i in range(8)]
    for label, run in (("one by one", lambda: [engine.render(r) for r in reqs]),
                       ("one batch of 8", lambda: render_batch(engine, reqs))):
        run()
        sync()
        t0 = time.perf_counter()
        run()
        sync()
        seconds = time.perf_counter() - t0
        print(f"  {label}: {seconds:.2f} s for 8 faces ({seconds / 8 * 1000:.0f} ms/face)")
    print(f"  device: {engine.device}, threads: {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
