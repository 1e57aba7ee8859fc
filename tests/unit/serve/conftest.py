"""A real ``smile-studio serve`` application on 127.0.0.1 (uvicorn in a thread) over the offline engines, shared by
the tests of this folder."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from smile_studio.engines.exemplar import ExemplarRenderEngine
from smile_studio.engines.offline import OfflineLayoutEngine
from smile_studio.resources import sample_exemplar
from smile_studio.serve.app import create_app

TOKEN = "s3cret-token-for-tests"


class Counting:
    """An engine that counts its calls (to show a refused request computed nothing)."""

    def __init__(self, engine):
        self.engine, self.calls = engine, 0
        self.name, self.description, self.info = engine.name, engine.description, engine.info
        self.large_side = getattr(engine, "large_side", None)

    def edit(self, req):
        self.calls += 1
        return self.engine.edit(req)

    def render(self, req):
        self.calls += 1
        if req.size == 77:
            raise RuntimeError("a bug inside the engine")
        return self.engine.render(req)


@pytest.fixture(scope="module")
def server():
    layout, render = Counting(OfflineLayoutEngine()), Counting(ExemplarRenderEngine(sample=sample_exemplar()))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    srv = uvicorn.Server(uvicorn.Config(create_app(layout, render, token=TOKEN, max_body=8 * 2**20),
                                        host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}", layout, render
    srv.should_exit = True
    thread.join(10)
