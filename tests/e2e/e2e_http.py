"""A loopback HTTP server for the HTTP tasks of the end-to-end tests, recording its requests."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class LoopbackHttp:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)  # method, path, headers


class _Handler(BaseHTTPRequestHandler):
    """POST /echo: 200 with what it received; GET: 404; anything else: 500."""

    server: Any

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        self._record()
        if self.path != "/echo":
            self._send(500, b"unexpected", "text/plain")
            return
        answer = {"received": body, "header": self.headers.get("X-E2E"), "method": "POST"}
        self._send(200, json.dumps(answer).encode(), "application/json")

    def do_GET(self) -> None:
        self._record()
        self._send(404, b"nothing here", "text/plain")

    def _record(self) -> None:
        self.server.loopback.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers)}
        )

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass


@contextlib.contextmanager
def http_server() -> Iterator[LoopbackHttp]:
    """A loopback HTTP server in a thread, recording the requests it got."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    loopback = LoopbackHttp(f"http://127.0.0.1:{server.server_address[1]}")
    server.loopback = loopback  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield loopback
    finally:
        server.shutdown()
        server.server_close()
