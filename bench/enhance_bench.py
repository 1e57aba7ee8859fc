"""Enhance: what the learned upsampling costs before compositing, per network, on this machine.

The networks carry seeded weights in the published layout (the published files cannot be fetched here; the time
of a convolutional network does not depend on its weights). Per network: the time to upsample a whole 256²
render and the changed box of an eyeglasses edit on a 1024² sample (what the compositor sends through it), and
the whole paste_edit with and without it. Figures are medians of 3 runs after a warm-up, in one process.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import SHARED, machine_line, timed

from smile_studio.engines.base import LayoutRequest, RenderRequest
from smile_studio.engines.enhance import Enhancer
from smile_studio.export import restyled_classes
from smile_studio.face.composite import paste_edit
from smile_studio.face.paste import edit_region
from smile_studio.opening import open_document
from smile_studio.weights.registry import CHECKPOINT_BY_KEY, ENHANCE_KEYS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keys", nargs="*", default=list(ENHANCE_KEYS))
    args = ap.parse_args()
    print(machine_line())
    from smile_studio.engines.exemplar import ExemplarRenderEngine
    from smile_studio.engines.offline import OfflineLayoutEngine

    doc = open_document(str(SHARED / "samples" / "maskgan_0.jpg"), 256)
    edit = OfflineLayoutEngine().edit(LayoutRequest(doc.labels, doc.attributes, {"eyeglasses": "on"}, seed=2,
                                                    photo=doc.photo))
    req = RenderRequest(edit.labels, doc.photo, doc.labels, doc.styles, (), exact=True)
    render = ExemplarRenderEngine().render(req)
    restyled = restyled_classes(doc.styles)
    region = edit_region(doc.source_labels, edit.labels, restyled) > 0
    ys, xs = np.nonzero(region)
    box = render[max(ys.min() - 16, 0):ys.max() + 17, max(xs.min() - 16, 0):xs.max() + 17]
    base, _ = timed(lambda: paste_edit(doc.original, render, doc.alignment, doc.source_labels, edit.labels,
                                       restyled), 3)
    print(f"paste_edit without Enhance: {base * 1000:.0f} ms (maskgan_0.jpg, 1024², eyeglasses; "
          f"changed box {box.shape[1]}x{box.shape[0]} of the 256² render)")
    for key in args.keys:
        c = CHECKPOINT_BY_KEY[key]
        torch.manual_seed(0)
        net = c.builder()
        enhancer = Enhancer(c, net, torch.device("cpu"))
        whole, _ = timed(lambda e=enhancer: e(render), 3)
        part, _ = timed(lambda e=enhancer: e(np.ascontiguousarray(box)), 3)
        full, _ = timed(lambda e=enhancer: paste_edit(doc.original, render, doc.alignment, doc.source_labels,
                                                      edit.labels, restyled, enhance=e), 3)
        print(f"{c.network:40s} x{enhancer.scale}: whole 256² render {whole:6.2f} s; changed box {part:6.2f} s; "
              f"paste_edit with it {full:6.2f} s ({full / base:.0f}x without)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
