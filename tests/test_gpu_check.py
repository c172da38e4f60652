"""perf/gpu_check.py at its tiny size on CPU, so that the GPU check is known to work before a GPU runs it.

Every path the GPU run takes runs here: a model from config.json alone with vLLM's random weights, its
output layer set inside the engine, `harness run --deterministic` killed with SIGKILL and resumed, and
harness against raw vLLM for cap, force and a sweep. Its timings on a CI machine mean nothing, so the test
checks what must hold at any speed: the resume is exact, both sides generate the same tokens (on CPU a
request samples the same tokens in any batch), the lengths spread up to the budget, and every figure is
written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import RunConfig
from harness.engines.models import ModelError, resolve_model
from harness.runner import prepare

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from perf.gpu_check import TINY, TINY_SIZES, write_model  # noqa: E402


def test_the_gpu_check_passes_at_tiny_size_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = subprocess.run([str(REPO / "perf" / "gpu_check.sh"), "--tiny", "--rounds", "1", "--out", str(out)],
                          env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    resume = figures["resume"]
    assert resume["passed"] and resume["identical"] == resume["requests"] == TINY_SIZES.resume_requests
    assert 0 < resume["on_disk_at_kill"] < resume["requests"], "the kill must land midway"
    for policy in ("cap", "force"):
        part = figures[policy]
        assert part["requests"] >= TINY_SIZES.requests and part["identical_requests"] == part["requests"]
        assert part["ratio"] > 0 and part["rounds"] == 1
        lengths = part["lengths"]
        assert lengths["min"] < lengths["median"] < TINY_SIZES.budget <= lengths["max"], lengths
    assert figures["cap"]["lengths"]["max"] == TINY_SIZES.budget
    sweep = figures["sweep"]
    assert sweep["identical_runs"] == sweep["runs"] == sweep["requests"] * len(TINY_SIZES.sweep_budgets)
    assert sweep["ratio_to_largest"] > 0 and sweep["ratio_to_per_budget"] > 0
    count = TINY_SIZES.resume_requests
    assert f"--deterministic resume: {count}/{count} generations identical" in done.stdout


def test_a_model_without_weight_files_runs_only_with_random_weights(tmp_path):
    model = write_model(tmp_path / "model", TINY)
    with pytest.raises(ModelError, match="load_format=dummy"):
        resolve_model(str(model))
    config = RunConfig(model=str(model), engine_args={"load_format": "dummy"})
    assert prepare(config).model_path == str(model.resolve())
