"""Servers that misbehave, and the keys they are sent: `harness run` against the scripted OpenAI-compatible
server on loopback (tests/judge_server.py), as the engine (`--engine openai`) and as the judge.

- The keys come from environment variables, reach their servers (the Authorization header) and appear in
  no file of the run directory and in nothing printed.
- An engine that fails mid-run stops the run with one line naming engine.log; what it finished is kept.
- A judge that fails (HTTP 500, or no answer in time) leaves those verdicts null and nothing else lost;
  scoring again asks the judge for those verdicts only.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from failure_fixtures import error_line, run_tiny, snapshot
from judge_server import JudgeServer

from harness.cli import main as cli_main
from harness.rundir import RunDir

ENGINE_KEY = f"sk-engine-{uuid.uuid4().hex}"
JUDGE_KEY = f"sk-judge-{uuid.uuid4().hex}"


def _server_run(model: Path, out: Path, engine_url: str, *extra: str) -> list[str]:
    return ["run", "--model", str(model), "--engine", "openai", "--engine-url", engine_url, "--bench", "sample",
            "--mode", "slow", "--budget", "16", "--limit", "8", "--out", str(out), "--quiet", *extra]


def _assert_no_key(files: dict[str, bytes], *keys: str) -> None:
    for name, data in files.items():
        for key in keys:
            assert key.encode() not in data, f"{name} holds a key"


def test_keys_reach_their_servers_and_no_file_of_the_run(tiny_text_dir, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("HARNESS_TEST_ENGINE_KEY", ENGINE_KEY)
    monkeypatch.setenv("HARNESS_TEST_JUDGE_KEY", JUDGE_KEY)
    out = tmp_path / "run"
    with JudgeServer() as engine, JudgeServer() as judge:
        code = cli_main(_server_run(tiny_text_dir, out, engine.url, "--engine-key-env", "HARNESS_TEST_ENGINE_KEY",
                                    "--judge-policy", "always", "--judge-url", judge.url,
                                    "--judge-model", "scripted-judge", "--judge-key-env", "HARNESS_TEST_JUDGE_KEY"))
        assert code == 0
        assert engine.requests and set(engine.authorizations) == {f"Bearer {ENGINE_KEY}"}
        assert judge.requests and set(judge.authorizations) == {f"Bearer {JUDGE_KEY}"}
        files = snapshot(out)
        assert {"manifest.json", "generations.jsonl", "scores.jsonl", "summary.json", "engine.log",
                "judge_cache/judge_cache.sqlite", ".lock"} <= set(files)
        _assert_no_key(files, ENGINE_KEY, JUDGE_KEY)
        manifest = RunDir(out).manifest()
        assert manifest["config"]["judge_key_env"] == "HARNESS_TEST_JUDGE_KEY"  # where to find it, not what it is

        # Re-scoring reads the judge from the manifest and its key from the variable the run named.
        shutil.rmtree(out / "judge_cache")
        asked = len(judge.requests)
        assert cli_main(["score", str(out)]) == 0
        assert len(judge.requests) > asked and set(judge.authorizations) == {f"Bearer {JUDGE_KEY}"}
        _assert_no_key(snapshot(out), ENGINE_KEY, JUDGE_KEY)
    printed = capfd.readouterr()  # the file descriptors: what the harness, the engine and its libraries print
    _assert_no_key({"stdout": printed.out.encode(), "stderr": printed.err.encode()}, ENGINE_KEY, JUDGE_KEY)


def test_an_engine_that_fails_mid_run_is_one_line_naming_engine_log_and_the_run_resumes(tiny_text_dir, tmp_path,
                                                                                        capsys):
    out = tmp_path / "run"
    with JudgeServer(faults=["ok"] * 3 + ["400"] * 100) as engine:
        argv = _server_run(tiny_text_dir, out, engine.url, "--engine-arg", "concurrency=1")
        assert cli_main(argv) == 2
        line = error_line(capsys.readouterr().err, "run")
        assert f"(engine log: {out / 'engine.log'})" in line and "400" in line
        assert "run the same command again to resume" in line
        kept = (out / "generations.jsonl").read_bytes()
        assert len(kept.splitlines()) == 3, "the generations finished before the failure are kept"

        engine.faults.clear()
        assert cli_main(argv) == 0
    assert (out / "generations.jsonl").read_bytes().startswith(kept)
    manifest = RunDir(out).manifest()
    assert len(RunDir(out).generations()) == manifest["benchmarks"]["sample"]["n_items"]


@pytest.fixture(scope="module")
def scored_run(tiny_text_dir, hf_text_engine, tmp_path_factory) -> Path:
    return run_tiny(tiny_text_dir, hf_text_engine, tmp_path_factory.mktemp("judged") / "run")


@pytest.mark.parametrize("fault", ["500", "timeout"])
def test_a_failing_judge_leaves_those_verdicts_null_and_scoring_again_asks_only_for_them(fault, scored_run,
                                                                                         tmp_path, capsys):
    out = Path(shutil.copytree(scored_run, tmp_path / "run"))
    inputs = {name: (out / name).read_bytes() for name in ("items.jsonl", "generations.jsonl")}
    rules = {(r["benchmark"], r["id"], r["sample_index"]): r for r in RunDir(out).scores()}
    n = len(rules)
    answered = 2
    with JudgeServer(faults=["ok"] * answered + [fault] * (n - answered), hang_s=3.0) as judge:
        argv = ["score", str(out), "--judge-url", judge.url, "--judge-model", "scripted-judge",
                "--judge-policy", "always", "--judge-retries", "0", "--judge-timeout", "1",
                "--judge-concurrency", "1"]
        assert cli_main(argv) == 0
        first = {(r["benchmark"], r["id"], r["sample_index"]): r for r in RunDir(out).scores()}
        failed = [key for key, row in first.items() if row["method"] == "judge_error"]
        assert len(failed) == n - answered and all(first[key]["correct"] is None for key in failed)
        assert sum(row["method"] == "judge" for row in first.values()) == answered
        assert set(first) == set(rules), "every generation keeps its verdict line"
        for key, row in first.items():  # the rules' own opinion survives the judge's failure
            assert (row["extracted"], row["rule_correct"]) == (rules[key]["extracted"], rules[key]["rule_correct"])
        assert {name: (out / name).read_bytes() for name in inputs} == inputs

        asked = len(judge.requests)
        assert cli_main(argv) == 0
        assert len(judge.requests) - asked == n - answered, "only the failed verdicts are asked again"
    second = {(r["benchmark"], r["id"], r["sample_index"]): r for r in RunDir(out).scores()}
    assert all(row["method"] == "judge" and row["correct"] is not None for row in second.values())
    for key in set(first) - set(failed):
        assert second[key] == first[key]
    capsys.readouterr()
