"""Real HTTP servers on loopback for the tests: a handler base that replies quietly, and a server in a thread.

Every test that talks HTTP (the judge, the server engine, `harness data fetch`) runs against one of these:
a real `http.server` on 127.0.0.1 with a port the system picks, so the client code under test goes through
real sockets, headers and timeouts.
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

# What a vLLM server answers on /v1/models for the tiny test model.
TINY_MODELS = {"object": "list", "data": [{"id": "tiny", "object": "model", "max_model_len": 512}]}


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean and replies in one call."""

    def log_message(self, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        """Send `body` whole; a client that has gone (it timed out, as some tests want) is not an error here."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def reply_json(self, status: int, payload: Any) -> None:
        self.reply(status, json.dumps(payload).encode())

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))


class LoopbackServer:
    """A `ThreadingHTTPServer` for `handler` on 127.0.0.1, serving from a daemon thread until `close()`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def close(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.thread.join(timeout=5)
        self.httpd.server_close()


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[LoopbackServer]:
    """A started `LoopbackServer` for `handler`, closed on exit."""
    server = LoopbackServer(handler).start()
    try:
        yield server
    finally:
        server.close()
