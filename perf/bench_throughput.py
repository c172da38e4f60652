"""Harness throughput against raw `LLM.generate` on the same engine, prompts, seeds and budgets (target >= 0.95).

One vLLM `LLM` serves both sides, so the comparison isolates what the harness adds: prompt rendering,
the engine wrapper, mode handling, writing generations.jsonl, and (for the sweep path) the shared-
budget cache. Raw and harness runs alternate (`--repeats` rounds) and the best of each is kept, to
damp the drift of a shared machine. Both sides produce the same tokens (asserted), so the ratio of
tokens per second is the ratio of times; a harness run is timed whole (writing and scoring included),
in wall time and in this process's CPU time (the engine runs in-process).

    python perf/bench_throughput.py --model tiny
    python perf/bench_throughput.py --model default --budget 256 --limit 32
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
for key, value in {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "4", "HF_HUB_OFFLINE": "1",
                   "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(key, value)

from perf.bench_sweep import CPU_ENGINE_ARGS, resolve  # noqa: E402


def timed(function, *args):
    """(result, wall seconds, CPU seconds of this process): the engine runs in-process, so CPU time
    counts its work and not other programs on a shared machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def raw_generate(engine, jobs, budget: int) -> int:
    """The same requests straight through `LLM.generate` (what a hand-written script would do)."""
    from vllm import SamplingParams

    prompts = [{"prompt": job.prompt} for job in jobs]
    params = [SamplingParams(n=1, temperature=1.0, top_p=1.0, seed=job.seed, max_tokens=budget,
                             skip_special_tokens=False, spaces_between_special_tokens=False) for job in jobs]
    results = engine.llm.generate(prompts, params, use_tqdm=False)
    return sum(len(r.outputs[0].token_ids) for r in results)


def harness_jobs(config):
    """The jobs the runner builds for `config` (same prompts and seeds), for the raw side."""
    from transformers import AutoTokenizer

    from harness.engines.generate import Job, sample_seed
    from harness.prompts import DEFAULT_SYSTEM, PromptBuilder, detect_family
    from harness.runner import drop_image_items, prepare

    prepared = prepare(config)
    drop_image_items(prepared)
    tokenizer = AutoTokenizer.from_pretrained(prepared.model_path)
    family = config.family or detect_family(prepared.model_path, tokenizer)
    builder = PromptBuilder(family, tokenizer, system=DEFAULT_SYSTEM)
    jobs = []
    for spec in prepared.specs:
        for sample in prepared.samples[spec.name]:
            prompt = builder.render(spec.render_prompt(sample), num_images=0, think=True)
            for k in range(config.samples):
                jobs.append(Job(spec.name, sample.id, k, prompt, sample_seed(config.seed, spec.name, sample.id, k)))
    return jobs


def harness_run(engine, config, out: Path, shared: bool) -> int:
    """One whole harness run (prompts, generation, generations.jsonl, scoring); its generated tokens."""
    from harness.runner import run
    from harness.sweep import SharedBudgetEngine

    wrapped = SharedBudgetEngine(engine, out.with_suffix(".cache.jsonl")) if shared else engine
    path = run(dataclasses.replace(config, out=str(out)), progress=False, engine=wrapped)
    return int(json.loads((path / "summary.json").read_text())["throughput"]["generated_tokens"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="tiny (built here), default (SmolLM2-135M) or a directory")
    parser.add_argument("--budget", type=int, default=512)
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from harness.config import RunConfig
    from harness.engines.vllm_engine import VLLMEngine

    root = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    model = resolve(args.model, root)
    engine = VLLMEngine(model, dtype="float32", seed=0, max_model_len=4096, engine_args=CPU_ENGINE_ARGS)
    config = RunConfig(model=model, benchmarks=["sample"], limit=args.limit, samples=args.samples, mode="slow",
                       budget=args.budget, dtype="float32", seed=2)
    jobs = harness_jobs(config)
    raw_generate(engine, jobs[:4], 8)  # first-call costs out of the way

    names = ("raw", "harness", "harness+sweep cache")
    best = {name: [float("inf"), float("inf")] for name in names}  # wall, CPU
    tokens: dict[str, int] = {}
    for round_index in range(args.repeats):
        for name in names:
            if name == "raw":
                count, wall, cpu = timed(raw_generate, engine, jobs, args.budget)
            else:
                out = root / f"{name.replace('+', '-').replace(' ', '-')}-{round_index}"
                count, wall, cpu = timed(harness_run, engine, config, out, name != "harness")
            tokens[name] = count
            best[name] = [min(best[name][0], wall), min(best[name][1], cpu)]
            print(f"round {round_index}: {name}: wall {wall:.2f} s, CPU {cpu:.2f} s", file=sys.stderr)
    engine.close()
    assert len(set(tokens.values())) == 1, f"the sides generated different token counts: {tokens}"

    print(f"model {model}  budget {args.budget}  {len(jobs)} requests  best of {args.repeats}")
    print(f"{'':22}{'tokens':>8}{'wall s':>9}{'tok/s':>8}{'ratio':>7}{'CPU s':>9}{'tok/CPU s':>10}{'ratio':>7}")
    raw_wall, raw_cpu = best["raw"]
    for name in names:
        wall, cpu = best[name]
        print(f"{name:22}{tokens[name]:>8}{wall:>9.2f}{tokens[name] / wall:>8.1f}{raw_wall / wall:>7.3f}"
              f"{cpu:>9.2f}{tokens[name] / cpu:>10.1f}{raw_cpu / cpu:>7.3f}")
    print("ratio = raw time / this time (harness runs include prompts, writing and scoring); target >= 0.95")


if __name__ == "__main__":
    main()
