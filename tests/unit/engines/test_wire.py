"""The wire format of the engines' requests and results: what goes out comes back equal, and everything malformed
is refused with one sentence (no pickles, no arrays of another shape, dtype or size)."""

from __future__ import annotations

import base64
import json

import cv2
import numpy as np
import pytest

from smile_studio.core.document import Reference, StyleSource
from smile_studio.core.labels import NUM_CLASSES, default_attributes
from smile_studio.core.labels import ClassId as C
from smile_studio.engines import wire
from smile_studio.engines.base import LayoutRequest, LayoutResult, RenderRequest


def _through_json(d):
    return json.loads(json.dumps(d))


def test_requests_and_results_cross_the_wire_unchanged(face_map):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, face_map.shape + (3,), dtype=np.uint8)
    req = LayoutRequest(face_map, default_attributes(), {"eyeglasses": "on", "hat": "on"}, seed=7, psi=0.5,
                        variations=3, reference_labels=face_map[::-1].copy(),
                        reference_attributes=default_attributes(), photo=photo)
    back = wire.layout_request(_through_json(wire.layout_request_json(req)))
    assert np.array_equal(back.labels, face_map) and np.array_equal(back.photo, photo)
    assert np.array_equal(back.reference_labels, face_map[::-1])
    assert (back.current, back.target, back.seed, back.psi, back.variations) == \
        (req.current, req.target, 7, 0.5, 3)
    res = LayoutResult((face_map, face_map.T.copy()), req.new_state(), (7, 8), "smile",
                       rng.normal(size=(2, 6, 64)).astype(np.float32), ("a note",))
    got = wire.layout_result(_through_json(wire.layout_result_json(res)), face_map.shape[0])
    assert all(np.array_equal(a, b) for a, b in zip(got.maps, res.maps, strict=True))
    assert got.seeds == (7, 8) and got.notes == ("a note",) and np.array_equal(got.style, res.style)
    styles = [StyleSource()] * NUM_CLASSES
    styles[C.HAIR] = StyleSource("reference", ref="r1")
    styles[C.SKIN] = StyleSource("seed", seed=4, locked=True)
    render = RenderRequest(face_map, photo, face_map, tuple(styles),
                           (Reference("r1", "ref.jpg", photo, face_map),), size=256, exact=True)
    back = wire.render_request(_through_json(wire.render_request_json(render)))
    assert np.array_equal(back.labels, face_map) and np.array_equal(back.photo, photo)
    assert back.styles == render.styles and back.size == 256 and back.exact and not back.stroke
    assert back.references[0].id == "r1" and np.array_equal(back.references[0].rgb, photo)


def _png_of(array) -> str:
    ok, data = cv2.imencode(".png", array)
    assert ok
    return base64.b64encode(data.tobytes()).decode()


@pytest.mark.parametrize("labels, says", [
    (42, "base64 PNG string"),
    ("not base64!", "not valid base64"),
    (base64.b64encode(b"GIF89a....").decode(), "not a PNG"),
    (base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode(), "damaged PNG"),
    (_png_of(np.zeros((64, 64), np.uint16)), "8-bit"),
    (_png_of(np.zeros((64, 64, 3), np.uint8)), "1 channel"),
    (_png_of(np.zeros((64, 32), np.uint8)), "square"),
    (_png_of(np.zeros((1200, 1200), np.uint8)), "1024"),
    (_png_of(np.full((64, 64), 25, np.uint8)), "label 25"),
])
def test_a_malformed_map_is_refused_with_a_sentence(labels, says):
    with pytest.raises(wire.WireError, match=says):
        wire.render_request({"labels": labels})


def test_malformed_edits_and_renders_are_refused(face_map):
    good = wire.layout_request_json(LayoutRequest(face_map, default_attributes(), {"hat": "on"}))
    for change, says in (({"variations": 65}, "variations must be a whole number from 1 to 16"),
                         ({"seed": -1}, "seed must be"), ({"psi": "a lot"}, "psi must be a number"),
                         ({"target": {"wings": "on"}}, "wings"), ({"current": []}, "JSON object"),
                         ({"photo": _png_of(np.zeros((64, 64, 3), np.uint8))}, "the photo is 64 px")):
        with pytest.raises(wire.WireError, match=says):
            wire.layout_request({**good, **change})
    good = wire.render_request_json(RenderRequest(face_map))
    for change, says in (({"styles": [{"kind": "source"}] * 3}, "one style per class"),
                         ({"styles": [{"kind": "magic"}] * NUM_CLASSES}, "malformed"),
                         ({"references": [{"id": "r"}] * 9}, "at most 8"),
                         ({"size": 5000}, "size must be")):
        with pytest.raises(wire.WireError, match=says):
            wire.render_request({**good, **change})
    with pytest.raises(wire.WireError, match="JSON object"):
        wire.render_request(["labels"])


def test_a_png_declaring_gigapixels_is_refused_from_its_header():
    """A few hundred bytes may declare a 30000x30000 16-bit image: refused from the header, never inflated."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    for width, depth, says in ((30000, 8, "side of 8 to 1024"), (64, 16, "8-bit")):
        header = struct.pack(">IIBBBBB", width, width, depth, 0, 0, 0, 0)
        data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + \
            chunk(b"IEND", b"")
        with pytest.raises(wire.WireError, match=says):
            wire.label_map(base64.b64encode(data).decode())


def test_numbers_past_a_float_are_refused(face_map):
    good = wire.layout_request_json(LayoutRequest(face_map, default_attributes(), {"hat": "on"}))
    with pytest.raises(wire.WireError):
        wire.layout_request({**good, "psi": 10**400})
    render = wire.render_request_json(RenderRequest(face_map))
    styles = [{"kind": "seed", "seed": float("inf")}] * NUM_CLASSES
    with pytest.raises(wire.WireError):
        wire.render_request({**render, "styles": styles})


def test_a_large_renders_photo_comes_at_its_side(face_map):
    photo = np.zeros((256, 256, 3), np.uint8)
    req = wire.render_request(wire.render_request_json(RenderRequest(face_map, photo, face_map, size=256,
                                                                     exact=True)))
    assert req.photo.shape == (256, 256, 3) and req.labels.shape == face_map.shape
