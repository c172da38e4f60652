"""What a SIGKILL costs a streaming `harness run`: generations lost, and seconds lost once the run is resumed.

Each repetition runs the same `harness run` three times as a child process: uninterrupted; killed with
SIGKILL once `--kill-at` of its generations are on disk; resumed (the same command again). Reported:

- at the kill: generations on disk (lines of generations.jsonl, read after the process is dead) against
  generations the engine had finished by then, and the requests in flight (taken by the engine, not
  finished: their partial work is what a kill throws away). The engine's side is measured by a timing
  log the child writes: the child is `harness run` with `VLLMEngine.stream` wrapped so that every
  request the engine takes and every output it hands back is logged (written and flushed, so a
  SIGKILL cannot lose it) before the harness sees it. Finished minus on disk is what the harness lost
  of finished work.
- seconds lost = (time to the kill + time of the resumed run) - time of the uninterrupted run, each the
  child process's whole wall time; and the resumed run's start-up (launch to its first engine request),
  the fixed part of that cost.
- the resumed run directory is checked: every (item, sample) once, and every generation on disk at the
  kill kept as it was.
- with `--policy force`, also: thoughts the engine had finished whose answers were not on disk at the kill
  (what a kill between a job's two phases puts at risk) against the thoughts kept in thoughts.jsonl, and
  the thinking phases the resumed run started (a thought kept is answered without thinking again).

    python perf/bench_kill.py                                   # long-tail model, 1,000 requests, 3 repetitions
    python perf/bench_kill.py --requests 4000 --budget 1024 --kill-at 0.3,0.6,0.9
    python perf/bench_kill.py --policy force --kill-at 0.3,0.6,0.9
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from perf.workload import CPU_ENVIRONMENT, REPO, add_workload_arguments, workload  # noqa: E402

STARTED, FINISHED = "taken", "finished"
THOUGHT = "thought"  # a first phase finished under force (a thought, or a turn that ended inside its thought)


def install_timing_log(path: Path) -> None:
    """Wrap `VLLMEngine.stream` so that each request taken and each output handed back is logged first."""
    from harness.engines.vllm_engine import VLLMEngine

    original = VLLMEngine.stream
    log = path.open("a", encoding="utf-8")

    def note(event: str) -> None:
        log.write(f"{event} {time.time():.6f}\n")
        log.flush()

    class LoggedFeed:
        def __init__(self, feed: Any) -> None:
            self.feed = feed

        def pull(self) -> Any:
            item = self.feed.pull()
            if item is not None:
                note(STARTED + ("" if item[0][1] == 1 else "2"))  # tags are (job, phase)
            return item

    def stream(self: Any, feed: Any, sampling: Any) -> Any:
        for tag, output in original(self, LoggedFeed(feed), sampling):
            note(FINISHED if tag[1] == 1 else FINISHED + "2")
            yield tag, output

    VLLMEngine.stream = stream


def child(log: str, harness_args: list[str]) -> int:
    install_timing_log(Path(log))
    from harness.cli import main as harness_main

    return harness_main(harness_args)


class LineCounter:
    """Counts the lines of a file that another process appends to, reading only what is new."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.lines = path, 0, 0

    def count(self) -> int:
        if self.path.exists():
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
            self.offset += len(chunk)
            self.lines += chunk.count(b"\n")
        return self.lines


def launch(harness_args: list[str], log: Path) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, **{k: os.environ.get(k, v) for k, v in CPU_ENVIRONMENT.items()}, "PYTHONPATH": str(REPO)}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(log), "--", *harness_args]
    started = time.time()
    # In its own process group, so that a kill takes the child and any process it started, as when a job is
    # pre-empted.
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    return process, started


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL to the process and everything in its process group (an engine core process, workers)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # already gone
        pass
    process.wait()


def finish(process: subprocess.Popen, started: float, what: str) -> float:
    _, stderr = process.communicate()
    if process.returncode != 0:
        sys.exit(f"bench_kill: the {what} run failed ({process.returncode}): {stderr.decode()[-2000:]}")
    return time.time() - started


def events(log: Path, until: float = float("inf")) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {STARTED: [], FINISHED: [], STARTED + "2": [], FINISHED + "2": []}
    if log.exists():
        for line in log.read_text().splitlines():
            event, _, stamp = line.partition(" ")
            if event in times and float(stamp) <= until:
                times[event].append(float(stamp))
    return times


def rows(path: Path) -> list[dict[str, Any]]:
    """A JSONL file's rows as the harness reads them: lines end at "\n" only (a text may hold U+2028 or
    U+0085), and a torn last line at a kill is not a row."""
    from harness.rundir import read_jsonl

    return list(read_jsonl(path))


def generations(written: list[dict[str, Any]]) -> dict[tuple[str, str, int], list[int]]:
    """Token ids per (benchmark, id, sample index) of generations.jsonl's rows (the last, where one repeats)."""
    return {(r["benchmark"], r["id"], r["sample_index"]): r["token_ids"] for r in written}


