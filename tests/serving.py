"""A real ``smile-studio serve`` application on 127.0.0.1: uvicorn in a thread, for the tests that talk to one."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import uvicorn

from smile_studio.serve.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(layout, render, token: str | None = None, **kw):
    """The URL of a server over ``layout`` and ``render`` while the block runs; stopped after it."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(layout, render, token=token, **kw), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the test server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
