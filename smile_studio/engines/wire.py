"""The engines' requests and results on a wire (``smile-studio serve`` and the remote engines): JSON documents
whose arrays travel as PNG images (label maps and photos: lossless and a fraction of their raw size) with the
shape they must have; never pickles.

Every field is checked on the way in, and a bad one is a :class:`WireError` whose text is one sentence for the
user (the server answers it with a 4xx status): a map or photo that is not a PNG of the right shape, a label
past the 19 classes, a side past MAX_SIDE, too many variations or references, an unknown attribute or style.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping

import cv2
import numpy as np

from ..core.document import Reference, StyleSource
from ..core.labels import NUM_CLASSES
from .base import LayoutRequest, LayoutResult, RenderRequest
from .cache import array_digest, lru_get

MAX_SIDE = 1024  # a map's or an aligned photo's side (SMILE renders 256 and 512)
MAX_VARIATIONS = 16  # an editor shows at most this many proposals of one edit
MAX_REFERENCES = 8
MAX_PNG_BYTES = 8 * 2**20  # one image's encoded size
SESSION_HEADER = "X-Smile-Session"  # which editor a render is for: its stroke previews update its own last render
# a stroke sends the same photo and source map with every dab: both ends keep the last few images they coded
KEPT = 8
_encoded: OrderedDict = OrderedDict()
_decoded: OrderedDict = OrderedDict()
_caches = threading.Lock()  # batch workers and the editor's threads code images at once


class WireError(ValueError):
    """A request or result that is not what the wire carries; str(error) is one sentence."""


def shortened(text: str, limit: int = 300) -> str:
    """At most ``limit`` characters of ``text``: a refusal echoes what it refuses, which may be megabytes."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


# -- arrays --------------------------------------------------------------------------------------------------------
def png_bytes(array: np.ndarray) -> bytes:
    """A map (H, W) uint8 or an RGB image (H, W, 3) uint8 as a PNG file (Huffman coding only: a third faster than
    deflate at the same size on photos): what crosses the wire, both ways."""
    array = np.ascontiguousarray(array, np.uint8)
    image = cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if array.ndim == 3 else array
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1,
                                            cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY])
    if not ok:
        raise WireError("an image could not be encoded as PNG")
    return data.tobytes()


def png(array: np.ndarray) -> str:
    """:func:`png_bytes` as base64 text, for a JSON document."""
    array = np.ascontiguousarray(array, np.uint8)
    return _kept(_encoded, array_digest(array), lambda: base64.b64encode(png_bytes(array)).decode("ascii"))


def _kept(cache: OrderedDict, key, make):
    """``cache[key]``, made on a miss outside the lock (coding an image takes milliseconds)."""
    with _caches:
        if key in cache:
            return lru_get(cache, KEPT, key, make)
    value = make()
    with _caches:
        return lru_get(cache, KEPT, key, lambda: value)


def _unpng(text: object, what: str, channels: int) -> np.ndarray:
    """The checked image of ``text`` (read-only: an image sent again is the one decoded before)."""
    if not isinstance(text, str):
        raise WireError(f"{what} must be a base64 PNG string, not {type(text).__name__}")
    if len(text) > MAX_PNG_BYTES * 4 // 3 + 4:
        raise WireError(f"{what} is larger than {MAX_PNG_BYTES // 2**20} MB")
    key = (hashlib.blake2b(text.encode("ascii", "replace"), digest_size=16).digest(), channels)
    return _kept(_decoded, key, lambda: _decode(text, what, channels))


def _decode(text: str, what: str, channels: int) -> np.ndarray:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise WireError(f"{what} is not valid base64") from None
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise WireError(f"{what} is not a PNG image")
    # the header first: a few hundred bytes may declare gigapixels of 16-bit samples, which must not be inflated
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise WireError(f"{what} is a damaged PNG image")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[24] != 8:
        raise WireError(f"{what} must have 8-bit channels, not {data[24]}-bit")
    if width != height or not 8 <= width <= MAX_SIDE:
        raise WireError(f"{what} must be square with a side of 8 to {MAX_SIDE} pixels, not {width}x{height}")
    try:
        array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        array = None
    if array is None:
        raise WireError(f"{what} is a damaged PNG image")
    if array.dtype != np.uint8:
        raise WireError(f"{what} must have 8-bit channels, not {array.dtype}")
    got = 1 if array.ndim == 2 else array.shape[2]
    if got != channels:
        raise WireError(f"{what} must have {channels} channel{'s' * (channels > 1)}, not {got}")
    h, w = array.shape[:2]
    if h != w or not 8 <= h <= MAX_SIDE:
        raise WireError(f"{what} must be square with a side of 8 to {MAX_SIDE} pixels, not {w}x{h}")
    array = array if channels == 1 else cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    array.setflags(write=False)
    return array


def label_map(text: object, what: str = "the map", side: int | None = None) -> np.ndarray:
    """A label map from :func:`png` text, checked: square, at most MAX_SIDE, labels below 19, ``side`` if given."""
    labels = _unpng(text, what, 1)
    if int(labels.max()) >= NUM_CLASSES:
        raise WireError(f"{what} holds label {int(labels.max())}; the labels are 0 to {NUM_CLASSES - 1}")
    if side is not None and labels.shape[0] != side:
        raise WireError(f"{what} is {labels.shape[0]} px, the request's map {side} px")
    return labels


