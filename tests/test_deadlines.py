"""A wall-clock deadline per call, for the judge and the server engine, against a server that trickles.

The server (real HTTP on loopback) answers `/v1/models` at once and everything else one byte a second:
every read succeeds, so a read timeout never fires, and only a deadline ends the call.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.config import SamplingSettings
from harness.engines import EngineError, EngineRequest
from harness.engines.openai_engine import OpenAIEngine
from harness.verify import JudgeConfig
from harness.verify.judge import Judge, JudgeRequest
from loopback import TINY_MODELS, QuietHandler, serving


class _Trickle(QuietHandler):
    def do_GET(self) -> None:
        self.reply_json(200, TINY_MODELS)

    def do_POST(self) -> None:
        self.read_body()
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
    with serving(_Trickle) as server:
        yield f"{server.url}/v1"


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
