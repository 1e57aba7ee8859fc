"""Map editing speed: a 60-event brush drag and flood fills on a 512x512 map, median ms per event.

Targets: <= 2 ms per brush event (stroke + history record), <= 10 ms per fill. Uses a real sample map from
../shared/samples when available (SMILE_SHARED), else a synthetic face layout.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from smile_studio.core.document import Document
from smile_studio.core.labelio import read_label_map
from smile_studio.core.labelmap import LabelMap
from smile_studio.core.labels import CLASS_BY_KEY as K


def load_map() -> tuple[np.ndarray, str]:
    shared = Path(os.environ.get("SMILE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    sample = shared / "samples" / "maskgan_0.png"
    if sample.is_file():
        lab = read_label_map(sample).labels
        lab = np.asarray(Image.fromarray(lab).resize((512, 512), Image.NEAREST))
        return lab, str(sample.name)
    yy, xx = np.mgrid[0:512, 0:512]
    lab = np.zeros((512, 512), np.uint8)
    lab[((yy - 260) / 170.0) ** 2 + ((xx - 256) / 130.0) ** 2 < 1] = K["skin"].id
    lab[(((yy - 200) / 150.0) ** 2 + ((xx - 256) / 160.0) ** 2 < 1) & (yy < 150)] = K["hair"].id
    return lab, "synthetic"


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def main() -> int:
    lab, name = load_map()
    print(f"map: {name}, {lab.shape[1]}x{lab.shape[0]}")
    results = {}
    for size in (10, 40):
        doc = Document(LabelMap(lab))
        pts = [(100.0 + 5.0 * i, 150.0 + 3.0 * np.sin(i / 5.0) * 20) for i in range(61)]
        times = []
        for _rep in range(5):
            doc.begin("drag")
            for a, b in zip(pts[:-1], pts[1:], strict=True):
                t0 = time.perf_counter()
                doc.paint(a, b, K["hair"].id, size)
                times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            doc.end()
            end_ms = (time.perf_counter() - t0) * 1000
            doc.undo()
        results[f"brush{size}"] = median_ms(times)
        print(f"brush drag, 60 events, size {size:>2}px: median {median_ms(times):.3f} ms/event, "
              f"max {max(times) * 1000:.3f} ms, closing the action {end_ms:.2f} ms")
    for contiguous in (True, False):
        doc = Document(LabelMap(lab))
        times = []
        ys, xs = np.nonzero(lab == K["skin"].id)
        for i in range(21):
            cls = K["nose"].id if i % 2 == 0 else K["skin"].id
            t0 = time.perf_counter()
            doc.fill(xs[0] + 0.5, ys[0] + 0.5, cls, contiguous=contiguous)
            times.append(time.perf_counter() - t0)
        kind = "contiguous" if contiguous else "global"
        results[kind] = median_ms(times)
        print(f"{kind} fill of skin ({len(ys)} px): median {median_ms(times):.3f} ms/fill")
    ok = results["brush10"] <= 2 and results["brush40"] <= 2 and results["global"] <= 10 and results["contiguous"] <= 10
    print(f"targets (brush <= 2 ms/event, fill <= 10 ms): {'MET' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
