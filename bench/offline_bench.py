"""Offline default engines on every photo+map pair of ../shared/samples (SMILE_SHARED).

Per pair: add eyeglasses, add a hat, bald, add bangs, toggle gender, all six at once. Prints edit locality
(fraction of pixels farther than 16 px from the attribute's regions that are unchanged; target >= 0.99),
determinism, seed diversity, render locality (max colour change farther than 8 px from changed map pixels; target
<= 2/255), reference hair colour distance (target dE <= 6) and median times (target: render <= 0.3 s, edit <= 0.2 s
at 256 on 2 cores). Contact sheets, one per flow, go to bench/out/ for a person to look at.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import SHARED, verdict
from PIL import Image

from smile_studio.core.document import Reference, StyleSource
from smile_studio.core.imageio import read_image
from smile_studio.core.labelio import colorize, read_label_map
from smile_studio.core.labels import CLASS_BY_KEY as K
from smile_studio.core.labels import NUM_CLASSES
from smile_studio.engines.base import LayoutRequest, RenderRequest
from smile_studio.engines.exemplar import ExemplarRenderEngine
from smile_studio.engines.metrics import attribute_locality, delta_e, mean_lab, render_locality
from smile_studio.engines.offline import OfflineLayoutEngine
from smile_studio.face.geometry import attributes_from_map

OUT = Path(__file__).resolve().parent / "out"
FLOWS = {
    "eyeglasses": {"eyeglasses": "on"}, "hat": {"hat": "on"}, "bald": {"bald": "on"}, "bangs": {"bangs": "on"},
    "gender": {"gender": "flip"},
    "all_six": {"eyeglasses": "on", "hat": "on", "bald": "on", "bangs": "on", "earrings": "on", "gender": "flip"},
}


def pairs(size: int = 256):
    for jpg in sorted((SHARED / "samples").glob("*.jpg")):
        png = jpg.with_suffix(".png")
        if png.is_file():
            lab = cv2.resize(read_label_map(png).labels, (size, size), interpolation=cv2.INTER_NEAREST)
            rgb = cv2.resize(read_image(jpg), (size, size), interpolation=cv2.INTER_AREA)
            yield jpg.stem, lab, rgb


def main() -> int:
    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    data = list(pairs())
    if not data:
        print(f"no sample pairs under {SHARED / 'samples'} (set SMILE_SHARED)")
        return 2
    OUT.mkdir(exist_ok=True)
    layout, render = OfflineLayoutEngine(), ExemplarRenderEngine()
    edit_t, render_t, worst_loc, worst_rend, ok = [], [], (1.0, ""), (0.0, ""), True
    sheets: dict[str, list] = {f: [] for f in FLOWS}
    for name, lab, rgb in data:
        cur = attributes_from_map(lab)
        src = render.render(RenderRequest(lab, rgb, lab))
        for flow, edit in FLOWS.items():
            target = {k: (("male" if cur["gender"] == "female" else "female") if v == "flip" else v)
                      for k, v in edit.items()}
            req = LayoutRequest(lab, cur, target, seed=3)
            t0 = time.perf_counter()
            res = layout.edit(req)
            edit_t.append(time.perf_counter() - t0)
            new = res.labels
            loc = attribute_locality(lab, new, req.changed_attributes())
            det = np.array_equal(layout.edit(req).labels, new)
            other = layout.edit(LayoutRequest(lab, cur, target, seed=11)).labels
            diverse = not np.array_equal(other, new)
            t0 = time.perf_counter()
            img = render.render(RenderRequest(new, rgb, lab))
            render_t.append(time.perf_counter() - t0)
            rl = render_locality(img, src, new != lab)
            if loc < worst_loc[0]:
                worst_loc = (loc, f"{name}/{flow}")
            if rl > worst_rend[0]:
                worst_rend = (rl, f"{name}/{flow}")
            ok &= loc >= 0.99 and det and rl <= 2
            print(f"{name:<11}{flow:<11} locality {loc:.4f}  deterministic {det}  seed 3 vs 11 differ {diverse}  "
                  f"render far-change {rl:.0f}/255  changed px {(new != lab).sum():>5}  {'; '.join(res.notes)}")
            sheets[flow].append(np.hstack([rgb, colorize(new), img]))
    # reference styling of hair: every pair takes the hair of the next pair
    des = []
    for (name, lab, rgb), (rname, rlab, rrgb) in zip(data, data[1:] + data[:1], strict=True):
        styles = [StyleSource()] * NUM_CLASSES
        styles[K["hair"].id] = StyleSource("reference", ref="r")
        t0 = time.perf_counter()
        img = render.render(RenderRequest(lab, rgb, lab, tuple(styles), (Reference("r", rname, rrgb, rlab),)))
        render_t.append(time.perf_counter() - t0)
        de = delta_e(mean_lab(img, lab == K["hair"].id), mean_lab(rrgb, rlab == K["hair"].id))
        des.append(de)
        print(f"reference hair {name} <- {rname}: dE {de:.2f}")
        sheets.setdefault("reference_hair", []).append(np.hstack([rgb, rrgb, img]))
    ok &= max(des) <= 6
    for flow, rows in sheets.items():
        Image.fromarray(np.vstack(rows)).save(OUT / f"offline_{flow}.png")
    me, mr = statistics.median(edit_t) * 1000, statistics.median(render_t) * 1000
    ok &= me <= 200 and mr <= 300
    print(f"worst edit locality {worst_loc[0]:.4f} ({worst_loc[1]}); worst render far-change {worst_rend[0]:.0f}/255 "
          f"({worst_rend[1]}); worst hair dE {max(des):.2f}")
    print(f"median attribute edit {me:.1f} ms (max {max(edit_t) * 1000:.1f}); median render {mr:.1f} ms "
          f"(max {max(render_t) * 1000:.1f}) at 256x256, 2 threads")
    print(f"contact sheets: {OUT}/offline_*.png (photo | edited map | render)")
    return verdict(ok)


if __name__ == "__main__":
    sys.exit(main())
