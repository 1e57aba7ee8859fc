"""``smile-studio serve`` for real: uvicorn on 127.0.0.1 with the offline engines, driven by the remote engines and
by raw requests. Edits and renders equal the local engines'; a wrong or missing token is 401 with nothing
computed; an oversized body is 413 before it is read; malformed requests are 4xx with a sentence; a failure
inside is 500 with an incident id; and the server answers ``info`` after all of it."""

from __future__ import annotations

import socket

import httpx
import numpy as np
import pytest

from smile_studio.core.document import StyleSource
from smile_studio.core.labels import NUM_CLASSES, default_attributes
from smile_studio.core.labels import ClassId as C
from smile_studio.engines.base import EngineError, LayoutRequest, RenderRequest
from smile_studio.engines.exemplar import ExemplarRenderEngine
from smile_studio.engines.offline import OfflineLayoutEngine
from smile_studio.engines.remote import remote_engines
from smile_studio.engines.wire import render_request_json
from smile_studio.resources import sample_exemplar
from tests.serving import free_port

from .conftest import TOKEN


def _face(face_map):
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, face_map.shape + (3,), dtype=np.uint8)


def test_edits_and_renders_equal_the_local_engines(server, face_map):
    url, *_ = server
    layout, render, note = remote_engines(url, TOKEN)
    assert "offline on 127.0.0.1" in note and render.info.label == "offline on 127.0.0.1"
    req = LayoutRequest(face_map, default_attributes(), {"hat": "on", "eyeglasses": "on"}, seed=3, variations=2)
    got, local = layout.edit(req), OfflineLayoutEngine().edit(req)
    assert all(np.array_equal(a, b) for a, b in zip(got.maps, local.maps, strict=True))
    assert got.attributes == local.attributes and got.seeds == local.seeds
    styles = [StyleSource()] * NUM_CLASSES
    styles[C.HAIR] = StyleSource("seed", seed=5)
    photo = _face(face_map)
    rreq = RenderRequest(got.labels, photo, face_map, tuple(styles), exact=True)
    assert np.array_equal(render.render(rreq), ExemplarRenderEngine(sample=sample_exemplar()).render(rreq))


def test_a_wrong_or_missing_token_is_refused_before_any_work(server, face_map):
    url, layout, render = server
    before = render.calls + layout.calls
    body = render_request_json(RenderRequest(face_map))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = httpx.post(f"{url}/render", json=body, headers=headers)
        assert r.status_code == 401 and "token" in r.json()["detail"]
    assert httpx.get(f"{url}/info").status_code == 401
    assert render.calls + layout.calls == before
    with pytest.raises(EngineError, match="refused the token"):
        remote_engines(url, "wrong")


def test_an_oversized_body_is_refused_before_it_is_read(server):
    url, *_ = server
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"POST /render HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {200 * 2**20}\r\n\r\n".encode())
        reply = b""
        while b"takes" not in reply and len(reply) < 8192:  # headers, then the body (maybe in another packet)
            part = s.recv(4096)
            if not part:
                break
            reply += part
        reply = reply.decode()
    assert reply.startswith("HTTP/1.1 413") and "larger than this server takes" in reply
    # a body sent without a declared length is counted as it arrives
    chunks = (b"x" * 2**20 for _ in range(12))
    r = httpx.post(f"{url}/render", content=chunks, headers={"Authorization": f"Bearer {TOKEN}",
                                                              "Content-Type": "application/json"})
    assert r.status_code == 413
    # a length beside chunked encoding (the body would be read past the length), or a length that is no number
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"POST /render HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "0\r\n\r\n".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 400")


def test_malformed_requests_are_refused_with_a_sentence_and_the_server_goes_on(server, face_map):
    url, *_ = server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    good = render_request_json(RenderRequest(face_map))
    for body, status, says in ((b"{not json", 400, "not JSON"),
                               ({**good, "labels": "AAAA"}, 422, "not a PNG"),
                               ({**good, "styles": []}, 422, "one style per class"),
                               ({"labels": good["labels"], "current": {}, "target": {}, "variations": 65}, 422,
                                "from 1 to 16")):
        path = "/edit" if isinstance(body, dict) and "variations" in body else "/render"
        r = httpx.post(f"{url}{path}", headers={**auth, "Content-Type": "application/json"},
                       **({"content": body} if isinstance(body, bytes) else {"json": body}))
        assert r.status_code == status and says in r.json()["detail"], (r.status_code, r.text)
    r = httpx.post(f"{url}/render", headers=auth, content=b"x", )  # not JSON by its type: refused unread
    assert r.status_code == 415
    r = httpx.post(f"{url}/render", headers=auth, json={**good, "size": 77})  # the engine fails inside
    assert r.status_code == 500 and "incident" in r.json()["detail"]
    assert httpx.get(f"{url}/info", headers=auth).json()["label"] == "offline"


def test_a_server_that_is_not_there_is_one_sentence():
    with pytest.raises(EngineError, match="cannot be reached"):
        remote_engines(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(EngineError, match="not a server address"):
        remote_engines("ftp://somewhere")


def test_a_server_without_a_token_answers_this_machine_only(face_map):
    """Without a token (127.0.0.1), a request naming another host (a web page rebinding a name to 127.0.0.1) or
    coming through a proxy (publishing the port) is refused before any work."""
    from smile_studio.engines.offline import OfflineLayoutEngine
    from tests.serving import serving

    with serving(OfflineLayoutEngine(), ExemplarRenderEngine()) as url:
        assert httpx.get(f"{url}/info").status_code == 200
        assert httpx.get(f"{url}/info", headers={"Host": "evil.example"}).status_code == 403
        assert httpx.get(f"{url}/info", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403
        r = httpx.post(f"{url}/render", content=b"{}", headers={"Content-Type": "text/plain"})
        assert r.status_code == 415  # what a browser's cross-origin form could send


def test_a_busy_server_is_asked_again_and_a_refusal_is_not_a_lost_server(monkeypatch):
    from smile_studio.engines import remote
    from smile_studio.engines.base import EnginesUnreachable

    monkeypatch.setattr(remote, "BUSY_WAITS", (0.01, 0.01))
    answers = iter([httpx.Response(200, json={"label": "SMILE", "device": "cuda"}),
                    httpx.Response(503, json={"detail": "busy"}), httpx.Response(503, json={"detail": "busy"}),
                    httpx.Response(200, json={"ok": 1}),
                    httpx.Response(503, json={"detail": "busy"}), httpx.Response(503, json={"detail": "busy"}),
                    httpx.Response(503, json={"detail": "busy"}),
                    httpx.Response(422, json={"detail": "x" * 5000})])
    c = remote.Connection("http://gpu-box:8470", "tok", transport=httpx.MockTransport(lambda req: next(answers)))
    assert c.info().label == "SMILE on gpu-box" and c.info().remote
    assert c.post("/render", {}).json() == {"ok": 1}  # after two busy answers
    with pytest.raises(EngineError, match="busy") as busy:
        c.post("/render", {})
    assert not isinstance(busy.value, EnginesUnreachable)
    with pytest.raises(EngineError) as refused:
        c.post("/render", {})
    assert not isinstance(refused.value, EnginesUnreachable) and len(str(refused.value)) < 400  # shortened
    with pytest.raises(EngineError, match="one word"):
        remote.Connection("http://gpu-box:8470", "tök en")
    with pytest.raises(EngineError, match="not a server address"):
        remote.Connection("http://gpu-box:port")
