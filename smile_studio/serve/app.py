"""The engines as an ASGI application (FastAPI on Starlette): ``GET /info``, ``POST /edit`` (an attribute edit,
:class:`~..engines.base.LayoutRequest`), ``POST /render`` (a render, answered as a PNG).

What it guarantees, in the order a request meets it:

* **a guard before any work** (:class:`Guard`, plain ASGI, before the body is read): a request without the
  server's token (``Authorization: Bearer …``, compared in constant time) is 401; a body declared or found
  larger than ``max_body`` is 413;
* **one sentence per refusal**: a body that is not JSON is 400; a request the wire format or the engine refuses
  (a malformed map, 65 variations) is 422 with the reason;
* **the engines one request at a time** (they keep caches and are not re-entrant), first come first served, at
  most ``queue`` waiting: beyond, 503 (the client retries); each editor's stroke previews update its own last
  render (``X-Smile-Session``);
* **a failure inside is logged with an id** and answered 500 with that id; the server keeps serving.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import uuid
from collections import OrderedDict, deque

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from .. import __version__
from ..engines import wire
from ..engines.base import EngineError, LayoutEngine, RenderEngine, RendersSessions
from ..engines.cache import lru_get

log = logging.getLogger(__name__)

MAX_BODY = 64 * 2**20  # a request's body: a 1024 map, photo and eight references fit many times over
QUEUE = 8  # requests waiting for the engines beyond the one running
SESSIONS = 8  # editors' stroke contexts kept (the least recently used go first: ~110 MB each with SMILE at 256)


def _refusal(status: int, sentence: str) -> JSONResponse:
    return JSONResponse({"detail": sentence}, status_code=status)


def _too_large(max_body: int) -> str:
    return f"the request is larger than this server takes ({max_body // 2**20} MB)"


LOCAL_HOSTS = (b"127.0.0.1", b"localhost", b"[::1]")
FORWARDED = (b"forwarded", b"x-forwarded-for", b"via")


class Guard:
    """ASGI middleware, before the application reads anything:

    * with a token: ``Authorization: Bearer TOKEN`` (constant-time), else 401;
    * without one (127.0.0.1 only): a request must name this machine as its host and come through no proxy (a
      web page in the user's browser, or a proxy publishing the port, would otherwise reach the engines);
    * a POST must say ``Content-Type: application/json`` (a browser's cross-origin form cannot);
    * a body larger than ``max_body`` is 413, whether it says so (Content-Length) or not (counted as it arrives);
      a request with both a length and chunked encoding, or a length that is not a number, is 400.
    """

    def __init__(self, app, token: str | None, max_body: int):
        self.app, self.token, self.max_body = app, token, max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no WebSocket route exists: none is left open by accident
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        limit, seen = self.max_body, 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        started = False

        async def watched(message):
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _refusal(413, _too_large(self.max_body))(scope, receive, send)

    def _refusal(self, scope, headers: dict) -> JSONResponse | None:
        if self.token is not None:
            scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token.encode()):
                return _refusal(401, "this server needs its token (Authorization: Bearer TOKEN)")
        else:
            if _host(headers) not in LOCAL_HOSTS or any(h in headers for h in FORWARDED):
                return _refusal(403, "this server has no token and answers this machine only; give it a token "
                                     "(--token-file) to serve others")
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or b"transfer-encoding" in headers):
            return _refusal(400, "the request's length is malformed")
        if length is not None and int(length) > self.max_body:
            return _refusal(413, _too_large(self.max_body))
        if scope.get("method") == "POST" and not headers.get(b"content-type", b"").startswith(b"application/json"):
            return _refusal(415, "requests are JSON (Content-Type: application/json)")
        return None


class _TooLarge(Exception):
    pass


def _host(headers: dict) -> bytes:
    """The Host header's name without its port ("[::1]" kept whole)."""
    host = headers.get(b"host", b"")
    if host.startswith(b"["):
        return host.split(b"]")[0] + b"]"
    return host.rsplit(b":", 1)[0]


def create_app(layout: LayoutEngine, render: RenderEngine, token: str | None = None, max_body: int = MAX_BODY,
               queue: int = QUEUE) -> Guard:
    """The server's application over ``layout`` and ``render``; ``token``: required of every request (None:
    none, for 127.0.0.1)."""
    app = FastAPI(title="SMILE Studio engines", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    engines_lock = FirstComeFirstServed()
    waiting = threading.BoundedSemaphore(queue + 1)
    sessions: OrderedDict = OrderedDict()  # session id -> its view of the render engine

    def render_for(request: Request) -> RenderEngine:
        sid = request.headers.get(wire.SESSION_HEADER, "")[:64]
        if not sid or not isinstance(render, RendersSessions):
            return render
        return lru_get(sessions, SESSIONS, sid, render.session)

    async def call(request: Request, parse, work, answer):
        if not waiting.acquire(blocking=False):  # a slot before the body is even read
            return _refusal(503, f"the server is busy ({queue} requests waiting); try again")
        try:
            try:
                body = await request.body()
            except ClientDisconnect:
                return _refusal(400, "the client went away before its request arrived")
            except _TooLarge:  # counted by the guard as it arrived
                return _refusal(413, _too_large(max_body))

            def serve():
                try:
                    document = json.loads(body)
                except (ValueError, UnicodeDecodeError, RecursionError):
                    return _refusal(400, "the request body is not JSON")
                try:
                    req = parse(document)
                except RecursionError:
                    return _refusal(400, "the request is nested too deeply")
                with engines_lock:
                    return answer(req, work(req))

            return await run_in_threadpool(serve)
        except (wire.WireError, EngineError) as exc:
            return _refusal(422, wire.shortened(str(exc)))
        except Exception:  # noqa: BLE001 - one request's failure must not stop the server
            incident = uuid.uuid4().hex[:8]
            log.exception("request %s failed (incident %s)", request.url.path, incident)
            return _refusal(500, f"the server failed on this request (incident {incident}; see its log)")
        finally:
            waiting.release()

    @app.get("/info")
    def info() -> dict:
        r = render.info
        return {"version": __version__, "layout": layout.description, "render": render.description,
                "label": r.label, "official_weights": r.official_weights, "device": r.device,
                "preview_precision": r.preview_precision, "large_side": render.large_side}

    @app.post("/edit")
    async def edit(request: Request):
        return await call(request, wire.layout_request, layout.edit,
                          lambda req, res: JSONResponse(wire.layout_result_json(res)))

    @app.post("/render")
    async def render_(request: Request):
        return await call(request, wire.render_request, lambda req: render_for(request).render(req),
                          lambda _req, image: Response(wire.png_bytes(image), media_type="image/png"))

    return Guard(app, token, max_body)


class FirstComeFirstServed:
    """A lock taken in the order it was asked for: clients sharing the engines take turns, none waits more than
    one render behind another (threading.Lock promises no order)."""

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._queue: deque = deque()

    def __enter__(self) -> None:
        ticket = object()
        with self._turns:
            self._queue.append(ticket)
            self._turns.wait_for(lambda: self._queue[0] is ticket)

    def __exit__(self, *exc) -> None:
        with self._turns:
            self._queue.popleft()
            self._turns.notify_all()