def image(text: object, what: str, side: int | None = None) -> np.ndarray:
    """An RGB image from :func:`png` text, checked like :func:`label_map`."""
    rgb = _unpng(text, what, 3)
    if side is not None and rgb.shape[0] != side:
        raise WireError(f"{what} is {rgb.shape[0]} px, the request's map {side} px")
    return rgb


def _optional(d: Mapping, key: str, decode, *args):
    return None if d.get(key) is None else decode(d[key], *args)


def _document(d: object, what: str) -> Mapping:
    if not isinstance(d, Mapping):
        raise WireError(f"{what} must be a JSON object")
    return d


def _whole(d: Mapping, key: str, default: int, low: int, high: int) -> int:
    value = d.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise WireError(f"{key} must be a whole number from {low} to {high}, not {value!r}")
    return value


# -- layout edits --------------------------------------------------------------------------------------------------
def layout_request_json(req: LayoutRequest) -> dict:
    return {"labels": png(req.labels), "current": dict(req.current), "target": dict(req.target), "seed": req.seed,
            "psi": float(req.psi), "variations": int(req.variations),
            "reference_labels": None if req.reference_labels is None else png(req.reference_labels),
            "reference_attributes": req.reference_attributes,
            "photo": None if req.photo is None else png(req.photo)}


def layout_request(d: object) -> LayoutRequest:
    d = _document(d, "a layout edit")
    labels = label_map(d.get("labels"))
    side = labels.shape[0]
    variations = _whole(d, "variations", 1, 1, MAX_VARIATIONS)
    psi = d.get("psi", 1.0)
    if isinstance(psi, bool) or not isinstance(psi, (int, float)):
        raise WireError(f"psi must be a number, not {psi!r}")
    reference_attributes = d.get("reference_attributes")
    if reference_attributes is not None:
        reference_attributes = dict(_document(reference_attributes, "reference_attributes"))
    try:
        return LayoutRequest(labels, dict(_document(d.get("current"), "current")),
                             dict(_document(d.get("target"), "target")), seed=_whole(d, "seed", 0, 0, 2**31 - 1),
                             psi=float(psi), variations=variations,
                             reference_labels=_optional(d, "reference_labels", label_map, "the reference map", side),
                             reference_attributes=reference_attributes,
                             photo=_optional(d, "photo", image, "the photo", side))
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise WireError(shortened(str(exc))) from None


def layout_result_json(res: LayoutResult) -> dict:
    return {"maps": [png(m) for m in res.maps], "attributes": dict(res.attributes), "seeds": list(res.seeds),
            "engine": res.engine, "notes": list(res.notes),
            "style": None if res.style is None else np.asarray(res.style, np.float32).tolist()}


def layout_result(d: object, side: int) -> LayoutResult:
    d = _document(d, "a layout result")
    maps = d.get("maps")
    if not isinstance(maps, list) or not 1 <= len(maps) <= MAX_VARIATIONS:
        raise WireError(f"a layout result holds 1 to {MAX_VARIATIONS} maps")
    style = d.get("style")
    try:
        return LayoutResult(tuple(label_map(m, "a proposed map", side) for m in maps),
                            dict(_document(d.get("attributes", {}), "attributes")),
                            tuple(int(s) for s in d.get("seeds", ())), str(d.get("engine", "remote")),
                            None if style is None else np.asarray(style, np.float32),
                            tuple(map(str, d.get("notes", ()))))
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise WireError(f"a layout result is malformed ({shortened(str(exc), 200)})") from None


# -- renders -------------------------------------------------------------------------------------------------------
def render_request_json(req: RenderRequest) -> dict:
    return {"labels": png(req.labels), "photo": None if req.photo is None else png(req.photo),
            "source_labels": None if req.source_labels is None else png(req.source_labels),
            "styles": [s.to_json() for s in req.styles],
            "references": [{"id": r.id, "name": r.name, "rgb": png(r.rgb),
                            "labels": None if r.labels is None else png(r.labels)} for r in req.references],
            "size": req.size, "exact": bool(req.exact), "stroke": bool(req.stroke)}


def render_request(d: object) -> RenderRequest:
    d = _document(d, "a render")
    labels = label_map(d.get("labels"))
    side = labels.shape[0]
    styles = d.get("styles")
    if styles is None:
        styles = [StyleSource().to_json()] * NUM_CLASSES
    if not isinstance(styles, list) or len(styles) != NUM_CLASSES:
        raise WireError(f"styles must list one style per class ({NUM_CLASSES})")
    refs = d.get("references") or []
    if not isinstance(refs, list) or len(refs) > MAX_REFERENCES:
        raise WireError(f"a render takes at most {MAX_REFERENCES} references")
    try:
        parsed = tuple(StyleSource.from_json(_document(s, "a style")) for s in styles)
        references = tuple(Reference(str(r["id"]), str(r.get("name", r["id"])), image(r.get("rgb"), "a reference"),
                                     _optional(r, "labels", label_map, "a reference map"))
                           for r in map(lambda r: _document(r, "a reference"), refs))
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise WireError(f"a style or reference is malformed ({shortened(str(exc), 200)})") from None
    size = d.get("size")
    if size is not None:
        size = _whole(d, "size", 0, 8, MAX_SIDE)
    photo = _optional(d, "photo", image, "the photo")
    if photo is not None and photo.shape[0] not in (side, size):  # a large render's photo comes at its side
        raise WireError(f"the photo is {photo.shape[0]} px, the request's map {side} px")
    return RenderRequest(labels, photo,
                         _optional(d, "source_labels", label_map, "the source map", side), parsed, references,
                         size=size, exact=bool(d.get("exact", False)), stroke=bool(d.get("stroke", False)))
