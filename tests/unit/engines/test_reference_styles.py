"""Reference styles on real photos, offline renderer: a skin restyled from a reference leaves no seam at the nose,
ears and neck and no outline of its old tone round the brows; hair restyled from a reference has no saturated
rim along its edge."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from smile_studio.core.document import Reference, StyleSource, carried_styles
from smile_studio.core.labels import NUM_CLASSES, SKIN_TONED
from smile_studio.core.labels import ClassId as C
from smile_studio.engines.base import RenderRequest
from smile_studio.engines.colour_move import rgb_to_lab
from smile_studio.engines.exemplar import ExemplarRenderEngine


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path))  # the offline parser, whatever is installed


def _open(path):
    from smile_studio.opening import open_document

    return open_document(path, 256)


def _styled(face, ref, classes):
    styles = [StyleSource()] * NUM_CLASSES
    for c in classes:
        styles[c] = StyleSource("reference", ref="r")
    req = RenderRequest(face.labels, face.photo, face.source_labels, tuple(styles),
                        (Reference("r", "r", ref.photo, ref.labels),), exact=True)
    return ExemplarRenderEngine().render(req)


def _lab(rgb, mask):
    return rgb_to_lab(rgb[mask].reshape(-1, 1, 3)).reshape(-1, 3)


def test_the_nose_ears_and_neck_follow_a_restyled_skin():
    styles = [StyleSource()] * NUM_CLASSES
    styles[C.SKIN] = StyleSource("seed", seed=4)
    styles[C.NECK] = StyleSource("seed", seed=9)  # a style of its own stays
    carried = carried_styles(styles)
    assert all(carried[c] == styles[C.SKIN] for c in SKIN_TONED if c != C.NECK)
    assert carried[C.NECK] == styles[C.NECK] and carried[C.HAIR] == StyleSource()
    assert RenderRequest(np.zeros((4, 4), np.uint8), styles=tuple(styles)).styles == carried
    assert carried_styles([StyleSource()] * NUM_CLASSES) == (StyleSource(),) * NUM_CLASSES
    styles[C.NOSE] = StyleSource(locked=True)  # the user kept the photo's own nose
    assert carried_styles(styles)[C.NOSE] == StyleSource(locked=True)


def test_a_skin_reference_leaves_no_seam_at_the_nose_and_no_old_tone_round_the_brows(samples_dir, offline):
    face = _open(samples_dir / "maskgan_0.jpg")
    ref = _open(samples_dir / "smile_ffhq_teaser" / "69033.png")  # a darker, warmer skin
    out = _styled(face, ref, (C.SKIN,))
    lab = face.labels
    skin_before, skin_after = np.median(_lab(face.photo, lab == C.SKIN), 0), np.median(_lab(out, lab == C.SKIN), 0)
    shift = skin_after[0] - skin_before[0]
    assert shift < -15, shift  # the skin did take the reference's tone
    for c in (C.NOSE, C.NECK):
        gap_before = np.median(_lab(face.photo, lab == c), 0) - skin_before
        gap_after = np.median(_lab(out, lab == c), 0) - skin_after
        # the nose keeps its shade relative to the cheek (left in the photo's tone, it was 27 L lighter)
        assert np.abs(gap_after - gap_before).max() < 8, (c, gap_before, gap_after)
    # no ring of the old, lighter tone round the brows (37 pixels of their border were, before the parse's rim of
    # skin in the brows' label followed the skin and the border stopped blending with the old skin under it)
    brows = np.isin(lab, (C.L_BROW, C.R_BROW)).astype(np.uint8)
    k = np.ones((5, 5), np.uint8)
    border = (cv2.dilate(brows, k) - cv2.erode(brows, k)).astype(bool) & np.isin(lab, (C.L_BROW, C.R_BROW, C.SKIN))
    assert border.sum() > 500
    assert (_lab(out, border)[:, 0] > skin_after[0] + 10).sum() <= 5
    # and the brows themselves (dark, inside their label) are kept: only their skin-coloured pixels follow
    core = cv2.erode(brows, np.ones((5, 5), np.uint8)).astype(bool)
    change = np.abs(out[core].astype(int) - face.photo[core]).max(1)
    assert np.median(change) <= 1 and np.percentile(change, 80) <= 3, np.percentile(change, (50, 80))


def test_hair_from_a_reference_has_no_saturated_rim(samples_dir, offline):
    face = _open(samples_dir / "e4s_28297.jpg")  # short black hair
    ref = _open(samples_dir / "smile_ffhq_teaser" / "71Tyrese-Gibson.jpg")  # a light brown crop
    out = _styled(face, ref, (C.HAIR,))
    hair = (face.labels == C.HAIR).astype(np.uint8)
    inner = cv2.erode(hair, np.ones((7, 7), np.uint8)).astype(bool)
    edge = hair.astype(bool) & ~cv2.erode(hair, np.ones((5, 5), np.uint8)).astype(bool)
    lab = rgb_to_lab(out)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    assert np.median(lab[inner][:, 0]) > 20  # the black hair did take the lighter colour
    # edge pixels half the skin's were moved as if hair: their chroma shot past all of the hair's own
    assert np.percentile(chroma[edge], 95) < np.percentile(chroma[inner], 99) + 3, (
        np.percentile(chroma[edge], 95), np.percentile(chroma[inner], 99))
