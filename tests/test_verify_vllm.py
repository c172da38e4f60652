"""The judge against a real `vllm.entrypoints.openai.api_server` serving the tiny local model.

The tiny model has random weights, so what it says is noise: this test proves the wire protocol
(request shape, response parsing, error handling) against the real server, not judging quality.
Its reply either carries a VERDICT line (then a verdict) or does not (then `judge_error`, never
a wrong answer); and at temperature 0 the same request gets the same outcome twice.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from harness.verify import JudgeConfig, Verifier, VerifyItem

tiny_models = pytest.importorskip("tiny_models", reason="tests/tiny_models.py builds the local model")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory):
    model_dir = tiny_models.build_tiny_text_model(tmp_path_factory.mktemp("tiny") / "model")
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1", OMP_NUM_THREADS="1")
    log = open(tmp_path_factory.mktemp("log") / "vllm.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
         "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
         "--enforce-eager", "--max-model-len", "2048"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 240
    try:
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"vLLM server exited with {process.returncode}:\n{log.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"vLLM server not healthy after 240 s:\n{log.read()[-3000:]}")
            time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.slow
def test_judge_round_trip_through_a_real_vllm_server(vllm_server):
    item = VerifyItem(id="v1", question="Capital of France?", answer="Paris",
                      response="thinking</think>I would say Paris.", answer_type="text")
    config = JudgeConfig(base_url=vllm_server, model="tiny", policy="always", max_tokens=16,
                         max_retries=0, timeout_s=120)
    with Verifier(judge=config) as verifier:
        first = verifier.score([item])[0]
        second = verifier.score([item])[0]
        assert verifier.judge_calls == 2
    assert first.method in ("judge", "judge_error")
    if first.method == "judge_error":
        assert first.correct is None and "VERDICT" in first.judge_rationale  # it answered, without a verdict
    assert (first.method, first.correct) == (second.method, second.correct)
