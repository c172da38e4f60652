"""`harness run` on the vLLM engine as a user runs it: a real process, streamed results, a real SIGKILL.

Each generation is on disk the moment it finishes, so a kill loses only the requests in flight: every
generation the progress bar had counted when the kill landed is in generations.jsonl. With
`--deterministic` (on CPU: one request at a time, no prefix caching) the outputs do not depend on which
requests shared a batch, so the killed-and-resumed run gives exactly the texts of an uninterrupted one.
The console shows the bar and the table; vLLM's own log lines go to engine.log.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _argv(model: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "harness", "run", "--model", str(model), "--bench", "sample", "--mode", "slow",
            "--budget", "96", "--samples", "4", "--dtype", "float32", "--max-model-len", "1024", "--seed", "4",
            "--deterministic", "--out", str(out), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def _texts(run_dir: Path) -> dict[tuple[str, int], str]:
    rows = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines() if line.strip()]
    return {(row["id"], row["sample_index"]): row["text"] for row in rows}


def test_a_killed_run_loses_nothing_it_counted_and_resumes_to_the_uninterrupted_texts(tiny_text_dir, tmp_path):
    reference = subprocess.run(_argv(tiny_text_dir, tmp_path / "reference", "--quiet"), env=_env(),
                               capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = _texts(tmp_path / "reference")
    assert len(expected) == 80  # 20 text items x 4 samples

    out = tmp_path / "killed"
    process = subprocess.Popen(_argv(tiny_text_dir, out), env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(process.stderr.fileno(), 4096), b"")),
                              daemon=True)
    reader.start()
    counted, deadline = 0, time.time() + 300
    while time.time() < deadline and counted < 20:
        console = b"".join(chunks).decode(errors="replace")
        counts = re.findall(r"generating:.*?(\d+)/80", console)
        counted = int(counts[-1]) if counts else 0
        if process.poll() is not None:
            raise AssertionError(f"the run ended before it could be killed:\n{console[-3000:]}")
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    on_disk = _texts(out)
    reader.join(timeout=10)
    console = b"".join(chunks).decode(errors="replace")
    assert counted >= 20 and len(on_disk) >= counted, f"the bar had counted {counted}, the file holds {len(on_disk)}"
    assert len(on_disk) < 80, "the kill must land mid-run"
    # vLLM's loader prints its progress (and, at its default log level, INFO lines) while the engine starts.
    engine_log = (out / "engine.log").read_text(errors="replace")
    assert "checkpoint shards" in engine_log, engine_log[-2000:]
    assert "checkpoint shards" not in console and " INFO " not in console, "the engine's output belongs in engine.log"

    resumed = subprocess.run(_argv(tiny_text_dir, out, "--quiet"), env=_env(), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _texts(out) == expected
    lines = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines() if line.strip()]
    assert len(lines) == len({(row["id"], row["sample_index"]) for row in lines}), "nothing generated twice"


def _keys(path: Path) -> set[tuple[str, int]]:
    """(item, sample) of every whole line of a JSONL file being written (a torn last line is left out)."""
    keys = set()
    if path.exists():
        for line in path.read_text(errors="replace").split("\n"):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            keys.add((row["id"], row["sample_index"]))
    return keys


def test_a_run_killed_between_a_thought_and_its_answer_keeps_the_thought(tiny_text_dir, tmp_path):
    """Under `force`, a thought is on disk (thoughts.jsonl) before its answer phase is queued: a SIGKILL that lands
    while answers are pending loses none of those thoughts, and the resumed run answers them without thinking
    again, ending with the uninterrupted run's texts (`--deterministic`) and no thoughts.jsonl left."""
    force = ("--budget-policy", "force", "--answer-budget", "64")
    reference = subprocess.run(_argv(tiny_text_dir, tmp_path / "reference", "--quiet", *force), env=_env(),
                               capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = _texts(tmp_path / "reference")
    assert not (tmp_path / "reference" / "thoughts.jsonl").exists(), "a finished run keeps no thoughts"

    out = tmp_path / "killed"
    process = subprocess.Popen(_argv(tiny_text_dir, out, "--quiet", *force), env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    pending: set = set()
    deadline = time.time() + 300
    while time.time() < deadline:
        answered = _keys(out / "generations.jsonl")
        if len(answered) >= 10 and _keys(out / "thoughts.jsonl") - answered:
            # Frozen, the run cannot write the pending answer between this check and the kill: it is killed only
            # in the state checked, and let go on otherwise.
            process.send_signal(signal.SIGSTOP)
            _, status = os.waitpid(process.pid, os.WUNTRACED)  # returns once the run is stopped
            assert os.WIFSTOPPED(status), "the run ended before it could be killed"
            pending = _keys(out / "thoughts.jsonl") - _keys(out / "generations.jsonl")
            if pending:
                break
            process.send_signal(signal.SIGCONT)
        if process.poll() is not None:
            raise AssertionError("the run ended before it could be killed")
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    pending = _keys(out / "thoughts.jsonl") - _keys(out / "generations.jsonl")
    assert pending, "the kill must land while a thought awaits its answer"

    resumed = subprocess.run(_argv(tiny_text_dir, out, *force), env=_env(), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"note: thoughts.jsonl: {len(pending)} kept from before, answered without thinking again" in resumed.stderr
    assert _texts(out) == expected
    assert not (out / "thoughts.jsonl").exists()
