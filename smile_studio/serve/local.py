"""A server on this machine for the duration of a block (uvicorn in a thread, a free port on 127.0.0.1): what the
tests and benchmarks talk to, and a script can embed."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from ..engines.base import LayoutEngine, RenderEngine
from .app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(layout: LayoutEngine, render: RenderEngine, token: str | None = None, **options) -> Iterator[str]:
    """The URL of a server over ``layout`` and ``render`` (``options``: :func:`.app.create_app`'s) while the block
    runs; stopped after it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(layout, render, token=token, **options), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="smile-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        raise RuntimeError(f"the local server did not start on 127.0.0.1:{port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
