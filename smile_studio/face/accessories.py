"""Accessories in a photo, found by the offline parser from the 68 landmarks (crop coordinates): eyeglasses,
earrings, a hat and a necklace. Without them a photo with glasses could not have them removed, and a reference
with a hat gave a generated hat instead of its own.

Classical evidence, chosen for few false alarms (a phantom accessory is worse than a missed one: the user
toggles a missed one on with one click):

* **eyeglasses** — the bridge: a thin line (dark or light: a morphological black-hat / top-hat at a tenth of the
  eye distance) across the whole width between the inner eye corners, well above the noise of the same measure
  on the cheek; **sunglasses** — lenses much darker than the cheek. Clear frames are drawn as rounded rectangles
  placed on the strongest rim lines around each eye, with the bridge and the temples to the face's side; dark
  lenses are filled.
* **earrings** — below each ear lobe, off the skin and hair: a compact blob that differs from what surrounds it
  (bright metal, a coloured stone), hanging at the lobe.
* **hat** — the top of the head in a colour that is neither the hair's (read beside the face) nor the skin's,
  spanning the head, with its lower edge above the brows.
* **necklace** — a thin curve across the neck or the upper chest that differs from the skin and cloth around it.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..core.labelmap import disk, fill_polygon
from ..core.labels import FACE_CLASSES
from ..core.labels import ClassId as C
from .skin import chroma_like

FACE_NOT_EARS = tuple(sorted(FACE_CLASSES - {C.L_EAR, C.R_EAR}))  # what the temples reach, an earring is not on
BRIDGE_MIN = 12.0  # grey levels of the bridge line at its 30th percentile across the bridge
BRIDGE_SNR = 3.0  # ... and over the same measure on the cheek (a smooth cheek measures 1-5)
EARRING_MIN = 0.004  # of the eye distance squared: studs measured 0.005-0.007 (a glint at the ear 0.003)
EARRING_RING = 0.26  # most of the brightness around an earring is not strand-like (blond hair around a strand is)
SUNGLASS_DARK = 0.3  # lens luminance over the cheek's below which the glasses are sunglasses


class _Face:
    """What the accessory finders share: the grey image, the eye distance, the thin-line response."""

    def __init__(self, crop: np.ndarray, p: np.ndarray):
        self.crop, self.p = crop, np.asarray(p, np.float64)
        self.grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
        self.eye_r, self.eye_l = self.p[36:42].mean(0), self.p[42:48].mean(0)
        self.d = float(np.hypot(*(self.eye_l - self.eye_r)))
        k = max(5, int(0.12 * self.d) | 1)
        se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        self.lines = np.maximum(cv2.morphologyEx(self.grey, cv2.MORPH_BLACKHAT, se),
                                cv2.morphologyEx(self.grey, cv2.MORPH_TOPHAT, se))
        self.cheek = cheek = self._box(self.p[36, 0], self.p[39, 0], self.p[30, 1], self.p[33, 1])  # under an eye
        self.noise, self.cheek_level = 1.0, 128.0
        if self.lines[cheek].size:
            self.noise = float(np.percentile(self.lines[cheek], 30, axis=1).max()) + 1
            self.cheek_level = max(float(np.median(self.grey[cheek])), 1.0)

    def _box(self, x0, x1, y0, y1) -> tuple[slice, slice]:
        h, w = self.grey.shape
        return (slice(int(np.clip(y0, 0, h)), int(np.clip(y1, 0, h))),
                slice(int(np.clip(x0, 0, w)), int(np.clip(x1, 0, w))))

    def row_lines(self, x0, x1, y0, y1) -> tuple[float, int]:
        """(strength, row) of the strongest line crossing the box's whole width: per row, the 30th percentile
        of the line response across it (a line across the box is high there; a blob or a lash is not)."""
        box = self._box(x0, x1, y0, y1)
        part = self.lines[box]
        if part.size == 0:
            return 0.0, int(y0)
        rows = np.percentile(part, 30, axis=1)
        return float(rows.max()), box[0].start + int(rows.argmax())

    def col_lines(self, x0, x1, y0, y1, towards: int) -> int:
        """The column of a line crossing the box's whole height (a lens's side): of the columns at least 0.6 of
        the strongest, the farthest towards ``towards`` (-1: left, 1: right; the eye's own corner is a weaker
        line inside the lens)."""
        box = self._box(x0, x1, y0, y1)
        part = self.lines[box]
        if part.size == 0:
            return int(x0 if towards < 0 else x1)
        cols = np.percentile(part, 30, axis=0)
        strong = np.nonzero(cols >= 0.6 * cols.max())[0]
        return box[1].start + int(strong.min() if towards < 0 else strong.max())


def _eyeglasses(f: _Face, face: np.ndarray) -> np.ndarray | None:
    """The glasses' mask (frames; whole lenses for sunglasses) or None. ``face``: the face region (jaw and
    forehead), whose sides the temples reach."""
    p, d = f.p, f.d
    lenses = [f.grey[f._box(p[a, 0] - 0.05 * d, p[b, 0] + 0.05 * d, e[1] - 0.18 * d, e[1] + 0.18 * d)]
              for e, a, b in ((f.eye_r, 36, 39), (f.eye_l, 42, 45))]
    if all(lens.size for lens in lenses) and \
            max(lens.mean() for lens in lenses) < SUNGLASS_DARK * f.cheek_level:
        return _sunglasses(f)
    gap = p[42, 0] - p[39, 0]
    top = max(p[21, 1], p[22, 1]) + 0.12 * d
    strength, bridge_row = f.row_lines(p[39, 0] + 0.2 * gap, p[42, 0] - 0.2 * gap, top, p[29, 1])
    if strength < BRIDGE_MIN or strength < BRIDGE_SNR * f.noise:
        return None
    return _frames(f, bridge_row, face)


def _sunglasses(f: _Face) -> np.ndarray:
    """Dark lenses: the dark, smooth pixels from the brows down (the brows left out), within 0.9 eye distances
    beside the eyes (dark hair is mostly textured, and outside), joined by the dark bridge between them, holes
    filled."""
    p, d = f.p, f.d
    mean = cv2.blur(f.grey, (5, 5))
    spread = np.sqrt(np.maximum(cv2.blur(f.grey * f.grey, (5, 5)) - mean * mean, 0))
    dark = (f.grey < 0.5 * f.cheek_level) & (spread < 0.08 * f.cheek_level)  # a lens is smooth, dark hair is not
    zone = np.zeros(dark.shape, bool)
    zone[f._box(f.eye_r[0] - 0.9 * d, f.eye_l[0] + 0.9 * d, p[17:27, 1].min() - 0.05 * d,
                max(f.eye_r[1], f.eye_l[1]) + 0.6 * d)] = True
    brows = fill_polygon(dark.shape, np.vstack([p[17:22], p[21:16:-1] + [0, 0.12 * d]])) | \
        fill_polygon(dark.shape, np.vstack([p[22:27], p[26:21:-1] + [0, 0.12 * d]]))
    brows = cv2.dilate(brows.astype(np.uint8), disk(max(1, int(round(0.05 * d))))).astype(bool)
    # the brows are dark too: joined to the lenses they would close a ring whose filling takes the skin between
    dark = cv2.morphologyEx((dark & zone & ~brows).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    _, comp = cv2.connectedComponents(dark)
    h, w = comp.shape
    keep = {comp[int(e[1]), int(e[0])] for e in (f.eye_r, f.eye_l) if 0 <= e[0] < w and 0 <= e[1] < h} - {0}
    mask = np.isin(comp, list(keep)).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(mask, contours, -1, 1, -1)
    return mask.astype(bool)


def _frames(f: _Face, bridge_row: int, face: np.ndarray) -> np.ndarray:
    """Clear glasses: a rounded rectangle per lens on its strongest rim lines, the bridge and the temples."""
    p, d = f.p, f.d
    thick = max(2, int(round(0.05 * d)))
    mask = np.zeros(f.grey.shape, np.uint8)
    inner_ends = []
    for e, outer_i, inner_i, side in ((f.eye_r, 36, 39, -1), (f.eye_l, 45, 42, 1)):
        outer_x, inner_x = p[outer_i, 0], p[inner_i, 0]
        lo_x, hi_x = sorted((outer_x, inner_x))
        brow_low = max(p[17:22, 1]) if side < 0 else max(p[22:27, 1])
        _, y_top = f.row_lines(lo_x, hi_x, min(brow_low + 0.04 * d, e[1] - 0.15 * d), e[1] - 0.12 * d)
        _, y_bot = f.row_lines(lo_x, hi_x, e[1] + 0.15 * d, e[1] + 0.55 * d)
        out_lo, out_hi = sorted((outer_x + side * 0.05 * d, outer_x + side * 0.7 * d))
        x_out = f.col_lines(out_lo, out_hi, y_top, y_bot, side)
        in_lo, in_hi = sorted((inner_x - side * 0.02 * d, inner_x - side * 0.3 * d))
        x_in = f.col_lines(in_lo, in_hi, y_top, y_bot, -side)
        x0, x1 = sorted((x_out, x_in))
        radius = max(1, int(0.3 * (y_bot - y_top)))
        _rounded_rect(mask, x0, y_top, x1, y_bot, radius, thick)
        inner_ends.append(x_in)
        # the temple: from the lens's outer side, along the strongest line of its upper half, past the side of
        # the face towards the ear
        row = int(y_top + 0.2 * (y_bot - y_top))
        cols = np.nonzero(face[row])[0] if 0 <= row < face.shape[0] else np.array([], int)
        if cols.size:
            edge = (cols.min() if side < 0 else cols.max()) + side * 0.3 * d
            span = sorted((x_out + side * 0.05 * d, x_out + side * 0.4 * d))  # by the hinge: seen before the hair
            _, row = f.row_lines(span[0], span[1], y_top - 0.1 * d, y_top + 0.5 * (y_bot - y_top))
            # the hinge, and the temple twice as thick as the rims: it is placed less surely
            cv2.line(mask, (int(x_out), int(y_top)), (int(x_out + side * 0.15 * d), row), 1, thick)
            cv2.line(mask, (int(x_out), row), (int(edge), row), 1, 2 * thick)
    cv2.line(mask, (int(inner_ends[0]), bridge_row), (int(inner_ends[1]), bridge_row), 1, thick)
    # the drawing snaps to the frame itself: thin-line pixels within a few pixels of it are frame too (rims are
    # not exact rectangles, and a frame missed by a pixel would stay in the photo when the glasses are removed)
    near = cv2.dilate(mask, disk(max(2, int(round(0.08 * d))))).astype(bool)
    eyes = fill_polygon(mask.shape, p[36:42]) | fill_polygon(mask.shape, p[42:48])
    eyes = cv2.dilate(eyes.astype(np.uint8), disk(max(1, int(round(0.04 * d))))).astype(bool)
    line = f.lines > max(BRIDGE_MIN * 0.8, 2.5 * f.noise)
    return mask.astype(bool) | (near & line & ~eyes)


def _rounded_rect(mask: np.ndarray, x0: float, y0: float, x1: float, y1: float, r: int, thick: int) -> None:
    x0, y0, x1, y1 = int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1))
    r = int(min(r, (x1 - x0) // 2, (y1 - y0) // 2))
    for a, b in (((x0 + r, y0), (x1 - r, y0)), ((x0 + r, y1), (x1 - r, y1)),
                 ((x0, y0 + r), (x0, y1 - r)), ((x1, y0 + r), (x1, y1 - r))):
        cv2.line(mask, a, b, 1, thick)
    for (cx, cy), start in (((x0 + r, y0 + r), 180), ((x1 - r, y0 + r), 270), ((x1 - r, y1 - r), 0),
                            ((x0 + r, y1 - r), 90)):
        cv2.ellipse(mask, (cx, cy), (r, r), 0, start, start + 90, 1, thick)


def _earrings(f: _Face, lab: np.ndarray) -> np.ndarray | None:
    """Earrings: at each ear lobe (beside the jaw's upper third, just outside it), bright or coloured pieces that
    stand out from their surroundings, hanging from the lobe down to most of an eye distance; or None."""
    crop, p, d = f.crop, f.p, f.d
    k = max(5, int(0.2 * d) | 1)
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    lab_colour = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    bright = cv2.morphologyEx(f.grey, cv2.MORPH_TOPHAT, se)
    chroma = np.hypot(lab_colour[..., 1] - 128, lab_colour[..., 2] - 128)
    vivid = cv2.morphologyEx(chroma, cv2.MORPH_TOPHAT, se)  # a coloured stone on a dull surround
    jewel = (bright > max(30.0, 4 * f.noise)) | (vivid > 25.0)
    face = np.isin(lab, FACE_NOT_EARS)
    jewel &= ~face & ~chroma_like(crop, f.cheek)  # a lit jaw line or ear rim is skin-coloured; metal and stones are not
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV)
    shine = (f.grey >= 200) & (hsv[..., 1] < 60)  # a metal's highlight: near white
    loose = bright > max(15.0, 2 * f.noise)  # strand-like brightness: hair around a piece has plenty
    colour = lab_colour * np.float32([100 / 255, 1, 1]) - np.float32([0, 128, 128])  # CIELAB units
    background = colour[lab == C.BACKGROUND]
    backdrop = np.median(background, 0) if len(background) > 0.02 * lab.size else None
    found = np.zeros(f.grey.shape, bool)
    for top, low, side in ((p[2], p[3], -1), (p[14], p[13], 1)):
        lobe = np.array([top[0] + side * 0.12 * d, (top[1] + low[1]) / 2])
        zone = np.zeros(f.grey.shape, np.uint8)
        x0, x1 = sorted((lobe[0] - side * 0.12 * d, lobe[0] + side * 0.4 * d))
        zone[f._box(x0, x1, lobe[1] - 0.2 * d, lobe[1] + 0.9 * d)] = 1
        pieces = cv2.morphologyEx((jewel & zone.astype(bool)).astype(np.uint8), cv2.MORPH_CLOSE,
                                  disk(max(1, int(0.05 * d))))
        n, comp, stats, _ = cv2.connectedComponentsWithStats(pieces)
        at_lobe = np.zeros(f.grey.shape, np.uint8)
        cv2.circle(at_lobe, (int(lobe[0]), int(lobe[1])), max(2, int(0.18 * d)), 1, -1)
        for i in range(1, n):
            piece = comp == i
            area = stats[i, cv2.CC_STAT_AREA]
            if not max(4, EARRING_MIN * d * d) <= area <= 0.4 * d * d or not (piece & at_lobe.astype(bool)).any():
                continue
            ring = cv2.dilate(piece.astype(np.uint8), disk(max(2, int(0.12 * d)))).astype(bool) & ~piece & ~face
            isolated = not ring.any() or loose[ring].mean() <= EARRING_RING  # not one strand of many
            # a bright backdrop seen between the ear and the hair has the backdrop's colour
            backdrop_like = backdrop is not None and np.linalg.norm(colour[piece].mean(0) - backdrop) < 12.0
            if isolated and not backdrop_like and ((shine & piece).sum() >= 2 or (vivid[piece] > 25.0).mean() > 0.3):
                found |= piece
    if not found.any():
        return None
    filled = found.astype(np.uint8)
    contours, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(filled, contours, -1, 1, -1)
    return filled.astype(bool) & ~face


def add_accessories(lab: np.ndarray, crop: np.ndarray, points: np.ndarray) -> list[str]:
    """Paint the accessories found into ``lab`` (in place); the names of those found."""
    f = _Face(crop, points)  # the grey image and its thin-line response, for every finder
    found = []
    glasses = _eyeglasses(f, np.isin(lab, FACE_NOT_EARS))
    if glasses is not None and glasses.any():
        lab[glasses] = C.EYE_G
        found.append("eyeglasses")
    earrings = _earrings(f, lab)
    if earrings is not None:
        lab[earrings] = C.EAR_R
        found.append("earrings")
    return found
