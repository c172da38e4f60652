"""What the server engine sends: every sampling setting, from the one place that maps them (real HTTP on loopback).

The server records each request body and answers a fixed completion, so the test reads exactly what went
over the wire: the OpenAI API's own arguments at the top, vLLM's others (top-k, min-p) with them for a vLLM
server, and a generic server refused any setting it cannot take, by name.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.config import SamplingSettings
from harness.engines import EngineError, EngineRequest
from harness.engines.common import vllm_sampling_args
from harness.engines.openai_engine import OPENAI_SAMPLING, OpenAIEngine
from loopback import TINY_MODELS, QuietHandler, serving


class _Recorder(QuietHandler):
    bodies: list[dict] = []

    def do_GET(self) -> None:
        self.reply_json(200, TINY_MODELS)

    def do_POST(self) -> None:
        _Recorder.bodies.append(json.loads(self.read_body()))
        self.reply_json(200, {"id": "c", "object": "text_completion", "created": 0, "model": "tiny",
                              "choices": [{"index": 0, "text": "ok", "finish_reason": "length", "logprobs": None,
                                           "token_ids": [5, 6]}],
                              "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})


@pytest.fixture()
def recorder():
    _Recorder.bodies = []
    with serving(_Recorder) as server:
        yield f"{server.url}/v1"


SETTINGS = SamplingSettings(temperature=0.7, top_p=0.9, top_k=20, min_p=0.05, banned_token_ids=(11, 12))


def test_a_vllm_server_receives_every_sampling_setting(recorder, tiny_text_dir: Path):
    engine = OpenAIEngine(str(tiny_text_dir), base_url=recorder, timeout=10.0, max_retries=0)
    try:
        output = engine.generate([EngineRequest("hello", 7, 4)], SETTINGS)[0]
    finally:
        engine.close()
    assert output.token_ids == [5, 6]
    (body,) = _Recorder.bodies
    expected = vllm_sampling_args(SETTINGS)
    assert {key: body[key] for key in ("temperature", "top_p", "top_k", "min_p")} == \
        {key: expected[key] for key in ("temperature", "top_p", "top_k", "min_p")}
    assert body["logit_bias"] == {"11": -100.0, "12": -100.0}
    assert body["seed"] == 7 and body["max_tokens"] == 4 and body["return_token_ids"] is True
    # every field of SamplingSettings reaches the wire: none is dropped on the way
    sent = {key for key in expected if key in body}
    assert sent == set(expected), f"not sent: {set(expected) - sent}"


def test_a_generic_server_gets_only_the_openai_arguments(recorder, tiny_text_dir: Path):
    engine = OpenAIEngine(str(tiny_text_dir), base_url=recorder, timeout=10.0, max_retries=0, server="generic")
    try:
        plain = dataclasses.replace(SETTINGS, top_k=0, min_p=0.0)
        engine.generate([EngineRequest("hello", 7, 4)], plain)
        (body,) = _Recorder.bodies
        assert not {"top_k", "min_p", "return_token_ids"} & set(body)
        assert set(OPENAI_SAMPLING) <= set(body)
        with pytest.raises(EngineError, match=r"takes no min_p, top_k"):
            engine.generate([EngineRequest("hello", 7, 4)], SETTINGS)
        assert len(_Recorder.bodies) == 1, "a refused setting must not reach the server"
    finally:
        engine.close()
