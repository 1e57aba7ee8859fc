"""Light for new shapes: the face's light read from its skin, volume shading with a glint, the cast shadow;
and what it does to an offline hat and to the composite in the photo."""

import cv2
import numpy as np
import pytest

from smile_studio.core.labels import CLASS_BY_KEY as K
from smile_studio.face.shading import FRONTAL, Light, cast_shadow, lambert, light_from_skin


def _lit_face(slope: float) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:256, 0:256]
    skin = ((xx - 128) / 70.0) ** 2 + ((yy - 128) / 90.0) ** 2 < 1
    grey = np.clip(150 + slope * (xx - 128) / 256 + 20 * (yy - 128) / 256, 0, 255)  # brighter below: shape
    return np.dstack([grey] * 3).astype(np.uint8), skin


@pytest.mark.parametrize(("slope", "side"), [(-90, -1), (90, 1), (0, 0)])
def test_the_light_comes_from_the_brighter_side_of_the_skin_and_from_above(slope, side):
    light = light_from_skin(*_lit_face(slope))
    assert light.dy < -0.6  # from above, whatever the vertical slope
    assert (light.dx < -0.5) if side < 0 else (light.dx > 0.5) if side > 0 else abs(light.dx) < 0.2
    assert light_from_skin(np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64), bool)) == FRONTAL


def test_a_volume_is_brighter_towards_the_light_with_a_glint_there_and_casts_its_shadow_away():
    disc = np.zeros((101, 101), bool)
    cv2.circle(disc.view(np.uint8), (50, 50), 30, 1, -1)
    left = Light(-1.0, 0.0, 1.0)
    diffuse, glint = lambert(disc, left, 20, gloss=16)
    assert diffuse[disc][np.nonzero(disc)[1] < 50].mean() > diffuse[disc][np.nonzero(disc)[1] > 50].mean() + 0.2
    gy, gx = np.unravel_index(np.argmax(glint), glint.shape)
    assert glint.max() > 0.5 and gx < 50 and disc[gy, gx]
    assert np.all(diffuse[~disc] == 1) and np.all(glint[~disc] == 0)
    shadow = cast_shadow(disc, Light(0.0, -1.0, 0.5), 6, 3)
    assert shadow[84, 50] > 0.3 and shadow[16, 50] < 0.01 and np.all(shadow[disc] == 0)


def test_an_offline_hat_is_shaded_by_the_face_s_light_and_shades_the_forehead(samples_dir):
    from smile_studio.engines.base import LayoutRequest, RenderRequest
    from smile_studio.engines.exemplar import ExemplarRenderEngine
    from smile_studio.engines.offline import OfflineLayoutEngine
    from smile_studio.face.composite import paste_edit
    from smile_studio.opening import open_document

    doc = open_document(samples_dir / "e4s_28297.jpg", 256, samples_dir / "e4s_28297.png")
    new = OfflineLayoutEngine().edit(LayoutRequest(doc.labels, doc.attributes, {"hat": "on"}, seed=2)).labels
    render = ExemplarRenderEngine().render(RenderRequest(new, doc.photo, doc.source_labels, exact=True))
    hat = new == K["hat"].id
    grey = cv2.cvtColor(render, cv2.COLOR_RGB2GRAY).astype(float)
    light = light_from_skin(doc.photo, doc.source_labels == K["skin"].id)
    xs = np.nonzero(hat)[1]
    lit, far = (xs > np.median(xs), xs < np.median(xs)) if light.dx > 0 else (xs < np.median(xs), xs > np.median(xs))
    assert grey[hat][lit].mean() > grey[hat][far].mean() + 3  # not a flat patch
    # the brim's shadow: the skin just under the hat is darker in the composite than in the photo
    full = paste_edit(doc.original, render, doc.alignment, doc.source_labels, new)
    below = np.zeros_like(hat)
    below[1:] = hat[:-1]
    below = cv2.dilate(below.astype(np.uint8), np.ones((3, 1), np.uint8)).astype(bool) & ~hat
    below &= doc.source_labels == K["skin"].id
    under = cv2.resize(below.astype(np.uint8), (1024, 1024), interpolation=cv2.INTER_NEAREST).astype(bool)
    darker = doc.original[under].astype(float).mean() - full[under].astype(float).mean()
    assert darker > 8
