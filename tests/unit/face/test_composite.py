"""Full-resolution compositing: a 256 render put into a 1024 photo keeps the photo's detail, draws new outlines
crisply without the render's pixel steps, and leaves everything away from the change byte-identical."""

import cv2
import numpy as np
import pytest

from smile_studio.core.labels import CLASS_BY_KEY as K
from smile_studio.engines.metrics import detail_level, edge_rise_width, staircase
from smile_studio.face.align import photo_scale
from smile_studio.face.composite import paste_edit
from smile_studio.face.paste import edit_region, paste_back
from smile_studio.opening import pixel_scale

HAIR, SKIN, HAT = K["hair"].id, K["skin"].id, K["hat"].id
S, BIG = 256, 1024


@pytest.fixture(scope="module")
def scene():
    """A 1024² photo (grainy background, fine-textured skin, hair of thin dark strands), its 256² map and
    render, and an edit that grows the hair down over the forehead (bangs) and puts a tilted hat on."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:BIG, 0:BIG]
    photo = np.empty((BIG, BIG, 3), np.float32)
    photo[:] = (120 + 20 * xx / BIG)[..., None]
    skin = ((xx - 512) / 300.0) ** 2 + ((yy - 560) / 380.0) ** 2 < 1
    hair = skin & (yy < 420)
    photo[skin] = (205, 160, 135)
    strands = 40 * np.sin(xx * 0.9 + 3 * np.sin(yy * 0.05)) + rng.normal(0, 15, (BIG, BIG))
    photo[hair] = np.array([70, 50, 35]) + strands[hair][:, None]
    photo[skin & ~hair] += rng.normal(0, 4, (int((skin & ~hair).sum()), 1))
    photo += rng.normal(0, 2, photo.shape)
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    small = lambda m: cv2.resize(m.astype(np.uint8), (S, S), interpolation=cv2.INTER_NEAREST).astype(bool)  # noqa: E731
    source = np.zeros((S, S), np.uint8)
    source[small(skin)] = SKIN
    source[small(hair)] = HAIR
    labels = source.copy()
    y, x = np.mgrid[0:S, 0:S]
    labels[small(skin) & (y >= 105) & (y < 125)] = HAIR  # bangs
    hat = (((x - 150) * np.cos(0.5) + (y - 60) * np.sin(0.5)) / 55.0) ** 2 + \
          ((-(x - 150) * np.sin(0.5) + (y - 60) * np.cos(0.5)) / 22.0) ** 2 < 1
    labels[hat] = HAT
    render = cv2.resize(photo, (S, S), interpolation=cv2.INTER_AREA)
    render[labels == HAIR] = render[source == HAIR].mean(0).astype(np.uint8)
    render[labels == HAT] = (30, 40, 90)
    return photo, render, source, labels, pixel_scale(4.0, 4.0)


def _at_photo(mask):
    return cv2.resize(mask.astype(np.uint8), (BIG, BIG), interpolation=cv2.INTER_NEAREST).astype(bool)


def test_new_hair_takes_the_photos_own_texture(scene):
    photo, render, source, labels, alignment = scene
    full = paste_edit(photo, render, alignment, source, labels)
    plain = paste_back(photo, render, alignment, edit_region(source, labels))
    bangs, own = _at_photo((labels == HAIR) & (source != HAIR)), _at_photo(source == HAIR)
    wanted = detail_level(photo, own, 4)
    assert 0.6 <= detail_level(full, bangs, 4) / wanted <= 1.4
    assert detail_level(plain, bangs, 4) / wanted < 0.3  # the upsampled render alone: a flat patch


def test_a_new_class_gets_a_crisp_outline_without_the_renders_pixel_steps(scene):
    photo, render, source, labels, alignment = scene
    full = paste_edit(photo, render, alignment, source, labels)
    plain = paste_back(photo, render, alignment, edit_region(source, labels))
    hat = _at_photo(labels == HAT)
    assert edge_rise_width(full, hat) <= 2.5 < edge_rise_width(plain, hat)
    made = (full != photo).any(-1)
    assert staircase(full, hat, 4, made=made) <= 1.1
    assert staircase(cv2.resize(cv2.resize(full, (S, S), interpolation=cv2.INTER_AREA), (BIG, BIG),
                                interpolation=cv2.INTER_NEAREST), hat, 4, made=made) > 1.5  # what it detects


def test_pixels_away_from_the_change_stay_byte_identical(scene):
    photo, render, source, labels, alignment = scene
    full = paste_edit(photo, render, alignment, source, labels)
    changed = _at_photo(labels != source)
    far = cv2.distanceTransform((~changed).astype(np.uint8), cv2.DIST_L2, 5) > 48
    assert np.array_equal(full[far], photo[far])
    assert (full[changed] != photo[changed]).any(-1).mean() > 0.9


def test_the_same_edit_composites_the_same_way(scene):
    photo, render, source, labels, alignment = scene
    a = paste_edit(photo, render, alignment, source, labels, seed=1)
    assert np.array_equal(a, paste_edit(photo, render, alignment, source, labels, seed=1))
    assert not np.array_equal(a, paste_edit(photo, render, alignment, source, labels, seed=2))


def test_without_texture_the_result_does_not_depend_on_the_seed(scene):
    """Video frames: no borrowed patches or grain that would be chosen anew in every frame."""
    photo, render, source, labels, alignment = scene
    a = paste_edit(photo, render, alignment, source, labels, seed=1, texture=False)
    assert np.array_equal(a, paste_edit(photo, render, alignment, source, labels, seed=2, texture=False))
    bangs = _at_photo((labels == HAIR) & (source != HAIR))
    assert detail_level(a, bangs, 4) < 0.5 * detail_level(paste_edit(photo, render, alignment, source, labels),
                                                           bangs, 4)


def test_no_change_and_small_faces(scene):
    photo, render, source, labels, alignment = scene
    same = paste_edit(photo, render, alignment, source, source)
    assert np.array_equal(same, photo) and same is not photo
    # a face no larger than the render: plain paste-back (there is no detail to add)
    small = cv2.resize(photo, (300, 300), interpolation=cv2.INTER_AREA)
    near = pixel_scale(300 / S, 300 / S)
    assert photo_scale(near) < 1.25
    assert np.array_equal(paste_edit(small, render, near, source, labels),
                          paste_back(small, render, near, edit_region(source, labels)))


def test_a_real_photo_gets_its_own_hair_texture_in_new_bangs(samples_dir):
    from smile_studio.engines.base import LayoutRequest, RenderRequest
    from smile_studio.engines.exemplar import ExemplarRenderEngine
    from smile_studio.engines.offline import OfflineLayoutEngine
    from smile_studio.opening import open_document

    doc = open_document(samples_dir / "maskgan_0.jpg", 256, samples_dir / "maskgan_0.png")
    new = OfflineLayoutEngine().edit(LayoutRequest(doc.labels, doc.attributes, {"bangs": "on"}, seed=2)).labels
    render = ExemplarRenderEngine().render(RenderRequest(new, doc.photo, doc.source_labels, exact=True))
    full = paste_edit(doc.original, render, doc.alignment, doc.source_labels, new)
    plain = paste_back(doc.original, render, doc.alignment, edit_region(doc.source_labels, new))
    size = doc.original.shape[1::-1]
    at = lambda m: cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)  # noqa: E731
    bangs = at((new == HAIR) & (doc.source_labels != HAIR))
    own = at(doc.source_labels == HAIR) & ~at(new != doc.source_labels)
    assert bangs.sum() > 5000
    ratio = detail_level(full, bangs, 4) / detail_level(doc.original, own, 4)
    assert 0.6 <= ratio <= 1.4
    assert detail_level(plain, bangs, 4) / detail_level(doc.original, own, 4) < ratio - 0.2


def test_a_single_changed_pixel_is_kept_and_maps_of_other_sizes_and_non_rgb_photos_are_handled(scene):
    photo, render, source, labels, alignment = scene
    speck = source.copy()
    speck[200, 60] = HAT  # one render pixel: the outline smoothing alone would erase it
    full = paste_edit(photo, render, alignment, source, speck)
    assert (full[800:804, 240:244] != photo[800:804, 240:244]).any()
    # a 512 source map with 256 labels and render: the maps are brought to the render's size each on its own
    big_source = cv2.resize(source, (512, 512), interpolation=cv2.INTER_NEAREST)
    assert np.array_equal(paste_edit(photo, render, alignment, big_source, labels),
                          paste_edit(photo, render, alignment, source, labels))
    with pytest.raises(ValueError, match="expected RGB"):
        paste_edit(photo[..., 0], render, alignment, source, labels)
