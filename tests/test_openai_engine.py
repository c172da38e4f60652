"""`--engine openai` against a real vLLM server on loopback (the tiny model), and a real proxy for faults.

The server is started once for the module by `harness.engines.server.start_vllm_server` (the helper users get).
Faults (errors, slowness) come from a small HTTP proxy in front of it, since a healthy server has none.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from harness.config import RunConfig
from harness.engines import EngineRequest, SamplingSettings
from harness.engines.openai_engine import EngineError, OpenAIEngine
from harness.runner import run
from harness.engines.server import ServerError, start_vllm_server
from harness.rundir import RunDir
from tests import sweep_fixtures
from loopback import LoopbackServer, QuietHandler

pytestmark = pytest.mark.slow

PROMPTS = [f"<|im_start|>user\nWhat is {i} + {i}?<|im_end|>\n<|im_start|>assistant\n<think>\n" for i in range(6)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sweep_fixtures.tiny_text_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with start_vllm_server(str(model_dir), args=["--dtype", "float32", "--max-model-len", "1024", "--enforce-eager"],
                           log_path=log) as started:
        yield started


class FaultyProxy:
    """Forwards to the server; answers 503 to the first `fail_first` requests, delays each by `delay_s`."""

    def __init__(self, target: str, fail_first: int = 0, delay_s: float = 0.0):
        self.target, self.fail_first, self.delay_s = target.removesuffix("/v1"), fail_first, delay_s
        self.posts = self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(QuietHandler):
            def do_GET(self):
                self._forward(None)

            def do_POST(self):
                self._forward(self.read_body())

            def _forward(self, body):
                with proxy.lock:
                    if body is not None:
                        proxy.posts += 1
                    failing = body is not None and proxy.posts <= proxy.fail_first
                    proxy.in_flight += 1
                    proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                try:
                    if body is not None:
                        time.sleep(proxy.delay_s)
                    if failing:
                        self.reply(503, b'{"error": "overloaded"}')
                        return
                    request = urllib.request.Request(proxy.target + self.path, data=body, method=self.command,
                                                     headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(request, timeout=60) as response:
                        self.reply(response.status, response.read())
                finally:
                    with proxy.lock:
                        proxy.in_flight -= 1

        self.server = LoopbackServer(Handler).start()
        self.base_url = f"{self.server.url}/v1"

    def close(self):
        self.server.close()


def test_the_server_engine_gives_the_offline_engines_tokens(server, model_dir):
    engine = OpenAIEngine(str(model_dir), base_url=server.base_url)
    offline = sweep_fixtures.vllm_engine(model_dir)
    wait = engine.tokenizer.encode("Wait", add_special_tokens=False)[0]
    sampling = SamplingSettings(temperature=1.0, banned_token_ids=(wait,))
    requests = [EngineRequest(p, 100 + i, 60, stop=["</think>"] if i % 2 else []) for i, p in enumerate(PROMPTS)]
    served, direct = engine.generate(requests, sampling), offline.generate(requests, sampling)
    engine.close()
    assert [o.token_ids for o in served] == [o.token_ids for o in direct]
    assert [(o.text, o.finish_reason, o.stopped_on, o.prompt_tokens) for o in served] == \
        [(o.text, o.finish_reason, o.stopped_on, o.prompt_tokens) for o in direct]
    assert all(wait not in o.token_ids for o in served)
    assert any(o.stopped_on == "</think>" and o.text.endswith("</think>") for o in served)


def test_the_server_reports_its_model_name_and_context_length(server, model_dir):
    engine = OpenAIEngine(str(model_dir), base_url=server.base_url)
    engine.close()
    assert engine.served_model == str(model_dir)
    assert engine.max_model_len == 1024


def test_a_model_the_server_does_not_serve_is_named(server, model_dir):
    with pytest.raises(EngineError, match="not 'other-model'"):
        OpenAIEngine(str(model_dir), base_url=server.base_url, served_model="other-model")


def test_a_run_through_the_server_resumes_where_it_stopped(server, model_dir, tmp_path):
    config = RunConfig(model=str(model_dir), benchmarks=["sample"], limit=4, samples=2, budget=40, mode="nowait",
                       engine="openai", engine_url=server.base_url, family="chatml", seed=3, out=str(tmp_path / "run"))
    run(config, progress=False)
    generations = RunDir(tmp_path / "run").generations_path
    complete = generations.read_text().splitlines()
    generations.write_text("\n".join(complete[:-2]) + "\n")  # as if killed before the last two were saved
    run(config, progress=False)
    resumed = generations.read_text().splitlines()
    assert len(resumed) == len(complete)
    by_key = lambda lines: {(r["id"], r["sample_index"]): r["token_ids"] for r in map(json.loads, lines)}  # noqa: E731
    assert by_key(resumed) == by_key(complete)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["throughput"]["engine"] == "openai"


def test_the_server_and_offline_engines_write_the_same_run(server, model_dir, tmp_path):
    config = RunConfig(model=str(model_dir), benchmarks=["sample"], limit=3, budget=30, budget_policy="force",
                       answer_budget=12, family="chatml", seed=5)
    offline = run(dataclasses.replace(config, out=str(tmp_path / "offline")), progress=False,
                  engine=sweep_fixtures.vllm_engine(model_dir))
    served = run(dataclasses.replace(config, engine="openai", engine_url=server.base_url, out=str(tmp_path / "served")),
                 progress=False)
    fields = ("token_ids", "text", "finish_reason", "forced", "think_tokens", "answer_tokens")
    rows = lambda path: {k: {f: v[f] for f in fields} for k, v in RunDir(path).generations().items()}  # noqa: E731
    assert rows(served) == rows(offline)


def test_server_errors_are_retried_with_backoff(server, model_dir):
    proxy = FaultyProxy(server.base_url, fail_first=2)
    try:
        engine = OpenAIEngine(str(model_dir), base_url=proxy.base_url, max_retries=3)
        started = time.perf_counter()
        outputs = engine.generate([EngineRequest(PROMPTS[0], 1, 8)], SamplingSettings())
        engine.close()
    finally:
        proxy.close()
    assert len(outputs[0].token_ids) > 0
    assert time.perf_counter() - started > 0.5  # two backoff waits happened


def test_a_request_that_keeps_failing_raises_a_clear_error(server, model_dir):
    proxy = FaultyProxy(server.base_url, fail_first=100)
    try:
        engine = OpenAIEngine(str(model_dir), base_url=proxy.base_url, max_retries=1)
        with pytest.raises(EngineError, match=r"127\.0\.0\.1.*seed 1"):
            engine.generate([EngineRequest(PROMPTS[0], 1, 8)], SamplingSettings())
        engine.close()
    finally:
        proxy.close()


def test_a_slow_server_times_out(server, model_dir):
    proxy = FaultyProxy(server.base_url, delay_s=3.0)
    try:
        engine = OpenAIEngine(str(model_dir), base_url=proxy.base_url, timeout=0.5, max_retries=0)
        with pytest.raises(EngineError, match="deadline"):
            engine.generate([EngineRequest(PROMPTS[0], 1, 8)], SamplingSettings())
        engine.close()
    finally:
        proxy.close()


def test_requests_in_flight_never_exceed_the_concurrency(server, model_dir):
    proxy = FaultyProxy(server.base_url, delay_s=0.2)
    try:
        engine = OpenAIEngine(str(model_dir), base_url=proxy.base_url, concurrency=3)
        outputs = engine.generate([EngineRequest(PROMPTS[i % 6], i, 4) for i in range(12)], SamplingSettings())
        engine.close()
    finally:
        proxy.close()
    assert len(outputs) == 12
    assert proxy.max_in_flight == 3


def test_an_unreachable_server_is_named():
    with pytest.raises(EngineError, match=r"cannot list models at http://127\.0\.0\.1:9/v1"):
        OpenAIEngine("unused", base_url="http://127.0.0.1:9/v1", max_retries=0)


def test_a_server_that_cannot_start_reports_its_log(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ServerError, match="exited with status"):
        start_vllm_server(str(tmp_path), timeout_s=300)
