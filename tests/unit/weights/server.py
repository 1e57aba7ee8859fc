"""A real HTTP server on 127.0.0.1 for the weights tests: serves files with Range support, and misbehaves on
purpose (503, 404, a stalled answer, a connection cut midway, a Google-Drive-style confirmation page)."""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WeightsServer:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.throttled: set[str] = set()  # paths served as on a slow link (like the /slow/ prefix)
        self.cuts: dict[str, int] = {}  # path -> how many more transfers of it die after a third of what is left
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                server.requests.append((self.path, self.headers.get("Range")))
                path = self.path.split("?")[0]
                if path == "/busy":
                    return self._plain(503, b"overloaded")
                if path == "/stall":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    self.wfile.write(b"x" * 1000)
                    self.wfile.flush()
                    time.sleep(5)  # bounded: the server stops by itself
                    return None
                if path == "/drive/uc":  # the confirmation page Google Drive answers for large files
                    file_id = re.search(r"id=([\w-]+)", self.path).group(1)
                    page = (f'<html><body><form id="download-form" action="http://127.0.0.1:{server.port}'
                            f'/drive/download" method="get"><input type="hidden" name="id" value="{file_id}">'
                            '<input type="hidden" name="confirm" value="t"><input type="submit"></form>'
                            '</body></html>').encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return None
                if path == "/drive416/uc":  # a confirmation page that answers a Range request with 416
                    file_id = re.search(r"id=([\w-]+)", self.path).group(1)
                    page = (f'<html><body><form id="download-form" action="http://127.0.0.1:{server.port}'
                            f'/drive/download" method="get"><input type="hidden" name="id" value="{file_id}">'
                            '<input type="hidden" name="confirm" value="t"><input type="submit"></form>'
                            '</body></html>').encode()
                    self.send_response(416 if self.headers.get("Range") else 200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return None
                if path == "/drive/download":
                    if "confirm=t" not in self.path:
                        return self._plain(403, b"no confirmation")
                    file_id = re.search(r"id=([\w-]+)", self.path).group(1)
                    path = f"/{file_id}"
                cut, slow, stall = path.startswith("/cut/"), path.startswith("/slow/"), path.startswith("/stall/")
                slow = slow or path in server.throttled
                if path.startswith("/nolength/"):  # no Content-Length: the size is known only at the end
                    body = server.files.get(path.removeprefix("/nolength"))
                    if body is None:
                        return self._plain(404, b"not found")
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.end_headers()
                    try:
                        self.wfile.write(body)
                    except OSError:
                        pass
                    return None
                body = server.files.get(path.removeprefix("/cut").removeprefix("/slow").removeprefix("/stall"))
                if body is None:
                    return self._plain(404, b"not found")
                start = 0
                rng = self.headers.get("Range")
                if rng and not cut:
                    start = int(re.match(r"bytes=(\d+)-", rng).group(1))
                    if start >= len(body):  # as RFC 9110 asks: the size of the file in Content-Range
                        return self._plain(416, b"", {"Content-Range": f"bytes */{len(body)}"})
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if server.cuts.get(path, 0) > 0:  # a flaky link: this transfer dies a third of the way through
                    server.cuts[path] -= 1
                    self.wfile.write(body[start:start + (len(body) - start) // 3])
                    self.wfile.flush()
                    self.connection.close()
                    return None
                if cut:  # the connection dies halfway through
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.close()
                    return None
                if stall:  # 1 MiB, then nothing until the client goes away (at most 60 s): a cancel always lands
                    try:      # mid-download, however slowly the client is scheduled
                        self.wfile.write(body[start:start + (1 << 20)])
                        self.wfile.flush()
                    except OSError:
                        return None
                    t_end = time.monotonic() + 60
                    while time.monotonic() < t_end and not getattr(server, "closing", False):
                        time.sleep(0.05)
                    return None
                if slow:  # a slow link: 64 KiB every 20 ms, for at most 60 s (bounded; a loaded machine may take
                    # seconds to start the client before it cancels)
                    t_end = time.monotonic() + 60
                    for i in range(start, len(body), 1 << 16):
                        if time.monotonic() > t_end:
                            break
                        try:
                            self.wfile.write(body[i:i + (1 << 16)])
                            self.wfile.flush()
                        except OSError:
                            break
                        time.sleep(0.02)
                    return None
                self.wfile.write(body[start:])
                return None

            def _plain(self, code, body, headers=None):
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> WeightsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing = True  # stalled responses end
        self.httpd.shutdown()
        self.httpd.server_close()
