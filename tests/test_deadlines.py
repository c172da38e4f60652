"""A wall-clock deadline per call, for the judge and the server engine, against a server that trickles.

The server (real HTTP on loopback) answers `/v1/models` at once and everything else one byte a second:
every read succeeds, so a read timeout never fires, and only a deadline ends the call.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import pytest

from harness.config import SamplingSettings
from harness.engines import EngineError, EngineRequest
from harness.engines.openai_engine import OpenAIEngine
from harness.verify import JudgeConfig
from harness.verify.judge import Judge, JudgeRequest


class _Trickle(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "tiny", "object": "model", "max_model_len": 512}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"id": "x", "object": "chat.completion", "choices": []}' * 50
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1.0)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: that is the point


@pytest.fixture()
def trickle():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_a_trickling_judge_is_cut_at_its_deadline(trickle):
    judge = Judge(JudgeConfig(base_url=trickle, model="tiny", timeout_s=2.0, max_retries=0))
    started = time.monotonic()
    result = judge.judge([JudgeRequest(question="1+1?", gold="2", response="2")])[0]
    elapsed = time.monotonic() - started
    judge.close()
    assert result.correct is None and "deadline" in (result.error or "")
    assert elapsed < 5.0, f"the call took {elapsed:.1f} s against a 2 s deadline"


def test_a_trickling_server_engine_is_cut_at_its_deadline(trickle, tiny_text_dir: Path):
    engine = OpenAIEngine(str(tiny_text_dir), base_url=trickle, timeout=2.0, max_retries=0)
    started = time.monotonic()
    with pytest.raises(EngineError, match="deadline"):
        engine.generate([EngineRequest("hello", 1, 4)], SamplingSettings())
    elapsed = time.monotonic() - started
    engine.close()
    assert elapsed < 5.0, f"the call took {elapsed:.1f} s against a 2 s deadline"
