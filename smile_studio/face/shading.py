"""Light for new shapes: where the face's light comes from, how a worn object (hat, glasses frame, earring)
would be shaded by it, and the soft shadow it casts on what is beneath.

Renderers without learned weights draw new objects as flat colour; a flat hat next to a face lit from one side
is what makes an edit look pasted. The light's direction is read from the face itself (the skin's brightness
slopes towards the light), the object is treated as a rounded volume (its height rises with the distance from
its outline), lit by Lambert's law, with a specular glint for glossy things; the cast shadow is the object's
silhouette moved away from the light and blurred.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core.labels import ClassId as C


@dataclass(frozen=True)
class Light:
    """The light in image coordinates: ``dx, dy`` a unit vector pointing *towards* the light (y down),
    ``strength`` 0 (flat, frontal light) to 1 (strongly from one side)."""

    dx: float = 0.0
    dy: float = -1.0
    strength: float = 0.3


FRONTAL = Light()


@dataclass(frozen=True)
class Material:
    """How a worn object takes light."""

    depth: float  # how thick it looks, as a fraction of its own half-width (its distance-field peak)
    gloss: float  # sharpness of the glint (0 = matte)
    glint: float  # the glint's brightness (0..1 of white)
    folds: float  # strength of fabric folds (relative luminance)
    shadow: float  # darkness of its contact shadow (0..1)


WORN = {
    C.HAT: Material(depth=0.6, gloss=0.0, glint=0.0, folds=0.08, shadow=0.35),
    C.EYE_G: Material(depth=1.0, gloss=24.0, glint=0.55, folds=0.0, shadow=0.25),
    C.EAR_R: Material(depth=1.0, gloss=16.0, glint=0.6, folds=0.0, shadow=0.2),
    C.NECK_L: Material(depth=1.0, gloss=16.0, glint=0.6, folds=0.0, shadow=0.2),
}


def light_from_skin(rgb: np.ndarray, skin: np.ndarray) -> Light:
    """The light's direction from the skin's brightness: a plane fitted to its luminance tells from which side
    (brighter towards the light); its height is taken as from above, as in nearly every portrait (the skin's
    vertical slope is mostly the face's own shape: a lit forehead, a shaded neck, or the reverse)."""
    ys, xs = np.nonzero(skin)
    if ys.size < 200:
        return FRONTAL
    grey = cv2.GaussianBlur(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0),
                            max(1.0, rgb.shape[0] / 128))
    size = float(max(rgb.shape[:2]))
    a = np.stack([xs / size, ys / size, np.ones(xs.size)], 1)
    (gx, _, _), *_ = np.linalg.lstsq(a, grey[ys, xs], rcond=None)
    side = float(np.clip(gx / 60, -1, 1))  # 60 grey levels across the image: light from the side
    norm = float(np.hypot(side, 1.0))
    return Light(side / norm, -1.0 / norm, float(np.clip(abs(side), 0.2, 1.0)))


def relief(mask: np.ndarray, depth: float) -> np.ndarray:
    """A rounded height field over ``mask``: rising from its outline over ``depth`` px, then flat."""
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    t = np.clip(inside / max(depth, 1e-3), 0, 1)
    return (np.sqrt(1 - (1 - t) ** 2) * depth).astype(np.float32)


def lambert(mask: np.ndarray, light: Light, depth: float, gloss: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(diffuse factor around 1, specular glint 0..1) over ``mask`` for an object ``depth`` px thick lit by
    ``light``; the glint is there only for ``gloss`` > 0 (its sharpness)."""
    h = cv2.GaussianBlur(relief(mask, depth), (0, 0), max(0.6, depth / 6))
    gy, gx = np.gradient(h)
    n = np.dstack([-gx, -gy, np.ones_like(h)])
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    elevation = 1.2 - 0.7 * light.strength  # a side light is low, a frontal one high
    lvec = np.array([light.dx, light.dy, elevation], np.float32)
    lvec /= np.linalg.norm(lvec)
    ndotl = np.clip(n @ lvec, 0, 1)
    flat = lvec[2]  # what a flat surface facing the camera receives
    diffuse = 0.55 + 0.45 * ndotl / max(flat, 1e-3)
    glint = np.zeros_like(h)
    if gloss > 0:
        half = lvec + np.array([0, 0, 1], np.float32)
        half /= np.linalg.norm(half)
        glint = np.clip(n @ half, 0, 1) ** gloss
        glint *= relief(mask, 1.0) > 0.5  # not on the antialiased rim
    m = mask.astype(bool)
    return np.where(m, diffuse, 1.0).astype(np.float32), np.where(m, glint, 0.0).astype(np.float32)


def cast_shadow(mask: np.ndarray, light: Light, reach: float, softness: float) -> np.ndarray:
    """How much each pixel outside ``mask`` is darkened (0..1) by the object's shadow: its silhouette moved
    ``reach`` px away from the light, blurred by ``softness`` px — on the side away from the light only, so the
    lit side keeps its crisp edge."""
    shift = np.float32([[1, 0, -light.dx * reach], [0, 1, -light.dy * reach]])
    m = mask.astype(np.float32)
    moved = cv2.warpAffine(m, shift, (m.shape[1], m.shape[0]), flags=cv2.INTER_LINEAR)
    return (cv2.GaussianBlur(moved, (0, 0), max(softness, 0.5)) * (1 - m)).astype(np.float32)
