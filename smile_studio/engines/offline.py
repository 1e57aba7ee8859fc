"""The offline default engines: every flow works with no learned face weights installed.

These are classical algorithms, named as such in the UI and exports, never presented as SMILE output:

* :class:`OfflineLayoutEngine` edits the six attributes as *parametric shapes* fitted to the face geometry read
  from the map (glasses frames around the eyes, a hat dome above the hairline, drop earrings under visible ear
  lobes, a fringe over the forehead, hair removed/added over the cranium, hair length and brow thickness for
  gender). The seed picks the shape variant (frame style, hat type, fringe cut, ...), psi scales the variation
  around the mean shape, and reference mode copies the attribute's region from a reference map aligned through
  the eye centres. Removing an attribute fills its pixels from the nearest other classes, so no orphan pixels
  remain (no earrings without ears, no glasses outside the face).
* :class:`~smile_studio.engines.exemplar.ExemplarRenderEngine` (re-exported here) renders maps by exemplar-based
  texture synthesis from the source photo and references.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from ..core.labelmap import inpaint_labels
from ..core.labels import ATTRIBUTE_BY_KEY, ATTRIBUTES
from ..core.labels import ClassId as C
from ..face.geometry import FaceGeometry, NoFaceDetected, measure, similarity_from_eyes, warp_mask
from .base import OFFLINE_INFO, EngineError, LayoutRequest, LayoutResult
from .exemplar import ExemplarRenderEngine

__all__ = ["OfflineLayoutEngine", "ExemplarRenderEngine", "inpaint_labels"]




def _paint(labels: np.ndarray, shape: np.ndarray, cls: int, onto: tuple[int, ...]) -> np.ndarray:
    out = labels.copy()
    out[shape & np.isin(labels, onto)] = cls
    return out


def _canvas(labels: np.ndarray) -> np.ndarray:
    return np.zeros(labels.shape, np.uint8)


def _jitter(rng: np.random.Generator, psi: float, spread: float) -> float:
    """A variation factor around 1: psi = 0 gives the mean shape."""
    return 1.0 + psi * spread * float(rng.uniform(-1, 1))


# -- attribute shapes --------------------------------------------------------------------------------------------
FRAME_STYLES = ("round", "rectangular", "aviator", "cat-eye")
HAT_STYLES = ("cap", "beanie", "wide-brim", "bowler")
BANG_CUTS = ("straight", "side-swept", "curtain", "wispy")
EARRING_STYLES = ("stud", "drop", "hoop")


def _turn(lab: np.ndarray, g: FaceGeometry) -> tuple[tuple[float, float], tuple[int, int]]:
    """(how much of each side of the face is seen, (subject's right = image left, left); the face's edges at eye
    height). A head turned away shows the tip of its nose off the eyes' midpoint, towards the far side: that side
    is seen at 1 - 1.5 x the offset in eye distances (clipped at 0.45), the near side whole. The nose, not the
    skin's edges, tells it: hair over one cheek would read as a turn."""
    row = int(np.clip(round(g.eye_y), 0, lab.shape[0] - 1))
    cols = np.nonzero(lab[row] == C.SKIN)[0]
    edges = (int(cols.min()), int(cols.max())) if cols.size >= 2 else \
        (int(g.cx - g.face_w / 2), int(g.cx + g.face_w / 2))
    ys, xs = np.nonzero(lab == C.NOSE)
    if ys.size < 4 or g.eye_dist <= 0:
        return (1.0, 1.0), edges
    tip = xs[ys >= np.percentile(ys, 60)].mean()  # the nose's lower part: its tip, not its bridge
    offset = (tip - (g.eye_r[0] + g.eye_l[0]) / 2) / g.eye_dist
    if abs(offset) < 0.06:  # a frontal face, as drawn by a map
        return (1.0, 1.0), edges
    far = float(np.clip(1 - 1.5 * abs(offset), 0.45, 1.0))
    return ((far, 1.0) if offset < 0 else (1.0, far)), edges


def add_eyeglasses(lab: np.ndarray, g: FaceGeometry, rng: np.random.Generator, psi: float) -> tuple[np.ndarray, str]:
    """Frames around the eyes, following a turned head: the far lens narrower (seen at an angle) and the far
    temple, which runs behind the head, left out when the head is turned well away."""
    style = FRAME_STYLES[int(rng.integers(len(FRAME_STYLES)))]
    shape = _canvas(lab)
    seen, (left_edge, right_edge) = _turn(lab, g)
    # the eyes' mean width, seen frontally: a far eye seen at an angle looks narrower than it is
    lens_w = g.eye_w * 2 / (seen[0] + seen[1]) * 1.9 * _jitter(rng, psi, 0.15)
    aspect = {"round": 0.9, "rectangular": 0.62, "aviator": 0.85, "cat-eye": 0.6}[style]
    lens_h = lens_w * aspect * _jitter(rng, psi, 0.1)
    thick = max(2, int(round(g.size / 128 * _jitter(rng, psi, 0.3))))
    centres, halves = [], []
    for (ex, ey), k in zip((g.eye_r, g.eye_l), seen, strict=True):
        c = (int(round(ex)), int(round(ey + 0.05 * lens_h)))
        centres.append(c)
        axes = (max(2, int(lens_w * k / 2)), int(lens_h / 2))
        halves.append(axes[0])
        if style == "rectangular":
            cv2.rectangle(shape, (c[0] - axes[0], c[1] - axes[1]), (c[0] + axes[0], c[1] + axes[1]), 1, thick)
        elif style == "aviator":
            cv2.ellipse(shape, (c[0], c[1] + axes[1] // 5), axes, 0, 0, 360, 1, thick)
        elif style == "cat-eye":
            tilt = -8 if c[0] < g.cx else 8
            cv2.ellipse(shape, c, axes, tilt, 0, 360, 1, thick)
        else:
            cv2.ellipse(shape, c, axes, 0, 0, 360, 1, thick)
    (rx, ry), (lx, ly) = centres
    cv2.line(shape, (rx + halves[0], ry - int(lens_h * 0.15)), (lx - halves[1], ly - int(lens_h * 0.15)), 1, thick)
    # temples run from the outer rims to the sides of the face; a far one goes behind the head
    if seen[0] > 0.75:
        cv2.line(shape, (rx - halves[0], ry - int(lens_h * 0.2)), (left_edge, ry - int(lens_h * 0.25)), 1, thick)
    if seen[1] > 0.75:
        cv2.line(shape, (lx + halves[1], ly - int(lens_h * 0.2)), (right_edge, ly - int(lens_h * 0.25)), 1, thick)
    onto = (C.SKIN, C.NOSE, C.L_BROW, C.R_BROW, C.HAIR, C.L_EAR, C.R_EAR)
    return _paint(lab, shape.astype(bool), C.EYE_G, onto), style


def add_hat(lab: np.ndarray, g: FaceGeometry, rng: np.random.Generator, psi: float) -> tuple[np.ndarray, str]:
    style = HAT_STYLES[int(rng.integers(len(HAT_STYLES)))]
    shape = _canvas(lab)
    (cx, _), (hw, _) = g.skull(1.0)
    brim_y = int(round(g.brow_y - (g.brow_y - g.hairline_y) * (0.35 if style == "beanie" else 0.15)
                       * _jitter(rng, psi, 0.5)))
    brim_y = min(brim_y, int(g.brow_y) - 2)
    crown = (brim_y - g.head_top) * {"cap": 1.1, "beanie": 1.15, "wide-brim": 1.35, "bowler": 1.3}[style]
    crown *= _jitter(rng, psi, 0.15)
    dome_w = int(hw * 1.08 * _jitter(rng, psi, 0.08))
    cv2.ellipse(shape, (cx, brim_y), (dome_w, max(int(crown), 4)), 0, 180, 360, 1, -1)
    if style == "wide-brim":
        cv2.ellipse(shape, (cx, brim_y), (int(dome_w * 1.6), max(int(g.size * 0.03), 3)), 0, 0, 360, 1, -1)
    elif style == "cap":
        side = 1 if rng.random() < 0.5 else -1
        cv2.ellipse(shape, (cx + side * dome_w // 3, brim_y), (int(dome_w * 0.9), max(int(g.size * 0.025), 3)),
                    0, 0, 360, 1, -1)
    elif style == "bowler":
        cv2.ellipse(shape, (cx, brim_y), (int(dome_w * 1.25), max(int(g.size * 0.018), 2)), 0, 0, 360, 1, -1)
    shape[int(g.brow_y) - 1:] = 0  # never over brows or eyes
    onto = (C.BACKGROUND, C.HAIR, C.SKIN, C.L_EAR, C.R_EAR, C.EAR_R)
    return _paint(lab, shape.astype(bool), C.HAT, onto), style


def add_earrings(lab: np.ndarray, g: FaceGeometry, rng: np.random.Generator, psi: float) -> tuple[np.ndarray, str]:
    style = EARRING_STYLES[int(rng.integers(len(EARRING_STYLES)))]
    ears = [e for e in (g.ear_r, g.ear_l) if e is not None and (e[2] - e[0]) * (e[3] - e[1]) > 4]
    if not ears:
        raise EngineError("no ear is visible in the map, so earrings cannot be added (paint an ear first)")
    shape = _canvas(lab)
    r = max(2, int(round(g.face_w * 0.035 * _jitter(rng, psi, 0.35))))
    for x0, _y0, x1, y1 in ears:
        lobe = (int((x0 + x1) / 2), int(y1) - 1)
        if style == "stud":
            cv2.circle(shape, (lobe[0], lobe[1] + r // 2), r, 1, -1)
        elif style == "drop":
            cv2.line(shape, lobe, (lobe[0], lobe[1] + 2 * r), 1, max(1, r // 3))
            cv2.ellipse(shape, (lobe[0], lobe[1] + 3 * r), (r, int(1.4 * r)), 0, 0, 360, 1, -1)
        else:
            cv2.circle(shape, (lobe[0], lobe[1] + 2 * r), 2 * r, 1, max(1, r // 2))
    onto = (C.BACKGROUND, C.HAIR, C.SKIN, C.NECK, C.CLOTH, C.L_EAR, C.R_EAR)
    return _paint(lab, shape.astype(bool), C.EAR_R, onto), style


def add_bangs(lab: np.ndarray, g: FaceGeometry, rng: np.random.Generator, psi: float) -> tuple[np.ndarray, str]:
    """A fringe over the forehead, its lower edge a smooth curve of the cut's profile (straight, swept to one
    side, parted in the middle, wispy) broken into strand tips of seeded widths and lengths: hair falls in
    locks, not in a ruled line or a sawtooth."""
    cut = BANG_CUTS[int(rng.integers(len(BANG_CUTS)))]
    half = g.face_w / 2 * 1.02
    top = g.head_top + 0.3 * (g.hairline_y - g.head_top)
    gap = (g.eye_y - g.brow_y) * 0.6
    bottom = min((g.brow_y - gap) * _jitter(rng, psi, 0.03), g.brow_y - 1)
    height = bottom - top
    u = np.linspace(0.0, 1.0, 97)
    if cut == "straight":
        edge = bottom - 0.08 * height * (1 - (2 * u - 1) ** 2)  # a slight arch: shorter in the middle
    elif cut == "side-swept":
        side = u if rng.random() < 0.5 else 1 - u
        edge = bottom - 0.45 * height * (0.5 + 0.5 * np.cos(np.pi * side))
    elif cut == "curtain":
        edge = bottom - 0.55 * height * (1 - np.abs(2 * u - 1)) ** 1.5
    else:  # wispy: a straight line broken by longer, finer strands (below)
        edge = bottom - 0.12 * height * np.ones_like(u)
    strands = int(rng.integers(12, 20)) if cut != "wispy" else int(rng.integers(20, 28))
    depth = (0.15 if cut == "wispy" else 0.08) * height
    tips = np.zeros_like(u)
    for centre, width, length in zip(rng.uniform(0, 1, strands), rng.uniform(0.4, 2.0, strands) / strands,
                                     rng.uniform(0.3, 1.0, strands), strict=True):
        inside = np.abs(u - centre) < width
        tips[inside] = np.maximum(tips[inside], length * (1 - np.abs(u[inside] - centre) / width) ** 1.5)  # pointed
    edge = np.minimum(edge + depth * (tips - 0.5), g.brow_y - 1)
    xs = g.cx - half + 2 * half * u
    pts = np.vstack([[g.cx - half, top], [g.cx + half, top], np.stack([xs, edge], 1)[::-1]])
    shape = _canvas(lab)
    cv2.fillPoly(shape, [np.round(pts).astype(np.int32)], 1)
    onto = (C.SKIN, C.BACKGROUND)
    inside_head = _head_mask(lab, g)
    return _paint(lab, shape.astype(bool) & inside_head, C.HAIR, onto), cut


def _head_mask(lab: np.ndarray, g: FaceGeometry, scale: float = 1.0) -> np.ndarray:
    m = _canvas(lab)
    c, axes = g.skull(scale)
    cv2.ellipse(m, c, axes, 0, 0, 360, 1, -1)
    return m.astype(bool) | np.isin(lab, (C.SKIN, C.HAIR))


def remove_bangs(lab: np.ndarray, g: FaceGeometry) -> np.ndarray:
    """Hair over the forehead (between the temples, down to the brows) becomes skin."""
    forehead_top = g.brow_y - 0.55 * (g.nose_y - g.brow_y) - 0.1 * (g.brow_y - g.head_top)
    x0, x1 = int(g.cx - 0.42 * g.face_w), int(g.cx + 0.42 * g.face_w)
    region = np.zeros(lab.shape, bool)
    region[int(max(forehead_top, 0)): int(g.brow_y) + 2, max(x0, 0): x1] = True
    out = lab.copy()
    out[region & (lab == C.HAIR)] = C.SKIN
    return out


def make_bald(lab: np.ndarray, g: FaceGeometry, rng: np.random.Generator, psi: float) -> np.ndarray:
    """All hair goes: over the cranium (its size varies with the seed) and down the sides of the head to the
    jaw — the convex outline of cranium and face, as a bald head is seen from the front — it becomes skin;
    outside it (long hair beside the neck, over the shoulders) what lies behind hair there, the nearest
    background, cloth or neck (the nearest class overall made a skin-coloured halo around the face)."""
    out = lab.copy()
    cranium = _canvas(lab)
    c, axes = g.skull(0.98 * _jitter(rng, psi, 0.06))
    cv2.ellipse(cranium, c, axes, 0, 180, 360, 1, -1)
    cranium = cranium.astype(bool) & (np.arange(lab.shape[0])[:, None] < g.brow_y)
    out[cranium & np.isin(lab, (C.HAIR, C.BACKGROUND))] = C.SKIN
    head = _canvas(lab)
    points = cv2.findNonZero((out == C.SKIN).astype(np.uint8))
    if points is not None:
        cv2.fillConvexPoly(head, cv2.convexHull(points), 1)
    out[head.astype(bool) & (out == C.HAIR)] = C.SKIN
    return inpaint_labels(out, out == C.HAIR, only=(C.BACKGROUND, C.CLOTH, C.NECK))


def add_hair(lab: np.ndarray, g: FaceGeometry, rng: np.random.Generator, psi: float, long: bool) -> np.ndarray:
    """Hair over the cranium (skin above the forehead, background around the skull), longer for 'female'."""
    shape = _canvas(lab)
    c, axes = g.skull(1.08 * _jitter(rng, psi, 0.05))
    cv2.ellipse(shape, c, axes, 0, 180, 360, 1, -1)
    hairline = g.brow_y - 0.45 * (g.nose_y - g.brow_y) * 1.6
    rows = np.arange(lab.shape[0])[:, None]
    cranium = shape.astype(bool) & (rows < hairline)
    sides = np.zeros(lab.shape, bool)
    if long:
        sides = _long_hair_mask(lab, g, rng, psi)
    out = lab.copy()
    out[cranium & np.isin(lab, (C.SKIN, C.BACKGROUND))] = C.HAIR
    out[sides & (lab == C.BACKGROUND)] = C.HAIR
    return out


def _long_hair_mask(lab, g: FaceGeometry, rng, psi) -> np.ndarray:
    length = g.chin_y + (g.chin_y - g.eye_y) * 0.6 * _jitter(rng, psi, 0.3)
    m = _canvas(lab)
    half = g.face_w / 2
    for side in (-1, 1):
        x_in = g.cx + side * half * 0.95
        x_out = g.cx + side * half * 1.45 * _jitter(rng, psi, 0.1)
        pts = np.array([(x_in, g.eye_y - 0.3 * g.face_h), (x_out, g.eye_y), (x_out, length),
                        (x_in, length)], np.float64)
        cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    return m.astype(bool)


def to_male(lab: np.ndarray, g: FaceGeometry, rng: np.random.Generator, psi: float) -> np.ndarray:
    out = lab.copy()
    cut = g.mouth_y + (g.chin_y - g.mouth_y) * 0.5 * psi * float(rng.uniform(-1, 1))  # where the hair ends
    # beside the face the cut rises with the distance from it: a rounded short cut, not a straight line
    away = np.maximum(np.abs(np.arange(lab.shape[1])[None, :] - g.cx) - 0.5 * g.face_w, 0)
    below_jaw = np.arange(lab.shape[0])[:, None] > cut - 1.2 * away
    long_hair = (lab == C.HAIR) & below_jaw
    out = inpaint_labels(out, long_hair, only=(C.BACKGROUND, C.CLOTH))  # never lips or eyes far from the face
    k = max(1, int(round(g.size / 256 * (1 + psi * rng.uniform(0, 1)))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    for brow in (C.L_BROW, C.R_BROW):
        grown = cv2.dilate((out == brow).astype(np.uint8), kernel).astype(bool)
        out[grown & (out == C.SKIN)] = brow
    return out


def to_female(lab: np.ndarray, g: FaceGeometry, rng: np.random.Generator, psi: float) -> np.ndarray:
    out = lab.copy()
    if (lab == C.HAIR).any() or (lab == C.HAT).any():
        out[_long_hair_mask(lab, g, rng, psi) & (lab == C.BACKGROUND)] = C.HAIR
    kernel = np.ones((3, 1), np.uint8)
    for brow in (C.L_BROW, C.R_BROW):
        m = (out == brow).astype(np.uint8)
        if m.sum() > 12:
            thin = cv2.erode(m, kernel).astype(bool)
            out[(m.astype(bool)) & ~thin] = C.SKIN
    return out


# -- the engine --------------------------------------------------------------------------------------------------
_REGION_OF = {"eyeglasses": C.EYE_G, "hat": C.HAT, "earrings": C.EAR_R, "bangs": C.HAIR, "bald": C.HAIR,
              "gender": C.HAIR}


class OfflineLayoutEngine:
    """Attribute edits as parametric shapes fitted to the face geometry (no learned weights)."""

    name = "offline"
    info = OFFLINE_INFO
    description = "Offline layout engine: parametric attribute shapes fitted to the face geometry (not SMILE)"

    def edit(self, request: LayoutRequest) -> LayoutResult:
        new_state = request.new_state()
        changed = request.changed_attributes()
        maps, notes, skipped = [], [], set()
        seeds = tuple(request.seed + i for i in range(max(1, request.variations)))
        for seed in seeds:
            lab, n, s = self._edit_one(request, new_state, changed, seed)
            maps.append(lab)
            notes.extend(x for x in n if x not in notes)
            skipped |= s
        for key in skipped:  # an edit that could not be made leaves its attribute as it was
            new_state[key] = request.current[key]
        return LayoutResult(maps=tuple(maps), attributes=new_state, seeds=seeds, engine=self.name,
                            notes=tuple(notes))

    def _edit_one(self, req: LayoutRequest, new: dict, changed: list[str], seed: int
                  ) -> tuple[np.ndarray, list, set]:
        lab = np.array(req.labels, np.uint8, copy=True)
        notes: list[str] = []
        skipped: set[str] = set()
        if not changed:
            return lab, notes, skipped
        try:
            geom = measure(lab)
        except NoFaceDetected as exc:
            raise EngineError(str(exc)) from exc
        psi = float(np.clip(req.psi, 0.0, 2.0))
        ref_geom = None
        if req.reference_labels is not None:
            try:
                ref_geom = measure(req.reference_labels)
            except NoFaceDetected:
                notes.append("the reference map shows no face; its shapes were not used")
        # removals first, then additions, so an added hat is not undone by a later hair edit
        order = sorted(changed, key=lambda k: (self._is_addition(k, new[k]), [a.key for a in ATTRIBUTES].index(k)))
        for key in order:
            rng = np.random.default_rng([seed, [a.key for a in ATTRIBUTES].index(key)])
            value = new[key]
            if ref_geom is not None and self._is_addition(key, value):
                copied = self._from_reference(lab, geom, req.reference_labels, ref_geom, key)
                if copied is not None:
                    lab = copied
                    geom = measure(lab)
                    continue
                notes.append(f"the reference has no {ATTRIBUTE_BY_KEY[key].name.lower()} region; "
                             "a generated shape was used")
            try:
                lab = self._apply(lab, geom, key, value, rng, psi)
            except EngineError as exc:
                notes.append(str(exc))
                skipped.add(key)
                continue
            geom = measure(lab)
        return lab, notes, skipped

    @staticmethod
    def _is_addition(key: str, value: str) -> bool:
        return {"gender": value == "female", "bald": value == "off"}.get(key, value == "on")

    def _apply(self, lab, g, key, value, rng, psi) -> np.ndarray:
        ops: dict[tuple[str, str], Callable] = {
            ("eyeglasses", "on"): lambda: add_eyeglasses(lab, g, rng, psi)[0],
            ("eyeglasses", "off"): lambda: inpaint_labels(lab, lab == C.EYE_G, exclude=(C.EYE_G,)),
            ("hat", "on"): lambda: add_hat(lab, g, rng, psi)[0],
            ("hat", "off"): lambda: self._remove_hat(lab, g),
            ("earrings", "on"): lambda: add_earrings(lab, g, rng, psi)[0],
            ("earrings", "off"): lambda: inpaint_labels(lab, lab == C.EAR_R, exclude=(C.EAR_R,)),
            ("bangs", "on"): lambda: add_bangs(lab, g, rng, psi)[0],
            ("bangs", "off"): lambda: remove_bangs(lab, g),
            ("bald", "on"): lambda: make_bald(lab, g, rng, psi),
            ("bald", "off"): lambda: add_hair(lab, g, rng, psi, long=False),
            ("gender", "male"): lambda: to_male(lab, g, rng, psi),
            ("gender", "female"): lambda: to_female(lab, g, rng, psi),
        }
        return ops[(key, value)]()

    @staticmethod
    def _remove_hat(lab: np.ndarray, g: FaceGeometry) -> np.ndarray:
        """Hat pixels over the cranium become hair when the person has hair, the rest the nearest class."""
        out = lab.copy()
        hat = lab == C.HAT
        if (lab == C.HAIR).any():
            c, axes = g.skull(1.0)
            skull = _canvas(lab)
            cv2.ellipse(skull, c, axes, 0, 0, 360, 1, -1)
            out[hat & skull.astype(bool)] = C.HAIR
        return inpaint_labels(out, out == C.HAT, only=(C.BACKGROUND, C.HAIR, C.SKIN))

    @staticmethod
    def _from_reference(lab, g, ref_lab, ref_g, key) -> np.ndarray | None:
        cls = _REGION_OF[key]
        region = ref_lab == cls
        if key in ("bangs", "bald", "gender"):
            region = ref_lab == C.HAIR
        if region.sum() < 4:
            return None
        m = similarity_from_eyes(ref_g, g)
        warped = warp_mask(region, m, lab.shape)
        out = lab.copy()
        if key == "eyeglasses":
            onto = (C.SKIN, C.NOSE, C.L_BROW, C.R_BROW, C.HAIR, C.L_EAR, C.R_EAR)
        elif key in ("bangs", "bald", "gender"):
            onto = (C.SKIN, C.BACKGROUND, C.HAT) if key != "bangs" else (C.SKIN, C.BACKGROUND)
            if key == "bangs":
                warped &= np.arange(lab.shape[0])[:, None] < g.brow_y
            else:
                # the reference's hair replaces ours
                out = inpaint_labels(out, out == C.HAIR, only=(C.BACKGROUND, C.SKIN, C.CLOTH, C.NECK))
        elif key == "earrings":
            if g.ear_l is None and g.ear_r is None:
                return None
            onto = (C.BACKGROUND, C.HAIR, C.SKIN, C.NECK, C.CLOTH, C.L_EAR, C.R_EAR)
        else:
            onto = (C.BACKGROUND, C.HAIR, C.SKIN, C.L_EAR, C.R_EAR, C.EAR_R)
        painted = warped & np.isin(out, onto)
        if painted.sum() < 4:
            return None
        out[painted] = cls
        return out
