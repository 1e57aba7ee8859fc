"""The photo pipeline: detect and align the face, then parse it — with the official BiSeNet parser when its
weights are installed, with the offline template parser otherwise."""

from __future__ import annotations

import functools
import logging

import cv2
import numpy as np

from ..core.labels import from_bisenet
from ..weights import checkpoint_path
from .heuristic import NoFaceDetected, ParsedFace, align, template_map
from .landmarks import detect_faces

__all__ = ["NoFaceDetected", "ParsedFace", "parse_face", "parser_name"]
log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _bisenet(path: str):
    from ..nets.parser import BiSeNet

    net = BiSeNet(19)
    net.load_official(path)
    return net.eval()


def parser_name() -> str:
    return "BiSeNet (official weights)" if checkpoint_path("bisenet").is_file() else \
        "offline template parser (Haar cascades + face template + GrabCut)"


def bisenet_parse(crop: np.ndarray, path: str) -> np.ndarray:
    """The demo's parsing: 512x512 bilinear, ImageNet normalisation, main head, bilinear back, argmax, relabel."""
    import torch
    import torch.nn.functional as F

    from ..nets.parser import normalise_rgb
    from ..nets.runtime import image_tensor

    size = crop.shape[0]
    x = image_tensor(crop) / 255.0
    with torch.no_grad():
        logits = _bisenet(path)(normalise_rgb(F.interpolate(x, (512, 512), mode="bilinear")))[0]
        logits = F.interpolate(logits, (size, size), mode="bilinear")
    return from_bisenet(logits.argmax(1)[0].numpy()).astype(np.uint8)


def parse_face(rgb: np.ndarray, size: int = 256, eyes=None, face_index: int = 0,
               points: np.ndarray | None = None) -> ParsedFace:
    """Detect (or use the ``eyes`` a user placed, or a tracker smoothed, with its 68 ``points`` if any), align and
    parse; NoFaceDetected when no face is found. ``face_index``: which face of a photo with several (0 = the
    largest)."""
    count = 1
    if eyes is None:
        face, count = detect_faces(rgb, face_index)
        eyes, points = face.eyes, face.points
    eye_r, eye_l = eyes
    crop, back = align(rgb, eye_r, eye_l, size)
    if points is not None:  # the landmarks in the crop's coordinates
        to_crop = cv2.invertAffineTransform(back)
        points = points @ to_crop[:, :2].T + to_crop[:, 2]
    weights = checkpoint_path("bisenet")
    labels, method = None, "offline template parser"
    if weights.is_file():
        try:
            labels, method = bisenet_parse(crop, str(weights)), "BiSeNet"
        except Exception as exc:  # noqa: BLE001 - an unusable optional file must not block photo editing
            log.warning("face parser weights unusable, using the offline parser: %s", exc)
            method = f"offline template parser (BiSeNet weights unusable: {exc})"
    if labels is None:
        labels = template_map(crop, points)
        method += " with landmarks" if points is not None else ""
    return ParsedFace(crop, labels, back, (tuple(eye_r), tuple(eye_l)), method, count)
