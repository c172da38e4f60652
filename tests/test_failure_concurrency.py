"""Two processes, one run directory: the second is refused while the first runs; a run killed with SIGKILL
leaves no lock behind, and the run that resumes it counts each generation once.

The runs are real `harness run` processes with `--engine openai` against the scripted server on loopback
(tests/judge_server.py), which holds its answers after the first few: the first run is stopped mid-way for
exactly as long as the test needs, with no race against the clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator

import pytest
from failure_fixtures import error_line, harness, harness_env, snapshot, start_harness
from judge_server import JudgeServer

from harness.rundir import RunDir, RunDirError

FIRST_ANSWERS = 6


def _wait_for_lines(path: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_bytes().splitlines()) >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"the first run ended before it could be stopped: {process.stderr.read()[-2000:]}")
        time.sleep(0.05)
    pytest.fail(f"{path} did not reach {count} lines")


@pytest.fixture(scope="module")
def scenario(tiny_text_dir, tmp_path_factory):
    """First run stopped after FIRST_ANSWERS generations; a second started meanwhile; the first killed with
    SIGKILL; the same command again (resumes), and once more (nothing left to do)."""
    out = tmp_path_factory.mktemp("concurrent") / "run"
    with JudgeServer() as server:
        argv = ["run", "--model", str(tiny_text_dir), "--engine", "openai", "--engine-url", server.url,
                "--bench", "sample", "--mode", "slow", "--budget", "16", "--samples", "2", "--out", str(out),
                "--quiet"]
        server.pause_after(FIRST_ANSWERS)
        first = start_harness(argv)
        try:
            _wait_for_lines(out / "generations.jsonl", FIRST_ANSWERS, first)
            before_second = snapshot(out)
            started = time.monotonic()
            second = harness(argv, timeout=120)
            second_s = time.monotonic() - started
            after_second = snapshot(out)
            kept_after_kill = (out / "generations.jsonl").read_bytes()
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        stale_lock = (out / ".lock").read_text()
        server.resume()
        resumed = harness(argv)
        summary_after_resume = json.loads((out / "summary.json").read_text())
        posts = len(server.requests)
        again = harness(argv)
        posts_again = len(server.requests) - posts
    return dict(out=out, first_pid=first.pid, second=second, second_s=second_s, before_second=before_second,
                after_second=after_second, kept=kept_after_kill, stale_lock=stale_lock, resumed=resumed,
                summary_after_resume=summary_after_resume, again=again, posts_again=posts_again)


def test_a_second_run_on_the_same_directory_is_refused_at_once(scenario):
    second = scenario["second"]
    assert second.returncode == 2
    line = error_line(second.stderr, "run")
    assert f"{scenario['out']} is in use by another harness process (pid {scenario['first_pid']} " in line
    assert "wait for it to finish, or use another --out" in line
    assert scenario["second_s"] < 60, "refused, not left waiting on the server the first run holds"
    assert scenario["after_second"] == scenario["before_second"], "the refused run changed nothing"


def test_a_run_killed_with_sigkill_leaves_no_lock_that_blocks_the_next(scenario):
    assert f"pid {scenario['first_pid']} " in scenario["stale_lock"], "the killed run's note stays in .lock"
    assert scenario["resumed"].returncode == 0, scenario["resumed"].stderr[-2000:]
    assert (scenario["out"] / ".lock").read_text() == ""


def test_the_resumed_run_keeps_what_the_killed_one_finished_and_generates_the_rest_once(scenario):
    out = scenario["out"]
    lines = (out / "generations.jsonl").read_bytes()
    assert lines.startswith(scenario["kept"]) and len(scenario["kept"].splitlines()) >= FIRST_ANSWERS
    keys = [(row["benchmark"], row["id"], row["sample_index"]) for row in map(json.loads, lines.splitlines())]
    manifest = RunDir(out).manifest()
    assert len(keys) == len(set(keys)) == manifest["benchmarks"]["sample"]["n_items"] * 2


def test_summary_counts_what_the_directory_holds_once_and_keeps_each_invocation_apart(scenario):
    out = scenario["out"]
    generations = RunDir(out).generations().values()
    held_tokens = sum(g["think_tokens"] + g["answer_tokens"] for g in generations)
    killed = len(scenario["kept"].splitlines())

    resumed = scenario["summary_after_resume"]["throughput"]
    assert resumed["generated_tokens"] == held_tokens
    assert [i["requests"] for i in resumed["invocations"]] == [len(generations) - killed], \
        "the killed run recorded nothing; the resumed one generated only what was missing"
    assert resumed["engine_generated_tokens"] < held_tokens, "what the killed run generated is not the resumed one's"

    assert scenario["again"].returncode == 0 and scenario["posts_again"] == 0
    final = json.loads((out / "summary.json").read_text())["throughput"]
    assert final["generated_tokens"] == held_tokens, "a run with nothing to do adds no tokens"
    assert [i["requests"] for i in final["invocations"]] == [len(generations) - killed, 0]
    assert "generate_s" not in final["invocations"][1] and "load_s" not in final["invocations"][1]
    assert final["generate_s"] == resumed["generate_s"]


def test_a_forked_child_of_a_killed_run_does_not_hold_its_directory(tmp_path):
    """An engine may fork workers (vLLM forks its engine core by default) that outlive a killed run: the lock
    must die with the run itself."""
    holder = textwrap.dedent("""
        import os, sys, time
        from harness.rundir import RunDir
        with RunDir(sys.argv[1]).lock("a run whose engine forked"):
            child = os.fork()
            if child == 0:
                time.sleep(120)
                os._exit(0)
            print(child, flush=True)
            time.sleep(120)
    """)
    process = subprocess.Popen([sys.executable, "-c", holder, str(tmp_path)], env=harness_env(),
                               stdout=subprocess.PIPE, text=True)
    child = int(process.stdout.readline())
    try:
        with pytest.raises(RunDirError, match="in use by another harness process"):
            with RunDir(tmp_path).lock("test"):
                pass
        process.send_signal(signal.SIGKILL)
        process.wait()
        os.kill(child, 0)  # the forked child still runs
        with RunDir(tmp_path).lock("the next run"):
            pass
    finally:
        process.kill()
        os.kill(child, signal.SIGKILL)


def test_one_process_cannot_hold_a_directory_twice(tmp_path):
    with RunDir(tmp_path).lock("outer"):
        with pytest.raises(RunDirError, match="already being written by this process"):
            with RunDir(tmp_path / "." ).lock("inner"):
                pass
    with RunDir(tmp_path).lock("after"):
        pass



@contextlib.contextmanager
def held_by_another_process(path: Path) -> Iterator[None]:
    """`path` locked, for as long as the block runs, by a second harness process."""
    holder = textwrap.dedent("""
        import sys, time
        from harness.rundir import RunDir
        with RunDir(sys.argv[1]).lock("another command"):
            print("held", flush=True)
            time.sleep(120)
    """)
    process = subprocess.Popen([sys.executable, "-c", holder, str(path)], env=harness_env(), stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline().strip() == "held"
        yield
    finally:
        process.kill()
        process.wait()


def test_a_merge_into_a_directory_another_process_holds_writes_nothing(tmp_path):
    from harness.runner import merge

    out = tmp_path / "merged"
    with held_by_another_process(out):
        with pytest.raises(RunDirError, match="in use by another harness process"):
            merge([tmp_path / "shard-0", tmp_path / "shard-1"], out)
        assert sorted(p.name for p in out.iterdir()) == [".lock"], "the refused merge wrote into the directory"


def test_a_refused_merge_leaves_no_directory_behind(tmp_path):
    from harness.rundir import MergeError
    from harness.runner import merge

    with pytest.raises((MergeError, RunDirError)):
        merge([tmp_path / "no-such-shard"], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_a_sweep_into_a_directory_another_process_holds_reads_and_writes_nothing(tmp_path):
    from harness.config import build_config
    from harness.sweep import make_plan, run_sweep

    out = tmp_path / "sweep"
    plan = make_plan(build_config({}, {"model": str(tmp_path / "no-model"), "benchmarks": ["sample"]}), "slow",
                     [8, 16], "cap", out)
    with held_by_another_process(out):
        with pytest.raises(RunDirError, match="in use by another harness process"):
            run_sweep(plan, progress=False)  # refused before any model would load
        assert sorted(p.name for p in out.iterdir()) == [".lock"], "the refused sweep wrote into the directory"
