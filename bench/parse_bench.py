"""The photo parser against the reference label maps of ../shared/samples (SMILE_SHARED).

Per photo: detect and align a 256x256 crop, parse it with the offline parser, warp the reference map into the
crop, and print pixel accuracy and the per-class IoU; the figure the issue tracks is the mean IoU over skin, nose,
eyes, brows, lips and hair (eyes, brows and lips: left and right / upper and lower pooled). Also the time from
photo to editable map (median). Run it before and after a parser change.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
from common import SHARED, machine_line

from smile_studio.core.imageio import read_image
from smile_studio.core.labelio import read_label_map
from smile_studio.face.pipeline import parse_face
from smile_studio.face.quality import FEATURE_GROUPS as GROUPS
from smile_studio.face.quality import feature_iou as group_iou
from smile_studio.face.quality import reference_in_crop


def main() -> int:
    print(machine_line())
    samples = SHARED / "samples"
    pairs = sorted(p for p in samples.glob("*.jpg") if p.with_suffix(".png").is_file())
    if not pairs:
        print(f"no photo+map pairs in {samples} (set SMILE_SHARED)")
        return 2
    print(f"{'photo':<14}{'method':<14}{'pix acc':>8}" + "".join(f"{g:>8}" for g in GROUPS) + f"{'mean':>8}")
    means, accs, times = [], [], []
    per: dict[str, list[float]] = {g: [] for g in GROUPS}
    for photo in pairs:
        rgb = read_image(photo)
        ref = read_label_map(photo.with_suffix(".png")).labels
        t0 = time.perf_counter()
        parsed = parse_face(rgb, 256)
        times.append(time.perf_counter() - t0)
        ref_crop = reference_in_crop(ref, parsed.alignment, 256, rgb.shape)
        ious = group_iou(parsed.labels, ref_crop)
        acc = float((parsed.labels == ref_crop).mean())
        mean = float(np.mean(list(ious.values())))
        means.append(mean)
        accs.append(acc)
        for g, v in ious.items():
            per[g].append(v)
        print(f"{photo.stem:<14}{parsed.method[:13]:<14}{acc:>8.3f}"
              + "".join(f"{ious.get(g, float('nan')):>8.3f}" for g in GROUPS) + f"{mean:>8.3f}")
    print(f"{'mean':<14}{'':<14}{np.mean(accs):>8.3f}" + "".join(f"{np.mean(per[g]):>8.3f}" for g in GROUPS)
          + f"{np.mean(means):>8.3f}")
    print(f"photo -> editable map at 256: median {statistics.median(times[1:] or times) * 1000:.0f} ms "
          f"(first {times[0] * 1000:.0f} ms, models loaded)")
    print(f"target mean IoU >= 0.60: {'MET' if np.mean(means) >= 0.60 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
