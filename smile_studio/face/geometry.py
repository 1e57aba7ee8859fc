"""Face geometry read from a label map alone: eyes, brows, ears, hairline, face width, chin, head dome.

The offline layout engine fits its parametric shapes (glasses frames, hats, bangs, hair) to these measurements, and
reference mode aligns a reference map to the source through the eye centres. Missing parts are estimated from the
face box with standard face proportions, so a map with closed or hidden eyes still gets sensible geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core.labels import CLASS_BY_KEY as K
from ..core.labels import FACE_CLASSES, default_attributes
from ..core.labels import ClassId as C
from .align import two_point_similarity

_FACE = np.zeros(19, bool)
_FACE[list(FACE_CLASSES)] = True
_FACE[C.EYE_G] = True


class NoFaceDetected(ValueError):
    """No face in a photo (the user can place the eyes by hand) or in a label map (no skin or facial features)."""


def _centroid(mask: np.ndarray) -> tuple[float, float] | None:
    ys, xs = np.nonzero(mask)
    if xs.size < 3:
        return None
    return float(xs.mean()), float(ys.mean())


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@dataclass(frozen=True)
class FaceGeometry:
    size: int
    face_box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the face classes
    cx: float  # face centre line
    eye_l: tuple[float, float]  # subject's left eye (image right)
    eye_r: tuple[float, float]
    eye_w: float  # typical eye width
    brow_y: float  # top of the brows
    eye_y: float
    nose_y: float
    mouth_y: float
    chin_y: float  # bottom of the skin
    hairline_y: float  # top of the visible skin (forehead)
    head_top: float  # top of hair / hat, or an estimate of the skull
    face_w: float  # skin width at eye height
    ear_l: tuple[int, int, int, int] | None
    ear_r: tuple[int, int, int, int] | None

    @property
    def face_h(self) -> float:
        return self.chin_y - self.brow_y

    @property
    def eye_dist(self) -> float:
        return float(np.hypot(self.eye_l[0] - self.eye_r[0], self.eye_l[1] - self.eye_r[1]))

    def skull(self, scale: float = 1.0) -> tuple[tuple[int, int], tuple[int, int]]:
        """Centre and half-axes of an ellipse approximating the cranium (for hair, baldness and hats)."""
        half_w = 0.5 * self.face_w * 1.12 * scale
        half_h = (self.eye_y - self.head_top) * 1.0 * scale
        return (int(round(self.cx)), int(round(self.eye_y))), (int(round(half_w)), int(round(max(half_h, 4))))


def measure(labels: np.ndarray) -> FaceGeometry:
    """Measure a face map; NoFaceDetected when there is no face to measure."""
    lab = np.asarray(labels)
    h, w = lab.shape
    face = _FACE[lab]
    box = _bbox(face)
    if box is None or face.sum() < 0.002 * h * w:
        raise NoFaceDetected("no face found in the label map (no skin or facial features)")
    x0, y0, x1, y1 = box
    fw, fh = x1 - x0, y1 - y0
    eye_l = _centroid(lab == C.L_EYE)
    eye_r = _centroid(lab == C.R_EYE)
    cx_box = (x0 + x1) / 2
    if eye_l is None and eye_r is None:
        ey = y0 + 0.45 * fh
        eye_r, eye_l = (cx_box - 0.2 * fw, ey), (cx_box + 0.2 * fw, ey)
    elif eye_l is None:
        eye_l = (2 * cx_box - eye_r[0], eye_r[1])
    elif eye_r is None:
        eye_r = (2 * cx_box - eye_l[0], eye_l[1])
    eye_y = (eye_l[1] + eye_r[1]) / 2
    cx = (eye_l[0] + eye_r[0]) / 2
    eye_boxes = [b for b in (_bbox(lab == C.L_EYE), _bbox(lab == C.R_EYE)) if b is not None]
    eye_w = float(np.mean([b[2] - b[0] for b in eye_boxes])) if eye_boxes else 0.18 * fw
    eye_w = max(eye_w, 0.12 * abs(eye_l[0] - eye_r[0]) + 2)
    brow_box = _bbox((lab == C.L_BROW) | (lab == C.R_BROW))
    brow_y = float(brow_box[1]) if brow_box else eye_y - 0.12 * fh
    skin_box = _bbox(lab == C.SKIN) or box
    chin_y = float(skin_box[3])
    nose_c = _centroid(lab == C.NOSE)
    nose_y = nose_c[1] if nose_c else eye_y + 0.35 * (chin_y - eye_y)
    mouth_box = _bbox(np.isin(lab, (K["mouth"].id, K["u_lip"].id, K["l_lip"].id)))
    mouth_y = (mouth_box[1] + mouth_box[3]) / 2 if mouth_box else eye_y + 0.62 * (chin_y - eye_y)
    row = int(np.clip(round(eye_y), 0, h - 1))
    band = lab[max(row - 2, 0): row + 3]
    cols = np.nonzero(np.isin(band, (C.SKIN, C.L_EYE, C.R_EYE, C.NOSE, C.EYE_G)).any(0))[0]
    face_w = float(cols.max() - cols.min() + 1) if cols.size else float(fw)
    face_w = max(face_w, 1.6 * abs(eye_l[0] - eye_r[0]))
    skin_rows = np.nonzero((lab == C.SKIN).any(1))[0]
    hairline_y = float(skin_rows.min()) if skin_rows.size else float(y0)
    top_box = _bbox((lab == C.HAIR) | (lab == C.HAT))
    skull_top = eye_y - 1.05 * (chin_y - eye_y)
    head_top = float(min(top_box[1], hairline_y)) if top_box else skull_top
    head_top = max(min(head_top, hairline_y), 0.0)
    return FaceGeometry(
        size=h, face_box=box, cx=cx, eye_l=eye_l, eye_r=eye_r, eye_w=eye_w, brow_y=brow_y, eye_y=eye_y,
        nose_y=nose_y, mouth_y=mouth_y, chin_y=chin_y, hairline_y=hairline_y, head_top=head_top, face_w=face_w,
        ear_l=_bbox(lab == C.L_EAR), ear_r=_bbox(lab == C.R_EAR))


def similarity_from_eyes(src: FaceGeometry, dst: FaceGeometry) -> np.ndarray:
    """2x3 similarity transform mapping ``src`` eye centres onto ``dst`` eye centres (reference alignment)."""
    return two_point_similarity((src.eye_r, src.eye_l), (dst.eye_r, dst.eye_l))


def warp_mask(mask: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    out = cv2.warpAffine(mask.astype(np.uint8), matrix, (size[1], size[0]), flags=cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out.astype(bool)


def attributes_from_map(labels: np.ndarray) -> dict[str, str]:
    """The complete attribute state a map shows: accessories by their classes, baldness, bangs and gender (long
    hair below the jaw) by geometry. A heuristic reading the user can correct with the toggles."""
    lab = np.asarray(labels)
    n = lab.size
    counts = np.bincount(lab.reshape(-1), minlength=19)
    state = default_attributes()
    try:
        g = measure(lab)
    except NoFaceDetected:
        return state  # nothing to read
    state.update({
        "eyeglasses": "on" if counts[K["eye_g"].id] > 0.001 * n else "off",
        "hat": "on" if counts[K["hat"].id] > 0.005 * n else "off",
        "earrings": "on" if counts[K["ear_r"].id] > 0.0002 * n else "off",
        "bald": "on" if counts[K["hair"].id] < 0.01 * n and counts[K["hat"].id] < 0.005 * n else "off",
    })
    hair = lab == K["hair"].id
    top = int(max(g.brow_y - 0.5 * (g.nose_y - g.brow_y), 0))
    x0, x1 = int(g.cx - 0.3 * g.face_w), int(g.cx + 0.3 * g.face_w)
    forehead = hair[top:int(g.brow_y), max(x0, 0):x1]
    state["bangs"] = "on" if forehead.size and forehead.mean() > 0.35 else "off"
    below_jaw = hair[int(g.mouth_y):].sum()
    state["gender"] = "female" if below_jaw > 0.01 * n else "male"
    return state
