"""Finding faces and their 68 landmarks in any photo: upright or rotated by a quarter turn, large or small.

The detector is dlib's HOG frontal-face detector with its 68-point shape predictor (the ``dlib-bin`` and
``face-recognition-models`` packages: 20-600 ms per photo on a CPU, confidence scores, no network), searching
upright photos at the scale where the smallest face worth editing fills its window (all six faces of 90-130 px
in a 1280-px group photo); where it finds nothing, dlib's CNN detector (same packages) looks again; OpenCV's
Haar cascades remain the fallback where dlib is unavailable (eye centres only). A face found in no orientation is
NoFaceDetected; so is a face too small to edit.

Point order (iBUG 68): 0-16 jaw, 17-21 the image-left brow, 22-26 the image-right brow, 27-35 nose, 36-41 the
image-left eye (the subject's right), 42-47 the image-right eye, 48-59 outer lips, 60-67 inner lips.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .geometry import NoFaceDetected

MIN_FACE = 64  # px: a smaller face has too few pixels to edit
DETECT_SIDE = 640  # faces are looked for in a copy no larger than this (the landmarks use the full photo)
MIN_SCORE = 0.0  # dlib's detection score; below it a detection is not reported at all
MAX_FACES = 8  # the most faces given landmarks in one photo
CONFIDENT = 0.2  # below this, the best face is not trusted: the user places the eyes (samples score 2.0-2.8)


@dataclass(frozen=True)
class Face:
    eyes: tuple[tuple[float, float], tuple[float, float]]  # (image-left = subject's right, image-right) centres
    points: np.ndarray | None  # (68, 2) in the photo's coordinates, or None (Haar fallback: eyes only)
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    score: float
    quarter_turns: int  # how the photo was turned for the face to be upright (0-3, counter-clockwise)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]


def _dlib_model(name: str) -> Path | None:
    """A model file of the face-recognition-models package, when it and a working dlib are installed."""
    try:
        import dlib  # noqa: F401 - a dlib that fails to import counts as not installed
    except ImportError:
        return None
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        return None
    model = Path(spec.origin).parent / "models" / name
    return model if model.is_file() else None


@functools.lru_cache(maxsize=1)
def _dlib():
    """(detector, shape predictor), or None when dlib or its landmark model is not installed."""
    model = _dlib_model("shape_predictor_68_face_landmarks.dat")
    if model is None:
        return None
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(model))


def _fa_files() -> tuple[Path, Path] | None:
    """face-alignment's S3FD and 2DFAN-4 files when the weights manager installed them (else None)."""
    from ..weights import checkpoint_path

    s3fd, fan = checkpoint_path("s3fd"), checkpoint_path("fan68")
    return (s3fd, fan) if s3fd.is_file() and fan.is_file() else None


@functools.lru_cache(maxsize=2)
def _fa_model(s3fd: Path, fan: Path, stamp: tuple):
    """face-alignment built from our own files only: torch.hub is pointed at our hub folder while it loads (the
    file is there, so nothing is downloaded) and compile=False (no minutes of compilation on a CPU)."""
    import face_alignment
    import torch.hub

    before = torch.hub.get_dir()
    torch.hub.set_dir(str(fan.parent.parent))
    try:
        return face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, device="cpu", face_detector="sfd",
                                            face_detector_kwargs={"path_to_detector": str(s3fd)}, compile=False,
                                            flip_input=False)
    finally:
        torch.hub.set_dir(before)


def _fa():
    files = _fa_files()
    if files is None:
        return None
    try:
        return _fa_model(*files, tuple(f.stat().st_mtime_ns for f in files))
    except Exception as exc:  # noqa: BLE001 - damaged files: dlib serves instead, and says so in the log
        import logging

        logging.getLogger(__name__).warning("face-alignment files unusable, using dlib: %s", exc)
        return None


def landmarker_name() -> str:
    if _fa() is not None:
        return "face-alignment (S3FD + 2DFAN-4)"
    return "dlib 68-point landmarks" if _dlib() is not None else "OpenCV Haar cascades (eyes only)"