def repetition(harness_args: list[str], root: Path, index: int, total: int, kill_at: float) -> dict[str, Any]:
    """One uninterrupted run, then one killed at `kill_at` of the generations and resumed."""
    whole_dir, cut_dir = root / f"whole-{index}", root / f"killed-{index}"
    process, started = launch([*harness_args, "--out", str(whole_dir)], root / f"whole-{index}.log")
    whole_s = finish(process, started, "uninterrupted")

    log = root / f"killed-{index}.log"
    process, started = launch([*harness_args, "--out", str(cut_dir)], log)
    counter = LineCounter(cut_dir / "generations.jsonl")
    while counter.count() < kill_at * total:
        if process.poll() is not None:
            sys.exit(f"bench_kill: the run ended before {kill_at:.0%} of its generations were on disk; "
                     f"raise --requests or lower --kill-at ({process.stderr.read().decode()[-1000:]})")
        time.sleep(0.01)
    killed_at = time.time()
    kill_group(process)
    to_kill_s = killed_at - started
    on_disk = generations(rows(cut_dir / "generations.jsonl"))
    kept = {(r["benchmark"], r["id"], r["sample_index"]) for r in rows(cut_dir / "thoughts.jsonl")} - set(on_disk)
    engine = events(log, until=killed_at)

    resume_log = root / f"resumed-{index}.log"
    process, resume_started = launch([*harness_args, "--out", str(cut_dir)], resume_log)
    resume_s = finish(process, resume_started, "resumed")
    written = rows(cut_dir / "generations.jsonl")
    resumed, lines = generations(written), len(written)
    assert len(resumed) == total and lines == total, f"resumed run: {len(resumed)} (item, sample)s in {lines} lines, " \
                                                     f"expected {total} once each"
    changed = [key for key, tokens in on_disk.items() if resumed[key] != tokens]
    assert not changed, f"generations on disk at the kill were rewritten: {changed[:3]}"
    resume_events = events(resume_log)
    resume_startup_s = (min(resume_events[STARTED]) - resume_started) if resume_events[STARTED] else resume_s
    # A generation is finished when its last phase is: under force, an answer, or a first phase that ended the
    # turn inside its thought (a first phase finished and not on disk is a thought awaiting its answer).
    finished = len(engine[FINISHED + "2"]) + len(engine[FINISHED]) - len(engine[STARTED + "2"])
    figures = {"uninterrupted_s": whole_s, "to_kill_s": to_kill_s, "resumed_s": resume_s,
               "lost_s": to_kill_s + resume_s - whole_s, "resumed_startup_s": resume_startup_s,
               "on_disk": len(on_disk), "finished_by_engine": finished,
               "in_flight": len(engine[STARTED]) + len(engine[STARTED + "2"]) - len(engine[FINISHED])
               - len(engine[FINISHED + "2"]),
               "thoughts_awaiting": len(engine[FINISHED]) - len(on_disk) if engine[STARTED + "2"] else 0,
               "thoughts_kept": len(kept),
               "rethought": len(resume_events[STARTED]) - (total - len(on_disk) - len(kept)),
               "regenerated": len(resume_events[FINISHED]) + len(resume_events[FINISHED + "2"])}
    print(f"repetition {index + 1}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                                  for k, v in figures.items()), file=sys.stderr, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_workload_arguments(parser)
    parser.add_argument("--kill-at", default="0.5", help="share(s) of the generations on disk at which to kill, "
                                                         "comma-separated, one per repetition in turn (default 0.5)")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--policy", choices=("cap", "force"), default="cap", help="the runs' --budget-policy")
    parser.add_argument("--answer-budget", type=int, default=64, help="force: tokens for the answer (default 64)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: run `harness` with the timing log
    args, rest = parser.parse_known_args()
    if args.child:
        sys.exit(child(args.child, rest[1:] if rest[:1] == ["--"] else rest))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")

    root = Path(tempfile.mkdtemp(prefix="bench-kill-"))
    model, benchmark = workload(args, root)
    total = len(rows(benchmark.parent / "text_items.jsonl")) * args.samples
    harness_args = ["run", "--model", model, "--bench", str(benchmark), "--data-dir", str(benchmark.parent),
                    "--mode", "slow", "--budget", str(args.budget), "--samples", str(args.samples),
                    "--dtype", "float32", "--max-model-len", "4096", "--quiet"]
    if args.policy == "force":
        harness_args += ["--budget-policy", "force", "--answer-budget", str(args.answer_budget)]
    shares = [float(s) for s in args.kill_at.split(",")]
    print(f"model {model}  {total} requests  budget {args.budget} ({args.policy})  "
          f"kill at {args.kill_at} of the generations  "
          f"machine load average {os.getloadavg()[0]:.1f}")
    results = [repetition(harness_args, root, i, total, shares[i % len(shares)]) for i in range(args.repetitions)]
    print(f"{'repetition':>10}{'kill at':>9}{'on disk':>9}{'finished':>10}{'in flight':>11}{'to kill s':>11}"
          f"{'resumed s':>11}{'whole s':>9}{'lost s':>8}{'restart s':>11}"
          + (f"{'awaiting':>10}{'kept':>6}{'rethought':>11}" if args.policy == "force" else ""))
    for index, r in enumerate(results):
        print(f"{index + 1:>10}{shares[index % len(shares)]:>9.2f}{r['on_disk']:>9}{r['finished_by_engine']:>10}"
              f"{r['in_flight']:>11}{r['to_kill_s']:>11.1f}{r['resumed_s']:>11.1f}{r['uninterrupted_s']:>9.1f}"
              f"{r['lost_s']:>8.1f}{r['resumed_startup_s']:>11.1f}"
              + (f"{r['thoughts_awaiting']:>10}{r['thoughts_kept']:>6}{r['rethought']:>11}" if args.policy == "force"
                 else ""))
    lost = [r["lost_s"] for r in results]
    print(f"seconds lost: median {statistics.median(lost):.1f} (range {min(lost):.1f}-{max(lost):.1f}); finished "
          f"generations lost at the kill: {sum(r['finished_by_engine'] - r['on_disk'] for r in results)} over "
          f"{len(results)} kills; 'restart s' is the resumed run's launch to its first engine request")
    print(f"machine load average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": model, "requests": total, "budget": args.budget,
                                               "repetitions": results}, indent=2))


if __name__ == "__main__":
    main()
