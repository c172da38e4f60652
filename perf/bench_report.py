"""How fast and how big the HTML report is for a large run: 10,000 items x 5 samples (target < 10 s, < 25 MB).

Writes a synthetic run directory in the documented format (realistic lengths: thinking of a few
hundred to a few thousand characters, a 128 px JPEG thumbnail per item), then times `build_report`
end to end, reading the run directory included. Prints the measured figures and their ratios to the
targets side by side.

    python perf/bench_report.py [--items 10000] [--samples 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.report.report import write_report  # noqa: E402
from tests.runfixtures import RunSpec, make_items, prose, random_outcomes, write_run  # noqa: E402

TARGET_SECONDS = 10.0
TARGET_MB = 25.0


def synthetic_run(root: Path, n_items: int, samples: int) -> Path:
    rng = random.Random(0)
    subjects = ("algebra", "geometry", "physics", "chemistry", "biology", "art", "history", "economics")
    items = make_items("mmmu_val", n_items, subjects=subjects)
    lengths = {}

    def text(item, sample, correct, mode):
        words = rng.randint(50, 900)  # roughly 300 to 5,500 characters of thinking
        lengths[(item["id"], sample)] = words
        letter = item["answer"] if correct else "B"
        return f"{prose(rng, words)}</think>\nSo the answer is \\boxed{{{letter}}}. {prose(rng, 15)}"

    spec = RunSpec(items=items, outcomes=random_outcomes(items, samples, 0.6), samples=samples, text=text,
                   think_tokens=lambda item, sample: lengths.get((item["id"], sample), 300) * 4 // 3,
                   ban_keywords=["wait", "hmm", "alternatively"])
    return write_run(root, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="write the run directory here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    start = time.perf_counter()
    run_dir = root / "run"
    if not (run_dir / "scores.jsonl").exists():  # --keep reuses a run written before
        synthetic_run(run_dir, args.items, args.samples)
    print(f"wrote synthetic run in {time.perf_counter() - start:.1f} s: "
          f"{sum(p.stat().st_size for p in run_dir.iterdir()) / 1e6:.1f} MB on disk")
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start, cpu_start = time.perf_counter(), time.process_time()
    output = write_report([run_dir], run_dir / "report.html")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    megabytes = output.stat().st_size / 1e6
    print(f"report for {args.items:,} items x {args.samples} samples")
    print(f"  build time  {seconds:6.2f} s   target {TARGET_SECONDS:5.1f} s   ratio {seconds / TARGET_SECONDS:.2f}")
    print(f"  CPU time    {cpu:6.2f} s in the main process, {worker_cpu:.2f} s in thumbnail workers "
          f"(they overlap; {len(os.sched_getaffinity(0))} cores available; load average {os.getloadavg()[0]:.1f})")
    print(f"  file size   {megabytes:6.2f} MB  target {TARGET_MB:5.1f} MB  ratio {megabytes / TARGET_MB:.2f}")


if __name__ == "__main__":
    main()
