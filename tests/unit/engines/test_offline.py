"""Offline default engines on the real sample pairs: locality, determinism, seeds, reference styling."""

import cv2
import numpy as np
import pytest

from smile_studio.core.document import Reference, StyleSource
from smile_studio.core.imageio import read_image
from smile_studio.core.labelio import read_label_map
from smile_studio.core.labels import CLASS_BY_KEY as K
from smile_studio.core.labels import NUM_CLASSES, default_attributes
from smile_studio.engines.base import EngineError, LayoutEngine, LayoutRequest, RenderEngine, RenderRequest
from smile_studio.engines.exemplar import ExemplarRenderEngine
from smile_studio.engines.metrics import attribute_locality, delta_e, mean_lab, render_locality
from smile_studio.engines.offline import OfflineLayoutEngine, inpaint_labels
from smile_studio.face.geometry import attributes_from_map

PAIRS = ["maskgan_0", "maskgan_1", "maskgan_2", "maskgan_3", "e4s_28063", "e4s_28297", "e4s_28426"]
EDITS = [{"eyeglasses": "on"}, {"hat": "on"}, {"bald": "on"}, {"bangs": "on"}, {"gender": "flip"},
         {"eyeglasses": "on", "hat": "on", "bald": "on", "bangs": "on", "earrings": "on", "gender": "flip"}]


def load_pair(samples_dir, name, size=256):
    lab = cv2.resize(read_label_map(samples_dir / f"{name}.png").labels, (size, size),
                     interpolation=cv2.INTER_NEAREST)
    rgb = cv2.resize(read_image(samples_dir / f"{name}.jpg"), (size, size), interpolation=cv2.INTER_AREA)
    return lab, rgb


def request(lab, edit, seed=3, **kw):
    cur = attributes_from_map(lab)
    target = {k: (("male" if cur["gender"] == "female" else "female") if v == "flip" else v) for k, v in edit.items()}
    return LayoutRequest(lab, cur, target, seed=seed, **kw)


@pytest.fixture(scope="module")
def engines():
    return OfflineLayoutEngine(), ExemplarRenderEngine()


def test_engines_implement_the_protocols(engines):
    assert isinstance(engines[0], LayoutEngine) and isinstance(engines[1], RenderEngine)
    assert "not SMILE" in engines[0].description and "not SMILE" in engines[1].description


@pytest.mark.parametrize("name", PAIRS)
def test_every_edit_is_local_and_deterministic(samples_dir, engines, name):
    layout, _ = engines
    lab, _ = load_pair(samples_dir, name)
    for edit in EDITS:
        req = request(lab, edit)
        res = layout.edit(req)
        out = res.labels
        assert not np.array_equal(out, lab), f"{name} {edit}: nothing changed"
        keys = req.changed_attributes()
        assert attribute_locality(lab, out, keys) >= 0.99, (name, edit)
        assert np.array_equal(layout.edit(req).labels, out), "same seed must give the same map"
        other = layout.edit(request(lab, edit, seed=11)).labels
        if edit.keys() & {"eyeglasses", "hat", "bangs"}:
            assert not np.array_equal(other, out), f"{name} {edit}: seeds 3 and 11 gave the same shape"
        assert res.attributes == req.new_state() or res.notes
        features = [K[k].id for k in ("l_eye", "r_eye", "nose", "mouth", "u_lip", "l_lip")]
        grew = [c for c in features if (out == c).sum() > (lab == c).sum()]
        assert not grew, f"{name} {edit}: face parts grew (orphan pixels): {grew}"


def test_accessories_land_on_the_face(samples_dir, engines):
    layout, _ = engines
    lab, _ = load_pair(samples_dir, "maskgan_0")
    glasses = layout.edit(request(lab, {"eyeglasses": "on"})).labels == K["eye_g"].id
    assert glasses.sum() > 50
    face_or_hair = np.isin(lab, [K[k].id for k in ("skin", "nose", "l_brow", "r_brow", "hair", "l_ear", "r_ear")])
    assert face_or_hair[glasses].all(), "glasses outside the face"
    earr = layout.edit(request(lab, {"earrings": "on"})).labels == K["ear_r"].id
    ears = np.isin(lab, [K["l_ear"].id, K["r_ear"].id])
    ys, xs = np.nonzero(earr)
    eys, exs = np.nonzero(ears)
    assert earr.sum() > 5 and ys.min() >= eys.min()  # earrings hang from the ears


