"""The offline photo parser against the reference label maps of ../shared/samples (SMILE_SHARED).

Per photo: detect the eyes, align a 256x256 crop, parse it with the template parser, warp the reference map into
the crop, and print pixel accuracy, mean IoU and the IoU of the large regions (skin, hair, neck, cloth,
background). Run it before and after a parser change.
"""

from __future__ import annotations

import sys

import numpy as np
from common import SHARED

from smile_studio.core.imageio import read_image
from smile_studio.core.labelio import read_label_map
from smile_studio.face.heuristic import align, detect_eyes, template_map
from smile_studio.face.quality import reference_in_crop, score_parse

REGIONS = ("background", "skin", "hair", "neck", "cloth")


def main() -> int:
    samples = SHARED / "samples"
    pairs = sorted(p for p in samples.glob("*.jpg") if p.with_suffix(".png").is_file())
    if not pairs:
        print(f"no photo+map pairs in {samples} (set SMILE_SHARED)")
        return 2
    print(f"{'photo':<16}{'pixel acc':>10}{'mIoU':>7}" + "".join(f"{r:>12}" for r in REGIONS))
    accs, mious = [], []
    per_region: dict[str, list[float]] = {r: [] for r in REGIONS}
    for photo in pairs:
        rgb = read_image(photo)
        ref = read_label_map(photo.with_suffix(".png")).labels
        crop, back = align(rgb, *detect_eyes(rgb), 256)
        score = score_parse(template_map(crop), reference_in_crop(ref, back, 256, rgb.shape))
        accs.append(score.pixel_accuracy)
        mious.append(score.mean_iou)
        cells = ""
        for r in REGIONS:
            v = score.iou.get(r)
            cells += f"{v:>12.3f}" if v is not None else f"{'-':>12}"
            if v is not None:
                per_region[r].append(v)
        print(f"{photo.stem:<16}{score.pixel_accuracy:>10.3f}{score.mean_iou:>7.3f}{cells}")
    print(f"{'mean':<16}{np.mean(accs):>10.3f}{np.mean(mious):>7.3f}"
          + "".join(f"{np.mean(per_region[r]):>12.3f}" for r in REGIONS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
