"""Scale-out on CPU: data-parallel replicas, `--shard i/N` + `harness merge`, and the Ray Data executor.

Every path runs for real on the tiny model: two vLLM replicas in worker processes, shards written by
the runner and merged by the CLI, and a local Ray cluster running Ray Data's vLLM stage on CPU
(replicas placed on CPU bundles instead of GPUs). GPU placement itself cannot run here; the
assignment of GPU groups to replicas is tested as the function that computes it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.cli import main as cli
from harness.config import ConfigError, RunConfig, SamplingSettings, validate
from harness.engines import EngineRequest, create_engine
from harness.engines.data_parallel import DataParallelError, gpu_groups
from harness.engines.generate import GenerationSettings, Job, generate
from harness.rundir import MergeError, merge_shards
from harness.runner import run
from harness.rundir import RunDir
from tests import sweep_fixtures

PROMPTS = [f"<|im_start|>user\nWhat is {i} * 3?<|im_end|>\n<|im_start|>assistant\n<think>\n" for i in range(7)]
FIELDS = ("token_ids", "text", "finish_reason", "forced", "think_tokens", "answer_tokens", "seed")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sweep_fixtures.tiny_text_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def engine(model_dir: Path):
    return sweep_fixtures.vllm_engine(model_dir)


def requests() -> list[EngineRequest]:
    return [EngineRequest(p, 50 + i, 40, stop=["</think>"] if i % 3 == 0 else []) for i, p in enumerate(PROMPTS)]


def rows(path: Path) -> dict:
    return {key: {f: row[f] for f in FIELDS} for key, row in RunDir(path).generations().items()}


def test_replicas_get_disjoint_gpu_groups_of_the_tensor_parallel_size():
    assert gpu_groups(["0", "1", "2", "3", "4", "5", "6", "7"], 2, 4) == [["0", "1", "2", "3"], ["4", "5", "6", "7"]]
    assert gpu_groups(["3", "5"], 2, 1) == [["3"], ["5"]]


def test_too_few_gpus_for_the_replicas_is_named():
    with pytest.raises(DataParallelError, match="needs 8 GPUs, but 4 are visible"):
        gpu_groups(["0", "1", "2", "3"], 2, 4)




@pytest.mark.parametrize("shard", ["2/2", "a/3", "1", "-1/2"])
def test_a_malformed_shard_is_refused(shard):
    with pytest.raises(ConfigError, match="--shard"):
        validate(RunConfig(shard=shard))


def test_data_parallel_does_not_apply_to_a_server():
    with pytest.raises(ConfigError, match="concurrency"):
        validate(RunConfig(engine="openai", data_parallel_size=2))


@pytest.mark.slow
def test_two_replicas_give_the_single_engines_tokens_in_order(engine, model_dir):
    replicas = create_engine("vllm", str(model_dir), data_parallel_size=2, dtype="float32", seed=0, max_model_len=1024)
    try:
        progressed = []
        parallel = replicas.generate(requests(), SamplingSettings(), progressed.append)
        # Force pushes each answer phase while the replicas stream: the pipeline works across processes too.
        jobs = [Job("t", f"q{i}", 0, prompt, 70 + i) for i, prompt in enumerate(PROMPTS)]
        force = GenerationSettings(mode="slow", budget=6, budget_policy="force", answer_budget=5)
        forced_parallel = generate(replicas, jobs, force)
    finally:
        replicas.close()
    single = engine.generate(requests(), SamplingSettings())
    assert [o.token_ids for o in parallel] == [o.token_ids for o in single]
    assert [(o.text, o.finish_reason, o.stopped_on) for o in parallel] == \
        [(o.text, o.finish_reason, o.stopped_on) for o in single]
    assert sum(progressed) == len(PROMPTS)
    assert [g.text for g in forced_parallel] == [g.text for g in generate(engine, jobs, force)]


@pytest.mark.slow
def test_a_replica_that_cannot_start_is_named(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DataParallelError, match="replica 0 of 2 failed to start"):
        create_engine("hf", str(tmp_path), data_parallel_size=2)


@pytest.mark.slow
def test_merged_shards_equal_the_unsharded_run(engine, model_dir, tmp_path):
    config = RunConfig(model=str(model_dir), benchmarks=["sample"], limit=7, samples=2, budget=24, mode="nowait",
                       family="chatml", seed=11)
    whole = run(dataclasses.replace(config, out=str(tmp_path / "whole")), progress=False, engine=engine)
    shards = [run(dataclasses.replace(config, shard=f"{i}/3", out=str(tmp_path / f"shard{i}")), progress=False,
                  engine=engine) for i in (2, 0, 1)]
    assert cli(["merge", *map(str, shards), "--out", str(tmp_path / "merged")]) == 0
    merged = tmp_path / "merged"
    assert rows(merged) == rows(whole)
    assert [(r["benchmark"], r["id"]) for r in map(json.loads, (merged / "items.jsonl").read_text().splitlines())] == \
        [(r["benchmark"], r["id"]) for r in map(json.loads, (whole / "items.jsonl").read_text().splitlines())]
    merged_summary = json.loads((merged / "summary.json").read_text())
    whole_summary = json.loads((whole / "summary.json").read_text())
    assert merged_summary["benchmarks"] == whole_summary["benchmarks"]
    assert merged_summary["throughput"]["generated_tokens"] == whole_summary["throughput"]["generated_tokens"]
    # The merged directory is the unsharded run: the same command resumes it and finds nothing to do.
    before = (merged / "generations.jsonl").read_text()
    run(dataclasses.replace(config, out=str(merged)), progress=False, engine=engine)
    assert (merged / "generations.jsonl").read_text() == before


@pytest.mark.slow
def test_merge_refuses_missing_duplicate_and_mismatched_shards(engine, model_dir, tmp_path):
    config = RunConfig(model=str(model_dir), benchmarks=["sample"], limit=4, budget=8, family="chatml")
    first = run(dataclasses.replace(config, shard="0/2", out=str(tmp_path / "s0")), progress=False, engine=engine)
    second = run(dataclasses.replace(config, shard="1/2", out=str(tmp_path / "s1")), progress=False, engine=engine)
    other = run(dataclasses.replace(config, shard="1/2", sampling=SamplingSettings(temperature=0.5),
                                    out=str(tmp_path / "o1")), progress=False,
                engine=engine)
    with pytest.raises(MergeError, match=r"shards \[1\] of 2 are missing"):
        merge_shards([first], tmp_path / "m1")
    with pytest.raises(MergeError, match="shard 0 appears twice"):
        merge_shards([first, first, second], tmp_path / "m2")
    with pytest.raises(MergeError, match="temperature"):
        merge_shards([first, other], tmp_path / "m3")
    lines = (second / "generations.jsonl").read_text().splitlines()
    (second / "generations.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(MergeError, match="incomplete"):
        merge_shards([first, second], tmp_path / "m4")


@pytest.mark.slow
def test_the_ray_executor_gives_the_offline_engines_tokens(engine, model_dir):
    pytest.importorskip("ray.data.llm", reason="the ray extra (ray[data]) is not installed")
    ray_engine = create_engine(
        "ray", str(model_dir), dtype="float32", max_model_len=1024,
        engine_args={"enforce_eager": True, "placement_group_config": {"bundles": [{"CPU": 1}]},
                     "runtime_env": {"env_vars": dict(sweep_fixtures.FAST_VLLM_ENV)}})
    try:
        through_ray = ray_engine.generate(requests(), SamplingSettings())
    finally:
        ray_engine.close()
    single = engine.generate(requests(), SamplingSettings())
    assert [o.token_ids for o in through_ray] == [o.token_ids for o in single]
    assert [(o.text, o.finish_reason, o.stopped_on, o.prompt_tokens) for o in through_ray] == \
        [(o.text, o.finish_reason, o.stopped_on, o.prompt_tokens) for o in single]