def test_removals_leave_no_orphans(samples_dir, engines):
    layout, _ = engines
    lab, _ = load_pair(samples_dir, "e4s_28063")  # the sample with earrings
    assert (lab == K["ear_r"].id).sum() > 100
    res = layout.edit(request(lab, {"earrings": "off"}))
    assert not (res.labels == K["ear_r"].id).any()
    no_ears = lab.copy()
    no_ears[np.isin(lab, [K["l_ear"].id, K["r_ear"].id, K["ear_r"].id])] = K["hair"].id
    res = layout.edit(request(no_ears, {"earrings": "on"}))
    assert not (res.labels == K["ear_r"].id).any() and res.attributes["earrings"] == "off"
    assert any("ear" in n for n in res.notes)


def test_variations_psi_and_reference_mode(samples_dir, engines):
    layout, _ = engines
    lab, _ = load_pair(samples_dir, "maskgan_1")
    res = layout.edit(request(lab, {"hat": "on"}, variations=3))
    assert len(res.maps) == 3 and res.seeds == (3, 4, 5)
    mean0 = layout.edit(request(lab, {"eyeglasses": "on"}, seed=1, psi=0.0)).labels
    mean1 = layout.edit(request(lab, {"eyeglasses": "on"}, seed=1, psi=0.0)).labels
    assert np.array_equal(mean0, mean1)
    ref = lab.copy()
    ref[100:110, 60:200] = K["eye_g"].id  # a reference wearing a visor-like frame
    out = layout.edit(request(lab, {"eyeglasses": "on"}, reference_labels=ref,
                                  reference_attributes={"eyeglasses": "on"})).labels
    assert ((out == K["eye_g"].id) & (ref == K["eye_g"].id)).sum() > 0.5 * (out == K["eye_g"].id).sum()


def test_no_face_is_a_clear_error(engines):
    with pytest.raises(EngineError, match="no face"):
        engines[0].edit(request(np.zeros((64, 64), np.uint8), {"hat": "on"}))


def test_inpaint_labels_takes_nearest_allowed_class():
    lab = np.zeros((10, 10), np.uint8)
    lab[:, 5:] = 1
    lab[4:6, 4:6] = 15
    out = inpaint_labels(lab, lab == 15, exclude=(15,))
    assert not (out == 15).any() and out[5, 4] == 0 and out[5, 5] == 1


@pytest.mark.parametrize("name", PAIRS[:4])
def test_render_locality(samples_dir, engines, name):
    layout, render = engines
    lab, rgb = load_pair(samples_dir, name)
    src = render.render(RenderRequest(lab, rgb, lab))
    assert np.abs(src.astype(int) - rgb.astype(int)).max() <= 1  # unchanged map: the photo comes back
    for edit in EDITS[:4]:
        new = layout.edit(request(lab, edit)).labels
        img = render.render(RenderRequest(new, rgb, lab))
        assert render_locality(img, src, new != lab, radius=8) <= 2, (name, edit)
        changed = new != lab
        assert np.abs(img[changed].astype(int) - rgb[changed].astype(int)).mean() > 3  # it did render something


def test_reference_hair_colour(samples_dir, engines):
    _, render = engines
    lab, rgb = load_pair(samples_dir, "maskgan_0")
    rlab, rrgb = load_pair(samples_dir, "e4s_28063")  # blonde reference for a brunette
    styles = [StyleSource()] * NUM_CLASSES
    styles[K["hair"].id] = StyleSource("reference", ref="ref1")
    img = render.render(RenderRequest(lab, rgb, lab, tuple(styles), (Reference("ref1", "r", rrgb, rlab),)))
    hair = lab == K["hair"].id
    target = mean_lab(rrgb, rlab == K["hair"].id)
    assert delta_e(mean_lab(rgb, hair), target) > 12  # the two hair colours really differ
    assert delta_e(mean_lab(img, hair), target) <= 6


