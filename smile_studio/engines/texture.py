"""Growing a region's texture where its class is new (a scalp after a haircut, a fringe, a longer beard area),
without copying structure: the shading is extrapolated smoothly from the class's own pixels, and the fine
detail is quilted from random patches of the class's clean interior (far from every other class, so no eyelid,
lip or nostril comes along), overlapping under a smooth window so no patch edge shows."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core.labelmap import disk

PATCH = 16
MIN_CLEAN = 2 * PATCH * PATCH


def push_pull_fill(img: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill invalid pixels smoothly from valid ones (mask-weighted image pyramid), float32 (H, W, C)."""
    img = img.astype(np.float32)
    w = valid.astype(np.float32)[..., None]
    if w.all():
        return img
    levels = [(img * w, w)]
    while min(levels[-1][1].shape[:2]) > 1 and not (levels[-1][1] > 0).all():
        num, den = levels[-1]
        h2, w2 = (num.shape[0] + 1) // 2, (num.shape[1] + 1) // 2
        num = cv2.resize(num, (w2, h2), interpolation=cv2.INTER_AREA).reshape(h2, w2, -1)
        den = cv2.resize(den, (w2, h2), interpolation=cv2.INTER_AREA).reshape(h2, w2, 1)
        levels.append((num, den))
    num, den = levels[-1]
    filled = num / np.maximum(den, 1e-6)
    for num, den in reversed(levels[:-1]):
        up = cv2.resize(filled, (num.shape[1], num.shape[0]), interpolation=cv2.INTER_LINEAR)
        up = up.reshape(num.shape)
        alpha = np.clip(den, 0, 1)
        filled = num / np.maximum(den, 1e-6) * alpha + up * (1 - alpha)
    return filled


@dataclass(frozen=True)
class GrowthSource:
    """What growing a class's texture needs from the photo, computed once per photo and class (renders while
    painting reuse it): the shading field, the high-pass detail to quilt from, where patches may be taken, and
    the distance of every pixel to the class's own pixels."""

    shading: np.ndarray  # (H, W, 3)
    padded_detail: np.ndarray  # (H + PATCH, W + PATCH, 3), reflect-padded by PATCH // 2
    cy: np.ndarray  # patch corners (in padded_detail) a patch may be copied from
    cx: np.ndarray
    detail_std: float
    distance: np.ndarray  # (H, W) px to the nearest pixel of the class

    @classmethod
    def build(cls, photo: np.ndarray, class_mask: np.ndarray) -> GrowthSource | None:
        """None when the class has too little clean interior to learn from."""
        clean = cv2.erode(class_mask.astype(np.uint8), disk(4)).astype(bool)
        if clean.sum() < MIN_CLEAN:
            return None
        img = photo.astype(np.float32)
        low = cv2.GaussianBlur(img, (0, 0), 3.0)
        # shading: each pixel takes the colour of the nearest clean pixel, then a wide blur: the class's border
        # colours continue outward (a scalp continues the forehead), without its structure
        _, nearest = cv2.distanceTransformWithLabels((~clean).astype(np.uint8), cv2.DIST_L2, 5,
                                                     labelType=cv2.DIST_LABEL_PIXEL)
        vy, vx = np.nonzero(clean)
        lut = np.zeros((int(nearest.max()) + 1, 3), np.float32)
        lut[nearest[vy, vx]] = low[vy, vx]
        shading = cv2.GaussianBlur(lut[nearest], (0, 0), 6.0)
        detail = img - cv2.GaussianBlur(img, (0, 0), 2.0)
        half = PATCH // 2
        centres = cv2.erode(clean.astype(np.uint8), np.ones((PATCH + 1, PATCH + 1), np.uint8)).astype(bool)
        cy, cx = np.nonzero(centres)
        if len(cy) == 0:
            cy, cx = np.nonzero(clean)  # a thin class: patches may reach past it (the window keeps that faint)
        padded = np.pad(detail, ((half, half), (half, half), (0, 0)), mode="reflect")
        distance = cv2.distanceTransform((~class_mask).astype(np.uint8), cv2.DIST_L2, 5)
        return cls(shading, padded, cy, cx, float(detail[clean].std()), distance)

    def grow(self, target: np.ndarray, seed: int) -> np.ndarray:
        """Colours (N, 3) for the ``target`` pixels (row-major order): the shading plus grain quilted from
        random patches under overlapping windows (no patch edge shows)."""
        half = PATCH // 2
        h, w = target.shape
        grain = np.zeros((h + 2 * PATCH, w + 2 * PATCH, 3), np.float32)
        weight = np.zeros((h + 2 * PATCH, w + 2 * PATCH), np.float32)
        win = np.outer(np.hanning(PATCH + 2)[1:-1], np.hanning(PATCH + 2)[1:-1]).astype(np.float32)
        ys, xs = np.nonzero(target)
        rng = np.random.default_rng(seed)
        for y in range(max(ys.min() - half, -half), ys.max() + 1, half):
            for x in range(max(xs.min() - half, -half), xs.max() + 1, half):
                y0, x0 = y + half, x + half  # in the padded accumulators
                if not target[max(y, 0): y + PATCH, max(x, 0): x + PATCH].any():
                    continue
                i = int(rng.integers(len(self.cy)))
                src = self.padded_detail[self.cy[i]: self.cy[i] + PATCH, self.cx[i]: self.cx[i] + PATCH]
                grain[y0: y0 + PATCH, x0: x0 + PATCH] += src * win[..., None]
                weight[y0: y0 + PATCH, x0: x0 + PATCH] += win
        grain = grain[half: half + h, half: half + w] / np.maximum(weight[half: half + h, half: half + w],
                                                                    1e-3)[..., None]
        # overlapping windows average neighbouring patches, which lowers the grain's contrast: restore it
        grain *= float(np.clip(self.detail_std / max(float(grain[ys, xs].std()), 1e-3), 1.0, 3.0))
        return (self.shading + grain)[ys, xs]

    def far_weight(self, target: np.ndarray, near: float = 3.0, ramp: float = 8.0) -> np.ndarray:
        """Per ``target`` pixel (row-major), 0 next to the class's own pixels (where mirrored texture continues
        them), rising to 1 from ``near + ramp`` px away (where grown texture takes over)."""
        return np.clip((self.distance[target] - near) / ramp, 0.0, 1.0)
