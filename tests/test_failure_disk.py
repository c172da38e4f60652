"""A disk that fills up during generation: one line naming the file, every generation written before kept,
and the same command resumes once there is space again (failure_fixtures.SmallDisk: a real full tmpfs where
the kernel allows the mount, else a real file-size limit on the harness process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from failure_fixtures import SmallDisk, error_line, harness, harness_env

from harness.config import build_config
from harness.rundir import RunDir
from harness.runner import run


@pytest.fixture()
def disk(tmp_path):
    small = SmallDisk(tmp_path / "disk")
    yield small
    small.close()


def _settings(tiny_text_dir, out, samples: int) -> dict:
    return dict(model=str(tiny_text_dir), benchmarks=["sample"], mode="slow", budget=16, samples=samples,
                out=str(out), dtype="float32", engine="hf")


def _flags(settings: dict) -> list[str]:
    return ["run", "--model", settings["model"], "--bench", "sample", "--mode", "slow", "--budget", "16",
            "--samples", str(settings["samples"]), "--dtype", "float32", "--engine", "hf", "--out", settings["out"],
            "--quiet"]


def test_a_full_disk_during_generation_is_one_line_and_the_run_resumes(tiny_text_dir, hf_text_engine, tmp_path, disk):
    seed = tmp_path / "seed"
    run(build_config({}, _settings(tiny_text_dir, seed, samples=1)), progress=False, engine=hf_text_engine)
    out = disk.copy_in(seed, "run")
    before = (out / "generations.jsonl").read_bytes()
    disk.fill(leave=16 * 1024)

    settings = _settings(tiny_text_dir, out, samples=4)
    failed = harness(_flags(settings), preexec_fn=disk.preexec)

    assert failed.returncode == 2, failed.stderr
    line = error_line(failed.stderr, "run")
    assert f"{out / 'generations.jsonl'}: cannot write ({disk.refusal})" in line
    assert "run the same command again" in line
    after = (out / "generations.jsonl").read_bytes()
    assert after.startswith(before), "the generations of the earlier run are kept as they were"
    written = [json.loads(row) for row in after[len(before):].split(b"\n")[:-1]]
    assert written, "generations finished before the disk filled are kept"
    assert len(RunDir(out).generations()) < 80, "the disk must fill mid-run"

    disk.release()
    run(build_config({}, settings), progress=False, engine=hf_text_engine)
    lines = (out / "generations.jsonl").read_bytes()
    assert lines.startswith(before)
    keys = [(row["benchmark"], row["id"], row["sample_index"]) for row in map(json.loads, lines.splitlines())]
    assert len(keys) == len(set(keys)) == 80, "20 items x 4 samples, each generated once"
    resumed = RunDir(out).generations()
    for row in written:
        assert resumed[(row["benchmark"], row["id"], row["sample_index"])]["token_ids"] == row["token_ids"]
    assert len(RunDir(out).scores()) == 80


def test_the_engine_log_keeps_draining_when_the_disk_is_full(tmp_path, disk):
    """The engine's output goes through a pipe to engine.log; a pump that stopped at a failed write would
    break the engine's next write (a broken pipe) or block it once the pipe (64 KiB) filled."""
    (disk.path / "engine.log").write_bytes(b"")
    disk.fill(leave=8 * 1024)
    script = textwrap.dedent(f"""
        import os, sys
        from harness.engines.logs import EngineLog
        with EngineLog({str(disk.path / "engine.log")!r}):
            for _ in range(64):
                os.write(1, b"x" * 16384)
        print("finished", file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script], env=harness_env(), capture_output=True, text=True,
                          timeout=60, preexec_fn=disk.preexec)
    assert done.returncode == 0 and "finished" in done.stderr, done.stderr
    assert 0 < (disk.path / "engine.log").stat().st_size <= 16 * 1024
