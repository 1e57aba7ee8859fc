"""SMILE_SYN 512 for large faces: chosen when installed and the photo's face is at least 512 px, fed a crop
taken afresh from the original photo, composited back, and recorded in the export's settings."""

import json

import cv2
import numpy as np
import pytest

from smile_studio.engines.base import RenderRequest, for_the_photo, photo_render_side
from smile_studio.opening import pixel_scale


def test_the_large_side_is_used_only_for_faces_that_large():
    assert photo_render_side(None, 256, pixel_scale(4, 4)) == 256  # no large generator installed
    assert photo_render_side(512, 256, pixel_scale(4, 4)) == 512  # a 1024-px face
    assert photo_render_side(512, 256, pixel_scale(2, 2)) == 512  # exactly 512
    assert photo_render_side(512, 256, pixel_scale(1.5, 1.5)) == 256  # 384 px: nothing to gain
    assert photo_render_side(512, 256, None) == 256  # no photo


@pytest.mark.slow
def test_a_large_face_renders_at_512_from_a_fresh_crop_and_goes_back_into_the_photo(golden_dir, samples_dir):
    from smile_studio.engines.exemplar import ExemplarRenderEngine
    from smile_studio.engines.neural import NeuralRenderEngine
    from smile_studio.export import bundle_files
    from smile_studio.face.composite import paste_edit
    from smile_studio.nets.golden import synth_state_dict
    from smile_studio.opening import open_document

    m = golden_dir / "manifests"
    large = NeuralRenderEngine.from_source({"g_ema": synth_state_dict(m / "syn512_G.json", 1)}, device="cpu",
                                           precision="exact")
    engine = NeuralRenderEngine.from_source({"g_ema": synth_state_dict(m / "syn256_G.json", 1)}, device="cpu",
                                            large=large)
    assert engine.large_side == 512 and ExemplarRenderEngine().large_side is None
    doc = open_document(samples_dir / "maskgan_0.jpg", 256, samples_dir / "maskgan_0.png")
    labels = doc.labels.copy()
    labels[60:80, 100:160] = 14  # a hat band: an edit
    base = RenderRequest(labels, doc.photo, doc.source_labels, size=256)
    req = for_the_photo(base, engine, doc.original, doc.alignment)
    assert req.exact and req.size == 512 and req.photo.shape == (512, 512, 3)
    fresh = cv2.resize(doc.original, (512, 512), interpolation=cv2.INTER_AREA)
    assert np.abs(req.photo.astype(int) - fresh.astype(int)).mean() < 2  # the original's own 512 pixels
    assert for_the_photo(base, ExemplarRenderEngine(), doc.original, doc.alignment).size == 256
    image = engine.render(req)
    assert image.shape == (512, 512, 3) and np.array_equal(image, large.render(req))
    assert np.array_equal(engine.render_many([req])[0], image)  # batched renders take the 512 engine too
    assert engine.render(base).shape == (256, 256, 3)  # previews stay at 256
    out = paste_edit(doc.original, image, doc.alignment, doc.source_labels, labels)
    changed = np.zeros((1024, 1024), bool)
    changed[240:320, 400:640] = True
    far = cv2.distanceTransform((~changed).astype(np.uint8), cv2.DIST_L2, 5) > 64
    assert out.shape == doc.original.shape and np.array_equal(out[far], doc.original[far])
    assert (out[250:310, 420:620] != doc.original[250:310, 420:620]).any(-1).mean() > 0.9
    doc.labelmap.labels[:] = labels
    settings = json.loads(bundle_files(doc, image, {"render": engine.description})["settings.json"])
    assert settings["render_size"] == 512 and settings["size"] == 256


def test_a_crop_reduced_far_is_averaged_not_aliased():
    from smile_studio.face.align import crop_at_side

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (2048, 2048, 3), dtype=np.uint8)  # a face of 2048 px: reduced 4x to 512
    crop = crop_at_side(photo, pixel_scale(8, 8), 256, 512)
    averaged = cv2.resize(photo, (512, 512), interpolation=cv2.INTER_AREA)
    assert np.abs(crop.astype(int) - averaged.astype(int)).mean() < 1.5
    assert crop.std() < 1.2 * averaged.std()  # bilinear sampling alone keeps about twice the noise


def test_a_damaged_512_file_leaves_smile_at_256(tmp_path, monkeypatch):
    from smile_studio.engines import registry
    from smile_studio.weights import checkpoint_path

    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))
    checkpoint_path("syn512").write_bytes(b"not a checkpoint")
    assert registry._large_engine() is None
