"""What the wire costs: a server on 127.0.0.1 (``smile-studio serve``'s application) against the same engine in
this process, SMILE on the golden synthetic weights at 256x256.

* the wire alone: a stroke preview's round trip through a server whose engine answers at once (JSON and PNG
  both ways, HTTP on the loopback; the photo and source map are the same every dab, as in a stroke); target
  <= 15 ms;
* per exact render and per stroke preview with SMILE: in process and through the server (the difference is
  within the renders' own spread);
* exact renders per second with 1 and 4 clients at once (the server runs one request at a time on the engine:
  four clients share it).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time

import numpy as np
import torch
from common import SHARED, machine_line

from smile_studio.core.labelio import colorize
from smile_studio.core.labelmap import LabelMap
from smile_studio.core.labels import ClassId as C
from smile_studio.engines.base import OFFLINE_INFO, RenderRequest
from smile_studio.engines.neural import NeuralRenderEngine
from smile_studio.engines.offline import OfflineLayoutEngine
from smile_studio.engines.remote import remote_engines
from smile_studio.nets.golden import synth_state_dict
from smile_studio.serve.local import serving

TARGET_PREVIEW_MS = 15.0


def dabs(lab: np.ndarray, n: int):
    canvas = LabelMap(lab.copy())
    points = [(60 + 3 * i, 95 + 20 * np.sin(i / 8)) for i in range(n + 1)]
    for a, b in zip(points, points[1:], strict=False):
        canvas.stroke_segment(a, b, C.HAIR, 12.0)
        yield canvas.labels.copy()


def median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def stroke_ms(engine, lab, rgb, n: int = 30) -> float:
    engine.render(RenderRequest(lab, rgb, lab))  # the render the stroke starts from
    times = []
    for labels in dabs(lab, n):
        t0 = time.perf_counter()
        engine.render(RenderRequest(labels, rgb, lab, stroke=True))
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


class Instant:
    """A render engine that answers at once (the picture of the map): what is left of a round trip is the wire."""

    name, description, info, large_side = "instant", "answers at once", OFFLINE_INFO, None

    def render(self, req):
        return colorize(req.labels)


def wire_ms(lab, rgb) -> float:
    with serving(OfflineLayoutEngine(), Instant()) as url:
        _, remote, _ = remote_engines(url)
        remote.render(RenderRequest(lab, rgb, lab))
        times = []
        for labels in dabs(lab, 60):
            t0 = time.perf_counter()
            remote.render(RenderRequest(labels, rgb, lab, stroke=True))
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> int:
    torch.set_num_threads(2)
    golden = SHARED / "golden"
    if not (golden / "syn256_seed1.npz").is_file():
        print(f"no golden fixtures under {golden} (set SMILE_SHARED)")
        return 2
    print(machine_line())
    d = np.load(golden / "syn256_seed1.npz")
    lab = d["labA"].astype(np.uint8)
    rgb = ((d["rgbA"][0].transpose(1, 2, 0) + 1) * 127.5).round().astype(np.uint8)
    engine = NeuralRenderEngine.from_source({"g_ema": synth_state_dict(golden / "manifests" / "syn256_G.json", 1)},
                                            device="cpu")
    exact = RenderRequest(lab, rgb, lab, exact=True)
    wire = wire_ms(lab, rgb)
    print(f"the wire: a stroke preview's round trip with an engine that answers at once, median of 60 dabs: "
          f"{wire:.1f} ms")
    with serving(OfflineLayoutEngine(), engine) as url:
        _, remote, note = remote_engines(url)
        print(f"SMILE_SYN 256x256 on {note}, previews in {engine.info.preview_precision}")
        local_exact, wire_exact = median_ms(lambda: engine.render(exact), 5), median_ms(lambda: remote.render(exact), 5)
        local_dab, wire_dab = stroke_ms(engine, lab, rgb), stroke_ms(remote, lab, rgb)
        print(f"exact render: in process {local_exact:.0f} ms, through the server {wire_exact:.0f} ms")
        print(f"stroke preview (median of 30 dabs): in process {local_dab:.0f} ms, through the server "
              f"{wire_dab:.0f} ms")
        rates, per_client = {}, 4

        def work():
            _, r, _ = remote_engines(url)
            for _ in range(per_client):
                r.render(exact)

        for clients in (1, 4):
            threads = [threading.Thread(target=work) for _ in range(clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            rates[clients] = clients * per_client / (time.perf_counter() - t0)
        print(f"exact renders per second: 1 client {rates[1]:.2f}, 4 clients {rates[4]:.2f} "
              f"(one engine, one request at a time)")
    verdict = "MET" if wire <= TARGET_PREVIEW_MS else "MISSED"
    print(f"  {verdict:6} the wire per stroke preview <= {TARGET_PREVIEW_MS:.0f} ms ({wire:.1f} ms)")
    return 0 if verdict == "MET" else 1


if __name__ == "__main__":
    sys.exit(main())
