"""Finding the face in photos as people take them: padded, tilted, sideways, upside down, enlarged, several
faces, a face too small, no face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from smile_studio.core.imageio import read_image
from smile_studio.face.geometry import NoFaceDetected
from smile_studio.face.heuristic import eye_alignment
from smile_studio.face.landmarks import detect_face, find_faces, landmarker_name


def _transforms(h: int, w: int) -> dict:
    c = (w / 2, h / 2)
    return {
        "tilted +15": (cv2.getRotationMatrix2D(c, 15, 1.0), (w, h)),
        "tilted -15": (cv2.getRotationMatrix2D(c, -15, 1.0), (w, h)),
        "sideways": (np.array([[0, 1, 0], [-1, 0, w - 1]], float), (h, w)),
        "upside down": (np.array([[-1, 0, w - 1], [0, -1, h - 1]], float), (w, h)),
        "padded": (np.array([[1, 0, w * 0.6], [0, 1, h * 0.4]], float), (int(w * 2.2), int(h * 1.9))),
        "x3": (np.array([[3, 0, 0], [0, 3, 0]], float), (w * 3, h * 3)),
    }


@pytest.mark.parametrize("stem", ["maskgan_1", "e4s_28426"])
def test_unaligned_photos_align_within_three_pixels_of_the_sample_s_own_crop(samples_dir, stem):
    assert landmarker_name().startswith("dlib")
    rgb = read_image(samples_dir / f"{stem}.jpg")
    h, w = rgb.shape[:2]
    er, el = (np.array(e) for e in detect_face(rgb).eyes)
    crop_scale = np.hypot(*eye_alignment(er, el, 256)[0, :2])  # photo px -> crop px
    for name, (m, size) in _transforms(h, w).items():
        img = cv2.warpAffine(rgb, m, size, flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128))
        face = detect_face(img)
        back = cv2.invertAffineTransform(m)
        found = [back @ np.array([*e, 1.0]) for e in face.eyes]
        err = max(np.hypot(*(found[0] - er)), np.hypot(*(found[1] - el))) * crop_scale
        assert err <= 3.0, f"{name}: eyes {err:.1f} px from the sample's own crop"


def test_a_face_too_small_and_no_face_are_clear_refusals(samples_dir):
    rgb = read_image(samples_dir / "maskgan_1.jpg")
    canvas = np.full((600, 600, 3), 90, np.uint8)
    canvas[300:360, 300:360] = cv2.resize(rgb, (60, 60), interpolation=cv2.INTER_AREA)
    with pytest.raises(NoFaceDetected, match="face|confidence"):
        detect_face(canvas)
    tiny = cv2.resize(rgb, (80, 80), interpolation=cv2.INTER_AREA)  # found, but its box is ~52 px wide
    with pytest.raises(NoFaceDetected, match="at least 64 px"):
        detect_face(np.pad(tiny, ((100, 100), (100, 100), (0, 0)), constant_values=128))
    group = np.full((3000, 4000, 3), 128, np.uint8)  # one small face in a large photo: found at full size
    group[1000:1200, 1000:1200] = cv2.resize(rgb, (200, 200), interpolation=cv2.INTER_AREA)
    assert 1000 < detect_face(group).box[0] < 1200
    with pytest.raises(NoFaceDetected, match="no face"):
        detect_face(np.random.default_rng(0).integers(0, 255, (400, 500, 3), dtype=np.uint8))


def test_several_faces_largest_first_and_any_one_selectable(samples_dir, tmp_path):
    from smile_studio.cli import main

    a = read_image(samples_dir / "maskgan_1.jpg")
    b = cv2.resize(read_image(samples_dir / "e4s_28426.jpg"), (600, 600), interpolation=cv2.INTER_AREA)
    group = np.full((1024, 1700, 3), 200, np.uint8)
    group[:, :1024] = a
    group[200:800, 1080:1680] = b
    faces = find_faces(group)
    assert len(faces) == 2 and faces[0].box[0] < 1024 < faces[1].box[0] and faces[0].width > faces[1].width
    assert detect_face(group, 1).eyes == faces[1].eyes
    with pytest.raises(NoFaceDetected, match="no face number 3"):
        detect_face(group, 2)
    path = tmp_path / "group.png"
    cv2.imwrite(str(path), cv2.cvtColor(group, cv2.COLOR_RGB2BGR))
    out = tmp_path / "o.png"
    assert main(["edit", str(path), "--face", "2", "--set", "eyeglasses=on", "--out", str(out)]) == 0
    changed = np.abs(read_image(out).astype(int) - group.astype(int)).max(-1) > 0
    assert changed[:, 1080:].sum() > 500 and changed[:, :1024].sum() == 0  # only the second face was edited


@pytest.mark.slow
def test_face_alignment_is_used_only_from_installed_files_without_downloading_or_compiling(tmp_path, monkeypatch,
                                                                                          samples_dir):
    """With the weights manager's S3FD and 2DFAN-4 files (here with synthetic weights) face-alignment is the
    landmarker, built with compile=False from our hub folder; no download is ever attempted."""
    import torch
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    import smile_studio.face.landmarks as lm

    hub = tmp_path / "w" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    monkeypatch.setenv("SMILE_STUDIO_WEIGHTS", str(tmp_path / "w"))
    assert lm._fa() is None and lm.landmarker_name().startswith("dlib")
    torch.manual_seed(0)
    torch.save(s3fd().state_dict(), hub / "s3fd-619a316812.pth")
    torch.save(FAN(4).state_dict(), hub / "2DFAN4-11f355bf06.pth.tar")

    def no_network(*args, **kwargs):
        raise AssertionError("a download was attempted")

    def no_compile(*args, **kwargs):
        raise AssertionError("torch.compile was called")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(torch, "compile", no_compile)
    import face_alignment.utils

    if hasattr(face_alignment.utils, "download_url_to_file"):
        monkeypatch.setattr(face_alignment.utils, "download_url_to_file", no_network)
    lm._fa_model.cache_clear()
    before = torch.hub.get_dir()
    assert lm.landmarker_name() == "face-alignment (S3FD + 2DFAN-4)"
    assert torch.hub.get_dir() == before  # the hub folder is ours only while loading
    rgb = cv2.resize(read_image(samples_dir / "maskgan_1.jpg"), (256, 256), interpolation=cv2.INTER_AREA)
    try:  # synthetic weights find nothing or nonsense: the point is that it runs offline
        faces = lm.find_faces(rgb)
        assert all(f.points.shape == (68, 2) for f in faces)
    except NoFaceDetected:
        pass
    lm._fa_model.cache_clear()


def _group_photo(teaser_dir) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """A 1280x886 group photo of six faces of 90-130 px, tilted by 12-32 degrees (some laughing, some in
    glasses or a hat), made from the FFHQ teaser crops; and the faces' centres."""
    rng = np.random.default_rng(0)
    h, w = 886, 1280
    yy, xx = np.mgrid[0:h, 0:w]
    canvas = np.dstack([90 + 60 * xx / w, 110 + 40 * yy / h, 120 + 0 * xx]).astype(np.float32)
    canvas += cv2.GaussianBlur(rng.normal(0, 25, (h, w, 3)).astype(np.float32), (0, 0), 9)
    people = [("69015", 190, -25, (180, 260)), ("69042", 230, 12, (480, 330)), ("69048", 170, 30, (770, 240)),
              ("69459", 210, -15, (1080, 300)), ("69572", 200, 20, (330, 640)), ("69620", 180, -32, (860, 630))]
    for name, side, tilt, (cx, cy) in people:
        img = cv2.resize(read_image(teaser_dir / f"{name}.png"), (side, side), interpolation=cv2.INTER_AREA)
        mask = np.zeros((side, side), np.float32)
        cv2.ellipse(mask, (side // 2, side // 2), (int(side * 0.46), int(side * 0.5)), 0, 0, 360, 1, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), side * 0.03)
        m = cv2.getRotationMatrix2D((side / 2, side / 2), tilt, 1.0)
        m[:, 2] += (cx - side / 2, cy - side / 2)
        alpha = cv2.warpAffine(mask, m, (w, h))[..., None]
        canvas = canvas * (1 - alpha) + cv2.warpAffine(img.astype(np.float32), m, (w, h)) * alpha
    return np.clip(canvas, 0, 255).astype(np.uint8), [p[3] for p in people]


def test_every_face_of_a_group_photo_is_found(samples_dir):
    """Small tilted faces: searched at the scale where a 64-px face fills the detector's window (a search
    that stopped at 640 px found 4 of these 6)."""
    photo, centres = _group_photo(samples_dir / "smile_ffhq_teaser")
    faces = find_faces(photo)
    assert len(faces) == 6
    for cx, cy in centres:
        (face,) = [f for f in faces if f.box[0] < cx < f.box[2] and f.box[1] < cy < f.box[3]]
        assert face.width >= 64
        assert np.hypot(*np.subtract(face.eyes[1], face.eyes[0])) > 30  # its 68 points fit: eyes apart


def test_every_teaser_photo_in_the_wild_has_its_face_found(samples_dir):
    """Unaligned photos of several sizes, among them a tilted face behind large sunglasses that only the CNN
    detector finds."""
    from smile_studio.face import landmarks

    for path in sorted((samples_dir / "smile_ffhq_teaser").iterdir()):
        faces = find_faces(read_image(path))
        assert faces[0].width >= 64, path.name
    glasses = read_image(samples_dir / "smile_ffhq_teaser" / "75s3.reutersmedia.net.jpeg")
    hog = landmarks._dlib_faces(landmarks._dlib(), glasses, 0)
    assert not hog or max(f.score for f in hog) < landmarks.CONFIDENT  # HOG alone: not confident
    face = find_faces(glasses)[0]
    assert 600 < face.width < 1200 and 700 < face.eyes[0][0] < face.eyes[1][0] < 2000
