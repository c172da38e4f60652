"""What a budget sweep costs: `harness sweep` against one run at the largest budget and one run per budget.

All three share one vLLM engine in one process (loaded once, so load time is not in any figure) and
the same items, seeds and settings; each writes its own run directories. Printed side by side:
generated tokens and wall time of each, and the ratios (target: sweep <= 1.25x the largest run).

    python perf/bench_sweep.py --model tiny --budgets 64,128,256,512,1024
    python perf/bench_sweep.py --model default --budgets 64,128,256,512,1024 --limit 16 --policy force
    python perf/bench_sweep.py --model long-tail --items 250 --samples 4 --policy force   # 1,000 requests

`--items N` replaces the sample benchmark's items with N text items written as a JSONL benchmark
(as `perf/bench_throughput.py` does), for a sweep at user scale.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from perf.workload import CPU_ENGINE_ARGS, CPU_ENVIRONMENT, MODEL_CHOICES, bench_model, \
    write_text_benchmark  # noqa: E402

for _key, _value in CPU_ENVIRONMENT.items():
    os.environ.setdefault(_key, _value)


def generated(path: Path) -> tuple[int, float]:
    throughput = json.loads((path / "summary.json").read_text())["throughput"]
    return int(throughput.get("engine_generated_tokens", throughput["generated_tokens"])), float(throughput["wall_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help=MODEL_CHOICES)
    parser.add_argument("--budgets", default="64,128,256,512,1024")
    parser.add_argument("--mode", default="slow")
    parser.add_argument("--policy", default="cap", choices=["cap", "force"])
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--items", type=int, help="N text items as a JSONL benchmark instead of the sample benchmark")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--max-model-len", type=int, default=4096)
    args = parser.parse_args()

    from harness.config import RunConfig
    from harness.engines.vllm_engine import VLLMEngine
    from harness.runner import run
    from harness.sweep import make_plan, run_sweep

    root = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    budgets = sorted(int(b) for b in args.budgets.split(","))
    model = bench_model(args.model, root, budgets[-1])
    engine = VLLMEngine(model, dtype="float32", seed=0, max_model_len=args.max_model_len, engine_args=CPU_ENGINE_ARGS)
    data: dict[str, object] = {"benchmarks": ["sample"], "limit": args.limit}
    if args.items:
        benchmark = write_text_benchmark(root / "data", args.items)
        data = {"benchmarks": [str(benchmark)], "data_dir": str(benchmark.parent)}
    base = RunConfig(model=model, samples=args.samples, mode=args.mode, budget_policy=args.policy, answer_budget=64,
                     dtype="float32", seed=1, **data)

    # Warm the engine (first-call costs) on a throwaway run, so the first measured run is not penalised.
    run(dataclasses.replace(base, budget=8, limit=2, out=str(root / "warmup")), progress=False, engine=engine)

    started = time.perf_counter()
    largest = run(dataclasses.replace(base, budget=budgets[-1], out=str(root / "largest")), progress=False, engine=engine)
    largest_wall = time.perf_counter() - started
    largest_tokens, _ = generated(largest)

    started = time.perf_counter()
    independent_tokens = 0
    for budget in budgets:
        path = run(dataclasses.replace(base, budget=budget, out=str(root / f"independent-{budget}")), progress=False,
                   engine=engine)
        independent_tokens += generated(path)[0]
    independent_wall = time.perf_counter() - started

    started = time.perf_counter()
    sweep_dir = run_sweep(make_plan(base, [args.mode], budgets, args.policy, root / "sweep"), engine=engine,
                          progress=False)
    sweep_wall = time.perf_counter() - started
    index = json.loads((sweep_dir / "sweep.json").read_text())
    sweep_tokens = index["cost"]["engine_generated_tokens"]

    # The largest run again, last: the machine's load drifts, so the faster of the two is its cost.
    started = time.perf_counter()
    run(dataclasses.replace(base, budget=budgets[-1], out=str(root / "largest-again")), progress=False, engine=engine)
    largest_wall = min(largest_wall, time.perf_counter() - started)
    engine.close()

    print(f"model {model}  mode {args.mode}  policy {args.policy}  budgets {budgets}  "
          f"items {args.items or args.limit} x {args.samples} samples")
    print(f"{'':28}{'generated tokens':>18}{'wall s':>10}")
    print(f"{'largest budget, one run*':28}{largest_tokens:>18}{largest_wall:>10.1f}")
    print(f"{'one run per budget':28}{independent_tokens:>18}{independent_wall:>10.1f}")
    print(f"{'harness sweep':28}{sweep_tokens:>18}{sweep_wall:>10.1f}")
    print(f"sweep / largest:      tokens {sweep_tokens / largest_tokens:.3f}  wall {sweep_wall / largest_wall:.3f}"
          "  (target <= 1.25)")
    print(f"independent / largest: tokens {independent_tokens / largest_tokens:.3f}  "
          f"wall {independent_wall / largest_wall:.3f}")
    print("* the faster of two identical runs, one before and one after the others")
    own = next(entry["wall_s"] for entry in index["runs"] if entry["budget"] == budgets[-1])
    print(f"sweep / its own largest-budget run ({own:.1f} s, the same tokens): wall {sweep_wall / own:.3f}")
    for entry in index.get("prefetch", []):
        during = entry.get("during_largest_run", {})
        print(f"answers generated ahead for the smaller budgets: {entry['requests']} requests, "
              f"{entry['engine_generated_tokens']} tokens; {during.get('requests', 0)} of them during the largest "
              f"run, the rest after it in {entry['wall_s']:.1f} s")
    print(f"sweep / independent:  tokens {sweep_tokens / independent_tokens:.3f}  "
          f"wall {sweep_wall / independent_wall:.3f}")


if __name__ == "__main__":
    main()
