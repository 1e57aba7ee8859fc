"""Offline photo pipeline: detect, align and parse a face with classical vision (no learned face weights).

Detection uses OpenCV's bundled Haar cascades (face, then eyes inside it). The photo is aligned by a similarity
transform that puts the eyes where CelebA-HQ aligned crops have them. The 19-class map is a parametric face
template scaled to the eye distance (skin, brows, eyes, nose, lips, ears, neck), refined by a skin-colour model
learnt from the cheeks, plus GrabCut for the person's silhouette, which separates hair (above and beside the
face), clothes (below the neck) and background. It is a real but approximate parser; the official BiSeNet
parser replaces it when its weights are installed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core.labelmap import fill_polygon
from ..core.labels import ClassId as C
from .accessories import add_accessories
from .align import two_point_similarity
from .geometry import NoFaceDetected
from .skin import chroma_like

# Canonical geometry of a CelebA-HQ aligned crop, in units of the crop side (measured on sample maps).
EYE_R = (0.375, 0.477)  # subject's right eye, image left
EYE_L = (0.623, 0.477)


@dataclass(frozen=True)
class ParsedFace:
    crop: np.ndarray  # (S, S, 3) uint8 aligned photo
    labels: np.ndarray  # (S, S) uint8 map
    alignment: np.ndarray  # (2, 3) affine: crop pixel -> original pixel
    eyes: tuple[tuple[float, float], tuple[float, float]]  # (right, left) eye centres in the original
    method: str
    face_count: int = 1  # faces in the photo (this one is the face_index-th largest)


def _cascade(name: str) -> cv2.CascadeClassifier:
    c = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if c.empty():
        raise RuntimeError(f"OpenCV cascade {name} is missing from this OpenCV build")
    return c


def detect_eyes(rgb: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Eye centres (subject's right = image left, left) of the largest face; NoFaceDetected when none."""
    grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    min_side = max(24, min(grey.shape) // 12)
    faces = []
    for name in ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml"):
        faces = _cascade(name).detectMultiScale(grey, 1.1, 5, minSize=(min_side, min_side))
        if len(faces):
            break
    if not len(faces):
        raise NoFaceDetected("no face was detected in this photo")
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    upper = grey[y: y + h // 2 + h // 8, x: x + w]
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(upper, 1.1, 4, minSize=(w // 10, w // 10))
    centres = sorted(((x + ex + ew / 2, y + ey + eh / 2) for ex, ey, ew, eh in eyes), key=lambda c: c[0])
    if len(centres) >= 2:
        # the two detections farthest apart horizontally at a similar height
        best = max(((a, b) for i, a in enumerate(centres) for b in centres[i + 1:]
                    if abs(a[1] - b[1]) < 0.15 * h and abs(a[0] - b[0]) > 0.25 * w),
                   key=lambda p: p[1][0] - p[0][0], default=None)
        if best is not None:
            return best
    # fall back on face-box proportions
    return (x + 0.31 * w, y + 0.40 * h), (x + 0.69 * w, y + 0.40 * h)


def eye_alignment(eye_r, eye_l, size: int) -> np.ndarray:
    """2x3 similarity mapping the original photo onto the aligned crop (eyes to canonical places)."""
    return two_point_similarity((eye_r, eye_l), np.array([EYE_R, EYE_L], np.float64) * size)


def align(rgb: np.ndarray, eye_r, eye_l, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(aligned crop, crop->original affine)."""
    m = eye_alignment(eye_r, eye_l, size)
    crop = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_AREA if m[0, 0] < 1 else cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop, cv2.invertAffineTransform(m)


def _ellipse(mask: np.ndarray, centre, axes, angle: float = 0, start: float = 0, end: float = 360) -> None:
    cv2.ellipse(mask, (int(round(centre[0])), int(round(centre[1]))),
                (max(1, int(round(axes[0]))), max(1, int(round(axes[1])))), angle, start, end, 1, -1)


def _hair_colour(colour: np.ndarray, seed: np.ndarray, d: float, dims: slice = slice(0, 3)) -> np.ndarray | None:
    """Pixels whose Lab ``colour`` (or the ``dims`` of it) is close to that of ``seed`` (hair above the
    forehead); None with too few samples."""
    if seed.sum() < 0.3 * d * d:
        return None
    lab = colour[..., dims]
    k = lab.shape[-1]
    samples = lab[seed]
    mu, cov = samples.mean(0), np.cov(samples.T) + np.eye(k) * 25.0
    diff = lab - mu
    limit = {3: 11.3, 2: 9.2}[k]  # chi2 99 % for 3 or 2 degrees of freedom
    return np.einsum("...i,ij,...j->...", diff, np.linalg.inv(cov), diff) < limit


def _distinct_from_skin(colour: np.ndarray, top: np.ndarray, cheek: np.ndarray, d: float) -> bool:
    """Whether the top of the head (enough of it) differs in Lab ``colour`` from the cheeks by more than dE 12
    (fair hair, not a bald scalp)."""
    if top.sum() < 0.3 * d * d or not cheek.any():
        return False
    return float(np.linalg.norm(colour[top].mean(0) - colour[cheek].mean(0))) > 12.0


def _touching(extra: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The pixels of ``extra`` connected (8-neighbourhood) to ``region`` through ``extra``."""
    _, comp = cv2.connectedComponents((extra | region).astype(np.uint8), connectivity=8)
    return np.isin(comp, np.unique(comp[region])) & extra


@dataclass(frozen=True)
class _Frame:
    """Where the template sits in an aligned crop: side ``s``, eye distance ``d``, centre column, eye row."""

    s: int
    d: float
    cx: float
    ey: float

    @property
    def rows(self) -> np.ndarray:
        return np.arange(self.s)[:, None]

    @property
    def cols(self) -> np.ndarray:
        return np.arange(self.s)[None, :]

    def blank(self) -> np.ndarray:
        return np.zeros((self.s, self.s), np.uint8)

    def ellipse(self, centre, axes, start: float = 0, end: float = 360) -> np.ndarray:
        mask = self.blank()
        _ellipse(mask, centre, axes, 0, start, end)
        return mask.astype(bool)


def template_map(crop: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
    """The offline parse of an aligned crop: skin colour, the GrabCut silhouette and hair colour for the large
    regions; the facial features drawn from the 68 landmarks (``points``, crop coordinates) when there are any,
    with the accessories found by them (:mod:`.accessories`), else from a face template placed by the eyes."""
    s = crop.shape[0]
    fr = _Frame(s, (EYE_L[0] - EYE_R[0]) * s, s / 2, EYE_R[1] * s)
    face, cheek, skin_like = _skin_model(crop, fr)
    if points is not None:
        face = _face_from_landmarks(fr, points)
    person = _silhouette(crop, fr, face & skin_like)
    skin_like = cv2.morphologyEx(skin_like.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    hair, head, jaw = _hair(crop, fr, person, face, skin_like, cheek)
    lab = _body(fr, hair, head, jaw, person, face, skin_like)
    if points is not None:
        _landmark_features(lab, fr, points, face, skin_like)
        add_accessories(lab, crop, points)
    else:
        _features(lab, fr, face, skin_like)
    return lab


def _face_from_landmarks(fr: _Frame, p: np.ndarray) -> np.ndarray:
    """The face (with the forehead): the jaw line, closed above by a dome over the brows (a forehead is round;
    where hair covers it, the hair model takes it back)."""
    d = float(np.hypot(*(p[42:48].mean(0) - p[36:42].mean(0))))
    jaw = fill_polygon((fr.s, fr.s), np.vstack([p[0:17], p[26:16:-1]]))
    left, right = p[0], p[16]
    centre = ((left[0] + right[0]) / 2, float(min(left[1], right[1])))
    half_width = (right[0] - left[0]) / 2
    dome = fr.ellipse(centre, (half_width, 1.25 * d), 180, 360)
    return jaw | dome


def _landmark_features(lab: np.ndarray, fr: _Frame, p: np.ndarray, face: np.ndarray, skin_like: np.ndarray) -> None:
    """Ears beside the jaw's top, then brows, eyes, nose, lips and mouth drawn from the 68 landmarks."""
    d = float(np.hypot(*(p[42:48].mean(0) - p[36:42].mean(0))))
    for jaw_top, cls, side in ((p[0], C.R_EAR, -1), (p[16], C.L_EAR, 1)):
        ear = fr.ellipse((jaw_top[0] + side * 0.12 * d, jaw_top[1] + 0.25 * d), (0.16 * d, 0.33 * d))
        ear &= skin_like & ~face
        if ear.sum() > 0.01 * d * d:
            lab[ear] = cls
    down = np.array([0.0, 0.09 * d])
    for brow, cls in ((p[17:22], C.R_BROW), (p[22:27], C.L_BROW)):
        lab[fill_polygon((fr.s, fr.s), np.vstack([brow - down * 0.3, (brow + down)[::-1]]))] = cls
    grow = np.ones((3, 3), np.uint8)
    for eye, cls in ((p[36:42], C.R_EYE), (p[42:48], C.L_EYE)):
        lab[cv2.dilate(fill_polygon((fr.s, fr.s), eye).astype(np.uint8), grow).astype(bool)] = cls
    w = np.array([0.11 * d, 0.0])
    nose = [p[27] - w, p[27] + w, p[35] + w * 0.5, p[34], p[33], p[32], p[31] - w * 0.5]
    lab[fill_polygon((fr.s, fr.s), nose)] = C.NOSE
    upper = np.vstack([p[48:55], p[64:59:-1]])
    lower = np.vstack([p[54:60], p[48:49], p[60:61], p[67:63:-1]])
    lab[fill_polygon((fr.s, fr.s), upper)] = C.U_LIP
    lab[fill_polygon((fr.s, fr.s), lower)] = C.L_LIP
    inner = fill_polygon((fr.s, fr.s), p[60:68])
    if inner.sum() > 0.02 * d * d:  # an open mouth
        lab[inner] = C.MOUTH


def _skin_model(crop: np.ndarray, fr: _Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(face oval, cheek patches, skin-coloured pixels): skin colour from the cheeks, in YCrCb."""
    d, cx, ey = fr.d, fr.cx, fr.ey
    face = fr.ellipse((cx, ey + 0.45 * d), (1.02 * d, 1.45 * d))
    cheek = fr.ellipse((cx - 0.55 * d, ey + 0.55 * d), (0.18 * d, 0.15 * d)) | \
        fr.ellipse((cx + 0.55 * d, ey + 0.55 * d), (0.18 * d, 0.15 * d))
    return face, cheek, chroma_like(crop, cheek)


def _silhouette(crop: np.ndarray, fr: _Frame, sure_face: np.ndarray) -> np.ndarray:
    """The person (head, hair, shoulders) by GrabCut, initialised with the head-and-shoulders box."""
    s, d, cx, ey = fr.s, fr.d, fr.cx, fr.ey
    gc_mask = np.full((s, s), cv2.GC_PR_BGD, np.uint8)
    x0, x1 = int(max(cx - 1.9 * d, 1)), int(min(cx + 1.9 * d, s - 2))
    y0 = int(max(ey - 2.0 * d, 1))
    gc_mask[y0:, x0:x1] = cv2.GC_PR_FGD
    gc_mask[sure_face] = cv2.GC_FGD
    gc_mask[:2, :] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), gc_mask, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
        person = np.isin(gc_mask, (cv2.GC_FGD, cv2.GC_PR_FGD))
    except cv2.error:
        person = np.zeros((s, s), bool)
        person[y0:, x0:x1] = True
    return cv2.morphologyEx(person.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)).astype(bool)


def _hair(crop: np.ndarray, fr: _Frame, person: np.ndarray, face: np.ndarray, skin_like: np.ndarray,
          cheek: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hair, head ellipse, jaw band). Silhouette around the head, above the chin, that is not skin-coloured face;
    below the chin, long hair is what has the colour of the hair above the forehead and hangs from it."""
    d, cx, ey, rows, cols = fr.d, fr.cx, fr.ey, fr.rows, fr.cols
    chin = ey + 1.85 * d
    head = fr.ellipse((cx, ey + 0.2 * d), (1.75 * d, 2.6 * d))
    hair = person & head & (rows < chin) & ~(face & skin_like)
    top = hair & (rows < ey - 1.0 * d)
    seed = top & ~skin_like
    colour = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    if seed.sum() < 0.3 * d * d and _distinct_from_skin(colour, top, cheek, d):
        seed = top  # fair hair: skin-like in chroma, but not in lightness
    hair_like = _hair_colour(colour, seed, d)
    if hair_like is not None:
        neck_column = (np.abs(cols - cx) < 0.75 * d) & (rows >= ey + 1.2 * d)
        hair |= _touching(person & hair_like & ~face & ~neck_column & (rows >= chin - 0.5 * d), hair)
        # low on the head sides, what is not hair-coloured (in lightness or in chroma: shadows in fair hair make
        # lightness alone too lenient) is a collar or shoulder, not hair
        hair_chroma = _hair_colour(colour, seed, d, slice(1, 3))
        hair &= ~((rows > ey + 1.2 * d) & ~(hair_like & hair_chroma) & ~face)
        # hair the silhouette missed: hair-coloured, on the head, touching the hair (unless the background away
        # from the head has the hair's colour too, when colour tells nothing)
        away = ~person & ~head
        if away.any() and hair_like[away].mean() < 0.15:
            hair |= _touching(head & hair_like & ~person & ~face & (rows < chin), hair)
    # skin-coloured pixels beside the jaw and below it are neck, even where fair hair shares their colour
    jaw = (np.abs(cols - cx) < 1.0 * d) & (rows > ey + 1.2 * d) & skin_like & ~face
    return hair & ~jaw, head, jaw


def _body(fr: _Frame, hair, head, jaw, person, face, skin_like) -> np.ndarray:
    """Hair, skin (a bald or shaved scalp included), neck and cloth."""
    d, cx, ey, rows = fr.d, fr.cx, fr.ey, fr.rows
    chin = ey + 1.85 * d
    lab = fr.blank()
    lab[hair] = C.HAIR
    skin = face & (skin_like | (rows > ey - 0.9 * d))
    skull = fr.ellipse((cx, ey), (1.1 * d, 1.9 * d), 180, 360)
    scalp = skull & skin_like & (rows < ey - 0.3 * d)  # a bald or shaved head is skin, not hair
    lab[skin | scalp] = C.SKIN
    neck = fr.blank()
    cv2.rectangle(neck, (int(cx - 0.65 * d), int(ey + 1.4 * d)), (int(cx + 0.65 * d), int(chin + 0.9 * d)), 1, -1)
    lab[neck.astype(bool) & (lab == 0) & person] = C.NECK
    lab[(neck.astype(bool) | jaw) & (lab == 0) & skin_like] = C.NECK
    lab[person & (rows >= chin + 0.3 * d) & (lab == 0)] = C.CLOTH
    lab[person & ~head & (rows >= ey + 0.8 * d) & (lab == 0)] = C.CLOTH  # shoulders
    lab[person & (rows >= chin + 0.6 * d) & (lab == C.HAIR) & ~skin_like] = C.CLOTH
    return lab


def _features(lab: np.ndarray, fr: _Frame, face: np.ndarray, skin_like: np.ndarray) -> None:
    """Ears (just outside the face oval at eye-to-nose height, where the photo is skin-coloured), then brows,
    eyes, nose and lips painted over the skin."""
    s, d, cx, ey = fr.s, fr.d, fr.cx, fr.ey
    for side, cls in ((-1, C.R_EAR), (1, C.L_EAR)):
        ear = fr.ellipse((cx + side * 1.02 * d, ey + 0.35 * d), (0.16 * d, 0.33 * d)) & skin_like & ~face
        if ear.sum() > 0.01 * d * d:
            lab[ear] = cls
    for (px, py), brow, eye in ((EYE_R, C.R_BROW, C.R_EYE), (EYE_L, C.L_BROW, C.L_EYE)):
        c = (px * s, py * s)
        b = fr.blank()
        cv2.ellipse(b, (int(c[0]), int(c[1] - 0.22 * d)), (int(0.3 * d), int(0.16 * d)), 0, 200, 340, 1,
                    max(2, int(0.07 * d)))
        lab[b.astype(bool)] = brow
        lab[fr.ellipse(c, (0.2 * d, 0.08 * d))] = eye
    nose = fr.blank()
    pts = np.array([(cx - 0.08 * d, ey + 0.05 * d), (cx + 0.08 * d, ey + 0.05 * d), (cx + 0.25 * d, ey + 0.6 * d),
                    (cx, ey + 0.7 * d), (cx - 0.25 * d, ey + 0.6 * d)])
    cv2.fillPoly(nose, [np.round(pts).astype(np.int32)], 1)
    lab[nose.astype(bool)] = C.NOSE
    lab[fr.ellipse((cx, ey + 1.02 * d), (0.38 * d, 0.08 * d), 180, 360)] = C.U_LIP
    lab[fr.ellipse((cx, ey + 1.03 * d), (0.34 * d, 0.12 * d), 0, 180)] = C.L_LIP
