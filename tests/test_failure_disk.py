"""A disk that fills up during generation: one line naming the file, every generation written before kept,
and the same command resumes once there is space again (failure_fixtures.SmallDisk: a real full tmpfs where
the kernel allows the mount, else a real file-size limit on the harness process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from failure_fixtures import SmallDisk, error_line, harness, harness_env, run_tiny

from harness.rundir import RunDir


@pytest.fixture()
def disk(tmp_path):
    small = SmallDisk(tmp_path / "disk")
    yield small
    small.close()


def _flags(model, out, samples: int) -> list[str]:
    """`run_tiny`'s settings, without a limit, as the command line."""
    return ["run", "--model", str(model), "--bench", "sample", "--mode", "slow", "--budget", "16",
            "--samples", str(samples), "--dtype", "float32", "--engine", "hf", "--out", str(out), "--quiet"]


def test_a_full_disk_during_generation_is_one_line_and_the_run_resumes(tiny_text_dir, hf_text_engine, tmp_path, disk):
    seed = run_tiny(tiny_text_dir, hf_text_engine, tmp_path / "seed", limit=None)
    out = disk.copy_in(seed, "run")
    before = (out / "generations.jsonl").read_bytes()
    disk.fill(leave=16 * 1024)

    failed = harness(_flags(tiny_text_dir, out, samples=4), preexec_fn=disk.preexec)

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
    run_tiny(tiny_text_dir, hf_text_engine, out, samples=4, limit=None)
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