def test_random_styles_vary_by_seed_and_no_photo_renders(samples_dir, engines):
    _, render = engines
    lab, rgb = load_pair(samples_dir, "maskgan_2")
    imgs = []
    for seed in (1, 2):
        styles = [StyleSource()] * NUM_CLASSES
        styles[K["background"].id] = StyleSource("seed", seed=seed)
        imgs.append(render.render(RenderRequest(lab, rgb, lab, tuple(styles))))
    cloth = lab == K["background"].id
    assert np.abs(imgs[0][cloth].astype(int) - imgs[1][cloth].astype(int)).mean() > 5
    assert np.array_equal(imgs[0][~cloth & (lab == 1)], imgs[1][~cloth & (lab == 1)])
    bare = ExemplarRenderEngine(sample=(rgb, lab)).render(RenderRequest(lab))  # hand-painted map, no photo
    assert bare.shape == (256, 256, 3) and bare.std() > 10
    skin = lab == K["skin"].id
    assert delta_e(mean_lab(bare, skin), mean_lab(rgb, skin)) < 8


def test_attributes_read_from_the_map(samples_dir):
    from smile_studio.face.geometry import attributes_from_map

    lab, _ = load_pair(samples_dir, "e4s_28063")  # big earrings
    assert attributes_from_map(lab)["earrings"] == "on" and attributes_from_map(lab)["eyeglasses"] == "off"
    long_hair, _ = load_pair(samples_dir, "maskgan_0")  # long hair over the shoulders
    assert attributes_from_map(long_hair)["gender"] == "female"
    short, _ = load_pair(samples_dir, "maskgan_1")  # short-haired man
    assert attributes_from_map(short)["gender"] == "male" and attributes_from_map(short)["bald"] == "off"
    bald = short.copy()
    bald[bald == K["hair"].id] = K["skin"].id
    assert attributes_from_map(bald)["bald"] == "on"
    glasses = short.copy()
    glasses[118:124, 80:180] = K["eye_g"].id
    assert attributes_from_map(glasses)["eyeglasses"] == "on"
    assert attributes_from_map(np.zeros((64, 64), np.uint8)) == default_attributes()  # no face: the defaults


@pytest.mark.parametrize("name", ["maskgan_0", "maskgan_2", "e4s_28426"])
def test_background_behind_removed_hair_is_as_smooth_as_the_photos(engines, samples_dir, name):
    """Long hair cut short: the freed background is filled from its border, no mirrored stripes (its mean
    Laplacian was 3-5x the photo background's before)."""
    layout, render = engines
    lab, rgb = load_pair(samples_dir, name)
    new = layout.edit(LayoutRequest(lab, attributes_from_map(lab), {"gender": "male"}, seed=0, photo=rgb)).maps[0]
    out = render.render(RenderRequest(new, rgb, lab))
    freed = (new == K["background"].id) & (lab == K["hair"].id)
    assert freed.sum() > 2000

    def inner(mask):
        return cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)

    lap = np.abs(cv2.Laplacian(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F))
    assert lap[inner(freed)].mean() <= 1.2 * lap[inner(lab == K["background"].id)].mean()


def test_a_haircut_never_copies_facial_features_into_the_new_skin(samples_dir):
    """Bald on long hair: the new skin far from the old is grown (shading continued from the skin's border,
    grain quilted from clean skin), not mirrored: dark blobs against their surroundings (copied eyes, brows,
    lips) were 13 % / 7.5 % of that skin with the mirrored exemplar, now at most 4 %."""
    from smile_studio.core.labels import ClassId as C
    from smile_studio.engines.base import RenderRequest
    from smile_studio.engines.exemplar import ExemplarRenderEngine

    for stem in ("maskgan_1", "maskgan_0"):  # short and long hair with a large scalp
        lab = cv2.resize(read_label_map(samples_dir / f"{stem}.png").labels, (256, 256),
                         interpolation=cv2.INTER_NEAREST)
        rgb = cv2.resize(read_image(samples_dir / f"{stem}.jpg"), (256, 256), interpolation=cv2.INTER_AREA)
        res = OfflineLayoutEngine().edit(LayoutRequest(lab, attributes_from_map(lab), {"bald": "on"}, seed=1))
        out = ExemplarRenderEngine().render(RenderRequest(res.labels, rgb, lab, exact=True))
        new_skin = (res.labels == C.SKIN) & (lab != C.SKIN)
        far = new_skin & (cv2.distanceTransform((lab != C.SKIN).astype(np.uint8), cv2.DIST_L2, 5) > 12)
        inner = far & (cv2.distanceTransform((res.labels == C.SKIN).astype(np.uint8), cv2.DIST_L2, 5) > 10)
        assert inner.sum() > 1000, stem
        light = cv2.cvtColor(out, cv2.COLOR_RGB2LAB)[..., 0].astype(float)
        local = light - cv2.GaussianBlur(light, (0, 0), 6.0)
        blobs = (local[inner] < -12).mean()
        assert blobs <= 0.04, f"{stem}: {blobs:.3f} of the new skin are dark blobs (copied features)"