def _fa_faces(fa, rgb: np.ndarray, k: int) -> list[Face]:
    """S3FD on a copy no larger than DETECT_SIDE (its cost grows with the pixels), the 2DFAN-4 landmarks on the
    photo itself for the best few boxes."""
    img = np.ascontiguousarray(np.rot90(rgb, k))
    scale = min(1.0, DETECT_SIDE / max(img.shape[:2]))
    small = img if scale == 1.0 else cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                                                interpolation=cv2.INTER_AREA)
    boxes = [np.asarray(b, np.float64) for b in fa.face_detector.detect_from_image(small.copy())]
    boxes = sorted(boxes, key=lambda b: -b[4])[:MAX_FACES]
    if not boxes:
        return []
    boxes = [np.concatenate([b[:4] / scale, b[4:]]) for b in boxes]
    landmarks = fa.get_landmarks_from_image(img, detected_faces=boxes) or []
    faces = []
    for pts, box in zip(landmarks, boxes, strict=False):
        pts = _unrotate(np.asarray(pts, np.float64)[:, :2], k, rgb.shape[:2])
        corners = _unrotate(np.array([box[:2], box[2:4]], np.float64), k, rgb.shape[:2])
        (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
        faces.append(Face((tuple(pts[36:42].mean(0)), tuple(pts[42:48].mean(0))), pts, (x0, y0, x1, y1),
                          float(box[4]), k))
    return faces


def detection_scale(shape: tuple[int, int]) -> float:
    """How much to resize a photo for dlib's HOG detector (80-px window) to see its smallest face worth
    editing: MIN_FACE px in photos up to 1600 px, a 25th of the long side in larger ones (a 12-Mpx photo is
    searched at 2000 px: faces of 160 px and more)."""
    smallest = max(MIN_FACE, max(shape) / 25)
    return 80 / smallest


def _dlib_faces(models, rgb: np.ndarray, k: int, thorough: bool = True) -> list[Face]:
    detector, predictor = models

    img = np.ascontiguousarray(np.rot90(rgb, k))
    # upright, at the scale where the smallest face worth finding fills the detector's 80-px window (faces of
    # group photos are small), then at full size if that found none (one small face in a large photo);
    # turned by a quarter, where only a phone's sideways portrait is expected, small
    quick = min(1.0, (2 if k == 0 else 1) * DETECT_SIDE / max(img.shape[:2]))
    first = detection_scale(img.shape[:2]) if k == 0 and thorough else quick
    rects, scores, scale = [], [], 1.0
    for wanted in (first, 1.0) if first < 1 and k == 0 and thorough else (first,):
        upsample = 1 if wanted > 1 else 0  # dlib doubles the image itself (keeping its HOG cells sharp)
        scale = wanted / 2 if upsample else wanted
        small = img if scale == 1.0 else cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                                                    interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        rects, scores, _ = detector.run(small, upsample, MIN_SCORE)
        if len(rects):
            break
    return _with_landmarks(predictor, img, rects, scores, scale, k, rgb.shape[:2])


def _with_landmarks(predictor, img: np.ndarray, rects, scores, scale: float, k: int,
                    shape: tuple[int, int]) -> list[Face]:
    """Faces from detections in ``img`` resized by ``scale`` (``img`` is the photo turned by ``k`` quarters):
    the 68 points found on the full-size ``img``, everything given in the photo's coordinates."""
    import dlib

    faces = []
    for r, score in zip(rects, scores, strict=True):
        box = dlib.rectangle(round(r.left() / scale), round(r.top() / scale), round(r.right() / scale),
                             round(r.bottom() / scale))
        part = predictor(img, box)
        pts = _unrotate(np.array([(part.part(i).x, part.part(i).y) for i in range(68)], np.float64), k, shape)
        corners = _unrotate(np.array([[box.left(), box.top()], [box.right(), box.bottom()]], np.float64), k, shape)
        (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
        eyes = (tuple(pts[36:42].mean(0)), tuple(pts[42:48].mean(0)))
        faces.append(Face(eyes, pts, (x0, y0, x1, y1), float(score), k))
    return faces


@functools.lru_cache(maxsize=1)
def _mmod():
    """dlib's CNN face detector (max-margin object detection; its weights ship in face-recognition-models),
    or None where it is not installed."""
    model = _dlib_model("mmod_human_face_detector.dat")
    if model is None:
        return None
    import dlib

    return dlib.cnn_face_detection_model_v1(str(model))


def _mmod_faces(detector, predictor, rgb: np.ndarray) -> list[Face]:
    """The CNN detector on an upright copy no larger than DETECT_SIDE: it finds the tilted, turned and
    half-hidden faces the HOG detector misses (a face behind large sunglasses, tilted 20 degrees), at about
    2 s per photo on two cores, so it runs only when the HOG detector found nothing."""
    scale = min(1.0, DETECT_SIDE / max(rgb.shape[:2]))
    small = rgb if scale == 1.0 else cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
                                                interpolation=cv2.INTER_AREA)
    found = detector(np.ascontiguousarray(small), 0)
    return _with_landmarks(predictor, np.ascontiguousarray(rgb), [d.rect for d in found],
                           [d.confidence for d in found], scale, 0, rgb.shape[:2])


def dlib_faces(rgb: np.ndarray) -> list[Face]:
    """The upright faces dlib finds, with their 68 points (no fallback: RuntimeError when dlib or its landmark
    model is not installed). What a bundle's self-test proves it ships."""
    models = _dlib()
    if models is None:
        raise RuntimeError("dlib or its 68-point landmark model (face-recognition-models) is not installed")
    return _dlib_faces(models, rgb, 0)


def _unrotate(points: np.ndarray, k: int, shape: tuple[int, int]) -> np.ndarray:
    """Coordinates in ``np.rot90(img, k)`` -> coordinates in ``img`` (height, width = ``shape``)."""
    h, w = shape
    x, y = points[:, 0], points[:, 1]
    k %= 4
    if k == 0:
        return points.copy()
    if k == 1:  # rot90 ccw: new (x', y') = (y, w - 1 - x)  =>  x = w - 1 - y', y = x'
        return np.stack([w - 1 - y, x], axis=1)
    if k == 2:
        return np.stack([w - 1 - x, h - 1 - y], axis=1)
    return np.stack([y, h - 1 - x], axis=1)  # k == 3: new (x', y') = (h - 1 - y, x)


def find_faces(rgb: np.ndarray, thorough: bool = True) -> list[Face]:
    """Every face found, largest first: upright if any is found upright, else in the quarter turn where the
    detector is most confident (photos from phones are often stored sideways). ``thorough=False`` (video
    frames, many per second): one search at up to 1280 px and no second look by the CNN detector."""
    fa, dl = _fa(), _dlib()  # resolved once per photo, not per orientation
    if fa is None and dl is None:
        return [_haar_face(rgb)]
    best: list[Face] = []
    for k in (0, 1, 3, 2):
        faces = _fa_faces(fa, rgb, k) if fa is not None else _dlib_faces(dl, rgb, k, thorough)
        if faces and (not best or max(f.score for f in faces) > max(f.score for f in best)):
            best = faces
        if best and k == 0 and max(f.score for f in best) > 0.5:
            break  # a confident upright face: no need to look sideways
    unsure = not best or max(f.score for f in best) < CONFIDENT
    if thorough and fa is None and unsure and _mmod() is not None:
        best = _mmod_faces(_mmod(), dl[1], rgb) or best
    if not best:
        raise NoFaceDetected("no face was detected in this photo (upright or turned)")
    if max(f.score for f in best) < CONFIDENT:
        raise NoFaceDetected(f"no face was found with confidence (best score {max(f.score for f in best):.2f}): "
                             "the face may be tilted far or partly hidden")
    return sorted(best, key=lambda f: -f.width)


def detect_face(rgb: np.ndarray, index: int = 0) -> Face:
    """The ``index``-th largest face; NoFaceDetected when there is none or it is too small to edit."""
    return detect_faces(rgb, index)[0]


def detect_faces(rgb: np.ndarray, index: int = 0, thorough: bool = True) -> tuple[Face, int]:
    """(the ``index``-th largest face, how many faces the photo has); see :func:`detect_face` and, for
    ``thorough``, :func:`find_faces`."""
    faces = find_faces(rgb, thorough)
    if index >= len(faces):
        raise NoFaceDetected(f"the photo has {len(faces)} face(s); there is no face number {index + 1}")
    face = faces[index]
    eye_dist = float(np.hypot(*np.subtract(face.eyes[1], face.eyes[0])))
    if face.width < MIN_FACE or eye_dist < MIN_FACE * 0.3:
        raise NoFaceDetected(f"the face is only {face.width:.0f} px wide; at least {MIN_FACE} px are needed "
                             "to edit it (use a larger photo)")
    return face, len(faces)


def _haar_face(rgb: np.ndarray) -> Face:
    from .heuristic import detect_eyes

    er, el = detect_eyes(rgb)
    d = float(np.hypot(el[0] - er[0], el[1] - er[1]))
    cx, cy = (er[0] + el[0]) / 2, (er[1] + el[1]) / 2
    return Face((tuple(er), tuple(el)), None, (cx - 1.0 * d, cy - 0.8 * d, cx + 1.0 * d, cy + 1.8 * d), 0.0, 0)
