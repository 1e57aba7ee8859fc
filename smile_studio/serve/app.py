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

import cv2
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

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


class Guard:
    """ASGI middleware: the token and the body size, checked before the application reads anything."""

    def __init__(self, app, token: str | None, max_body: int):
        self.app, self.token, self.max_body = app, token, max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if self.token is not None:
            given = headers.get(b"authorization", b"")
            expected = b"Bearer " + self.token.encode()
            if not hmac.compare_digest(given, expected):
                await _refusal(401, "this server needs its token (Authorization: Bearer TOKEN)")(scope, receive, send)
                return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _refusal(413, f"the request is larger than this server takes ({self.max_body // 2**20} MB)")(
                scope, receive, send)
            return
        if length is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            # a body without a declared length is read here up to the limit, then handed on whole
            chunks, seen = [], 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunks.append(message.get("body", b""))
                seen += len(chunks[-1])
                if seen > self.max_body:
                    await _refusal(413, f"the request is larger than this server takes "
                                        f"({self.max_body // 2**20} MB)")(scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break
            pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

            async def replay():  # the body once, then the connection's own messages (a disconnect)
                return pending.pop() if pending else await receive()

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)


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

    def run(fn):
        if not waiting.acquire(blocking=False):
            raise _Busy
        try:
            with engines_lock:
                return fn()
        finally:
            waiting.release()

    async def call(request: Request, parse, work, answer):
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _refusal(400, "the request body is not JSON")
        try:
            req = parse(body)
            result = await run_in_threadpool(run, lambda: work(req))
            return answer(req, result)
        except _Busy:
            return _refusal(503, f"the server is busy ({queue} requests waiting); try again")
        except (wire.WireError, EngineError) as exc:
            return _refusal(422, str(exc))
        except Exception:  # noqa: BLE001 - one request's failure must not stop the server
            incident = uuid.uuid4().hex[:8]
            log.exception("request %s failed (incident %s)", request.url.path, incident)
            return _refusal(500, f"the server failed on this request (incident {incident}; see its log)")

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
        def png(_req, image) -> Response:
            ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
            return Response(data.tobytes(), media_type="image/png")

        engine = render_for(request)
        return await call(request, wire.render_request, engine.render, png)

    return Guard(app, token, max_body)


class _Busy(Exception):
    pass


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