def test_bald_gives_the_background_back_where_long_hair_hung_beside_the_face(samples_dir):
    """Long hair beside the neck and over the shoulders becomes what is behind it (background, cloth, neck), not
    skin: new skin stays within the convex outline of the cranium and the face (the nearest class overall made a
    skin-coloured halo around the face)."""
    from smile_studio.core.labels import ClassId as C

    for stem in ("maskgan_2", "e4s_28426"):
        lab = cv2.resize(read_label_map(samples_dir / f"{stem}.png").labels, (256, 256),
                         interpolation=cv2.INTER_NEAREST)
        out = OfflineLayoutEngine().edit(LayoutRequest(lab, attributes_from_map(lab), {"bald": "on"}, seed=1)).labels
        assert not (out == C.HAIR).any()
        face = np.isin(lab, (C.SKIN, C.NOSE, C.L_EYE, C.R_EYE, C.L_BROW, C.R_BROW, C.U_LIP, C.L_LIP, C.MOUTH))
        jaw = int(np.nonzero(face)[0].max())
        hanging = (lab == C.HAIR) & (np.arange(256)[:, None] > jaw)  # hair below the chin: never skin
        assert hanging.sum() > 500, stem
        assert np.isin(out[hanging], (C.BACKGROUND, C.CLOTH, C.NECK)).all(), stem
        assert ((out == C.SKIN) & (lab == C.HAIR)).sum() < 0.5 * (lab == C.HAIR).sum()


def test_glasses_on_a_turned_head_have_a_narrower_far_lens_and_no_far_temple(samples_dir):
    """A face turned to its right (image left): that side of the map seen at an angle, squeezed to 45 %, and the
    nose's tip, which stands out of the face, moved towards it. The far lens is drawn narrower and its temple,
    behind the head, left out; the near side is as on a frontal face."""
    from smile_studio.core.labels import ClassId as C
    from smile_studio.engines.offline import add_eyeglasses
    from smile_studio.face.geometry import measure

    frontal = cv2.resize(read_label_map(samples_dir / "maskgan_1.png").labels, (256, 256),
                         interpolation=cv2.INTER_NEAREST)
    g0 = measure(frontal)
    cx = g0.cx
    xs = np.arange(256, dtype=np.float32)
    source_x = np.where(xs < cx, cx - (cx - xs) / 0.45, xs)  # the image-left half squeezed to 45 %
    map_x = np.repeat(source_x[None], 256, 0)
    map_y = np.repeat(np.arange(256, dtype=np.float32)[:, None], 256, 1)
    turned = cv2.remap(frontal, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    nose = turned == C.NOSE
    turned[nose] = C.SKIN
    turned[np.roll(nose, -int(0.2 * g0.eye_dist), axis=1)] = C.NOSE

    def lens_widths(lab):
        g = measure(lab)
        out, _ = add_eyeglasses(lab, g, np.random.default_rng(3), 0.0)
        glasses = out == C.EYE_G
        widths = []
        for ex, ey in (g.eye_r, g.eye_l):
            band = glasses[int(ey) - 2:int(ey) + 3]  # the rims' sides at the eye's height
            cols = np.nonzero(band.any(0))[0]
            near = cols[np.abs(cols - ex) < 0.6 * g.eye_dist]
            widths.append(near.max() - near.min())
        return widths, glasses, g

    (far0, near0), _, _ = lens_widths(frontal)
    (far, near), glasses, g = lens_widths(turned)
    assert abs(far0 - near0) <= 0.25 * near0  # frontal: lenses alike
    assert far < 0.75 * near and abs(near - near0) <= 0.2 * near0
    left_of_far_lens = glasses[:, :int(g.eye_r[0] - far / 2 - 4)]
    assert not left_of_far_lens.any()  # no temple behind the head
    assert glasses[:, int(g.eye_l[0] + near / 2 + 4):].any()  # the near temple is there
