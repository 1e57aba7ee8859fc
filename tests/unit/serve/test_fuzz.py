"""500 random requests, mutated from valid ones, against a real server: every answer is a success or a 4xx with a
sentence (a 5xx would be a request the checks let through to fail inside), and the server stays alive with its
memory bounded."""

from __future__ import annotations

import base64
import json
import random

import httpx
import numpy as np

from smile_studio.app.main import current_rss_mb
from smile_studio.core.labels import default_attributes
from smile_studio.engines.base import LayoutRequest, RenderRequest
from smile_studio.engines.wire import layout_request_json, render_request_json

from .conftest import TOKEN


def _junk(rng: random.Random):
    return rng.choice([None, True, -1, 2**40, 3.5, "", "x" * rng.randint(1, 50), [], {}, [1, 2],
                       {"kind": "seed", "seed": -5}, base64.b64encode(bytes(rng.randbytes(64))).decode(),
                       base64.b64encode(b"\x89PNG\r\n\x1a\n" + rng.randbytes(80)).decode()])


def _mutated(doc: dict, rng: random.Random) -> dict:
    out = dict(doc)
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(list(out) + ["extra"])
        if rng.random() < 0.3:
            out.pop(key, None)
        else:
            out[key] = _junk(rng)
    return out


def test_random_requests_never_break_the_server(server, face_map):
    url, *_ = server
    small = np.ascontiguousarray(face_map[::2, ::2])
    photo = np.random.default_rng(0).integers(0, 256, small.shape + (3,), dtype=np.uint8)
    edit = layout_request_json(LayoutRequest(small, default_attributes(), {"hat": "on"}, photo=photo))
    render = render_request_json(RenderRequest(small, photo, small))
    rng = random.Random(7)
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
        client.get("/info")
        before = current_rss_mb()
        for i in range(500):
            path, doc = ("/edit", edit) if i % 2 else ("/render", render)
            body = json.dumps(_mutated(doc, rng)).encode() if rng.random() < 0.95 else rng.randbytes(100)
            r = client.post(path, content=body, headers={"Content-Type": "application/json"})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code in (200, 400, 422), (r.status_code, r.text[:300])
            if r.status_code != 200:
                assert r.json()["detail"].strip(), r.text
        grown = current_rss_mb() - before
        assert client.get("/info").status_code == 200
    assert statuses.get(422, 0) > 100 and statuses.get(400, 0) > 5  # the mutations did reach the checks
    assert grown < 150, grown  # the server (this process) did not pile up what it was sent
