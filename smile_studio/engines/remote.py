"""Engines on another machine: the layout and render protocols over HTTP to ``smile-studio serve`` (the editor on
a laptop, the networks on a GPU box). Requests and results cross as :mod:`.wire` documents; whatever goes wrong
(the server down, a refused token, a refused request) is an :class:`~.base.EngineError` with one sentence."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import cv2
import httpx
import numpy as np

from .base import EngineError, EngineInfo, EnginesUnreachable, LayoutRequest, LayoutResult, RenderRequest
from .wire import SESSION_HEADER, WireError, layout_request_json, layout_result, render_request_json, shortened


class TokenRefused(EngineError):
    """The server refused the token (or its absence)."""


TIMEOUT = httpx.Timeout(10.0, read=120.0)  # connecting is quick or never; a first render may take a while
BUSY_WAITS = (0.2, 0.5, 1.0)  # seconds before asking a busy server (503) again


class Connection:
    """One server: its address, the token, a pooled HTTP client and what the server said of itself."""

    def __init__(self, url: str, token: str | None = None, timeout: httpx.Timeout = TIMEOUT,
                 transport: httpx.BaseTransport | None = None):
        """``transport``: httpx's, where the requests go (tests answer them in process)."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        try:
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:  # a port that is not a number
            ok = False
        if not ok:
            raise EngineError(f"{url!r} is not a server address (http://HOST:PORT or https://HOST:PORT)")
        if token is not None and (not token.isascii() or any(c.isspace() for c in token)):
            raise EngineError("the token must be one word of plain ASCII characters")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.hostname
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)
        self.about = self.get_json("/info")

    def close(self) -> None:
        self.client.close()

    def _answer(self, method: str, path: str, **kw) -> httpx.Response:
        for wait in (*BUSY_WAITS, None):
            try:
                response = self.client.request(method, path, **kw)
            except httpx.TimeoutException:
                raise EnginesUnreachable(f"the server at {self.url} did not answer in time") from None
            except (httpx.TransportError, httpx.InvalidURL) as exc:
                raise EnginesUnreachable(f"the server at {self.url} cannot be reached ({type(exc).__name__}: "
                                         f"{exc})") from None
            if response.status_code != 503 or wait is None:
                break
            time.sleep(wait)  # busy with other editors' renders: a moment, then again
        if response.status_code == 401:
            raise TokenRefused(f"the server at {self.url} refused the token")
        if response.status_code >= 400:
            raise EngineError(f"the server at {self.url} refused the request ({response.status_code}): "
                              f"{_detail(response)}")
        return response

    def get_json(self, path: str) -> dict:
        try:
            answer = self._answer("GET", path).json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise EngineError(f"{self.url} did not answer as a SMILE Studio server")
        return answer

    def post(self, path: str, document: dict, headers: dict | None = None) -> httpx.Response:
        return self._answer("POST", path, json=document, headers=headers)

    def info(self) -> EngineInfo:
        a = self.about
        precision = a.get("preview_precision")
        return EngineInfo(f"{a.get('label', 'engines')} on {self.host}", official_weights=bool(a.get(
            "official_weights")), device=str(a.get("device", "?")),
            preview_precision=precision if isinstance(precision, str) else None, remote=True)


def _detail(response: httpx.Response) -> str:
    """The server's sentence, shortened."""
    try:
        body = response.json()
        detail = body.get("detail", "") if isinstance(body, dict) else ""
    except ValueError:
        detail = response.text
    return shortened(str(detail))


class RemoteLayoutEngine:
    name = "remote"

    def __init__(self, connection: Connection):
        self.connection = connection
        self.description = f"{connection.about.get('layout', 'layout engine')} on {connection.url}"
        self.info = connection.info()

    def edit(self, request: LayoutRequest) -> LayoutResult:
        answer = self.connection.post("/edit", layout_request_json(request))
        try:
            return layout_result(answer.json(), request.labels.shape[0])
        except (ValueError, TypeError, WireError) as exc:
            raise EngineError(f"the server at {self.connection.url} answered an edit it should not ({exc})") \
                from None


class RemoteRenderEngine:
    name = "remote"

    def __init__(self, connection: Connection):
        self.connection = connection
        self.description = f"{connection.about.get('render', 'render engine')} on {connection.url}"
        self.info = connection.info()
        large = connection.about.get("large_side")
        self.large_side = large if isinstance(large, int) and not isinstance(large, bool) else None
        self.session = {SESSION_HEADER: uuid.uuid4().hex}  # the server keeps this editor's stroke previews apart

    def render(self, request: RenderRequest) -> np.ndarray:
        data = self.connection.post("/render", render_request_json(request), self.session).content
        try:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        except cv2.error:
            img = None
        side = request.size or request.labels.shape[0]
        if img is None or img.shape[:2] != (side, side):
            raise EngineError(f"the server at {self.connection.url} answered a render it should not")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def remote_engines(url: str, token: str | None = None) -> tuple[RemoteLayoutEngine, RemoteRenderEngine, str]:
    """(layout, render, a sentence saying what runs where) over the server at ``url``."""
    connection = Connection(url, token)
    render = RemoteRenderEngine(connection)
    return RemoteLayoutEngine(connection), render, f"{render.info.label} ({render.info.device})"
