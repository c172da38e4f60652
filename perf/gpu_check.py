"""One GPU check, no downloads, under 8 minutes on one H100/H200: harness against raw vLLM, and an exact resume.

The model is a real architecture at its real size from a config alone: a Qwen2.5-7B-shaped config.json
and a byte-level BPE tokenizer built here (its ids are below the config's vocab_size), weights drawn at
random by vLLM (`load_format="dummy"`). In the benchmark's own engine the output layer is then set
(`LLM.apply_model`) so that the end of the turn and `</think>` each come with a small constant
probability per token: lengths spread from a few tokens to the budget, as a thinking model's do.

1. `--deterministic` resume: `harness run --deterministic` as a child process three times: uninterrupted;
   SIGKILLed once half its generations are on disk; resumed. Every (item, sample) must have the same
   text and tokens in both run directories. (The children draw the same random weights without the
   output-layer setting, so their requests run to the budget.)
2. `cap`: a whole `harness run` against one `LLM.generate` over all requests (target >= 0.98).
3. `force`: the harness's pipelined force against raw two-call forcing (target >= 1.0).
4. `sweep`: `harness sweep` over 5 budgets against one raw `LLM.generate` at the largest budget (target:
   at most 1.25x its time, a ratio >= 0.8) and against one raw call per budget.
Throughput ratios are tokens per second, harness over raw: the median of each round's ratio, rounds that
alternate A B, B A with the prefix cache emptied before each side (after an untimed warm-up at a small
budget; as many rounds as `--rounds` asks and the 7-minute plan allows); the share of requests with the
same tokens on both sides is reported (without batch-invariant kernels a GPU may sample a request
differently in another batch). Figures go to `--out` (JSON, rewritten after each part) and to the console.
`--tiny` runs the same on CPU with the tiny test model's shape and a few dozen requests
(tests/test_gpu_check.py runs it in CI).

    bash perf/gpu_check.sh                      # one H100/H200
    bash perf/gpu_check.sh --tiny               # CPU, about a minute
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from perf.bench_kill import LineCounter, kill_group, rows  # noqa: E402
from perf.bench_throughput import TARGETS, harness_run, raw_cap, raw_two_call_force, run_jobs, warm_up, \
    written_tokens  # noqa: E402
from perf.workload import CPU_ENVIRONMENT, REPO, alternate, format_spread, spread, write_text_benchmark  # noqa: E402

QWEN25_7B = {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
             "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 32768,
             "rope_theta": 1000000.0, "torch_dtype": "bfloat16"}
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 1, "head_dim": 32, "vocab_size": None, "max_position_embeddings": 4096,
        "rope_theta": 10000.0, "torch_dtype": "float32"}  # tests/tiny_models.py's text model; vocab: the tokenizer's
SWEEP_TARGET = 0.8  # raw largest-budget time / sweep time: the sweep costs at most 1.25x the largest run
# Per-token probabilities for a budget B: the turn ends at 2/B (13% of responses reach the budget), a
# thought ends with </think> at 2/B.
END_PER_BUDGET = 2.0
THINK_END_PER_BUDGET = 2.0
RESUME_CHILD_TIMEOUT_S = 150


@dataclasses.dataclass
class Sizes:
    requests: int
    samples: int
    budget: int
    answer_budget: int
    sweep_budgets: list[int]
    resume_requests: int
    resume_budget: int
    dtype: str
    deadline_s: float


GPU_SIZES = Sizes(2000, 4, 512, 128, [32, 64, 128, 256, 512], 128, 64, "bfloat16", 420.0)
TINY_SIZES = Sizes(48, 2, 64, 16, [4, 8, 16, 32, 64], 12, 16, "float32", 600.0)


def write_model(directory: Path, shape: dict[str, Any]) -> Path:
    """config.json and tokenizer files of a Qwen2 model of `shape`; no weights (vLLM draws them)."""
    from tests.tiny_models import build_tokenizer

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(directory)
    vocab = shape["vocab_size"] or len(tokenizer)
    assert len(tokenizer) <= vocab, "every token id must be below vocab_size"
    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
              "rms_norm_eps": 1e-6, "tie_word_embeddings": False, "use_sliding_window": False, **shape,
              "vocab_size": vocab, "max_window_layers": shape["num_hidden_layers"],
              "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
              "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>")}
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    (directory / "generation_config.json").write_text(json.dumps({"eos_token_id": config["eos_token_id"]}))
    return directory


def set_end_probabilities(model: Any, vocab: int, end_id: int, think_id: int, end: float, think: float) -> float:
    """Run inside the engine on its model (random weights): make the final hidden state's dimension 0 a constant
    (a constant embedding component, a unit final-norm weight on it) and put all of the end-of-turn and `</think>`
    rows' weight there, so their logits are constant; every other logit stays about 0. Returns that constant
    hidden value."""
    import torch

    embed, head, norm = model.model.embed_tokens.weight, model.lm_head.weight, model.model.norm.weight
    with torch.inference_mode():
        embed[:, 0] = 0.5
        norm[0] = 1.0
        head[:, 0] = 0.0
        row = embed[0].float()
        hidden0 = 0.5 / math.sqrt(row.pow(2).mean().item() + 1e-6)
        others = vocab - 2  # each with a logit of about 0
        head[end_id, 0] = math.log(end * others / (1 - end - think)) / hidden0
        head[think_id, 0] = math.log(think * others / (1 - end - think)) / hidden0
    # A platform that packs weights after loading (vLLM on CPU) packs the changed output layer again.
    model.lm_head.quant_method.process_weights_after_loading(model.lm_head)
    return hidden0


# ------------------------------------------------------------------ 1. deterministic resume


class ResumeFailure(RuntimeError):
    """A child run of the resume check failed; the message says which and ends with its error output."""


def resume_check(model: Path, benchmark: Path, sizes: Sizes, root: Path, gpu: bool) -> dict[str, Any]:
    """An uninterrupted `--deterministic` run against one SIGKILLed midway and resumed."""
    args = ["run", "--model", str(model), "--bench", str(benchmark), "--data-dir", str(benchmark.parent),
            "--limit", str(sizes.resume_requests // sizes.samples), "--samples", str(sizes.samples),
            "--mode", "slow", "--budget", str(sizes.resume_budget), "--dtype", sizes.dtype, "--deterministic",
            "--max-model-len", "4096", "--engine-arg", "load_format=dummy", "--engine-arg", "enforce_eager=true",
            "--quiet"]
    if gpu:  # a few requests at a time, so that generations reach the disk in steps and a kill lands between them
        args += ["--engine-arg", "max_num_seqs=8"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "harness", *args]
    started = time.perf_counter()

    def complete(out: Path, what: str) -> None:
        try:
            done = subprocess.run([*command, "--out", str(out)], env=env, capture_output=True, text=True,
                                  timeout=RESUME_CHILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ResumeFailure(f"the {what} run did not finish in {RESUME_CHILD_TIMEOUT_S} s") from None
        if done.returncode != 0:
            raise ResumeFailure(f"the {what} run failed ({done.returncode}): {done.stderr[-2000:]}")

    complete(root / "whole", "uninterrupted")
    total = len(rows(root / "whole" / "generations.jsonl"))
    cut = root / "cut"
    # Its own process group, killed whole: the engine core process vLLM forks on a GPU dies with it, as in a
    # job that is pre-empted, and holds no GPU memory after.
    process = subprocess.Popen([*command, "--out", str(cut)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    counter, give_up = LineCounter(cut / "generations.jsonl"), time.perf_counter() + RESUME_CHILD_TIMEOUT_S
    while counter.count() < total // 2:
        if process.poll() is not None or time.perf_counter() > give_up:
            kill_group(process)
            raise ResumeFailure(f"the run to kill ended or stalled before {total // 2} generations were on disk: "
                                f"{process.communicate()[1].decode()[-2000:]}")
        time.sleep(0.005)
    kill_group(process)
    at_kill = len(rows(cut / "generations.jsonl"))
    complete(cut, "resumed")
    reference, again = generations(root / "whole"), generations(cut)
    same = sum(again.get(key) == value for key, value in reference.items())
    return {"requests": total, "on_disk_at_kill": at_kill, "identical": same,
            "passed": same == total == len(again) and 0 < at_kill < total, "seconds": time.perf_counter() - started}


def generations(run_dir: Path) -> dict[tuple[str, str, int], tuple[str, list[int]]]:
    """(text, token ids) per (benchmark, id, sample index), read as the harness reads its run directory."""
    from harness.rundir import RunDir

    return {key: (row["text"], row["token_ids"]) for key, row in RunDir(run_dir).generations().items()}


# ------------------------------------------------------------------ 2-4. throughput


class Clock:
    """The time left before the deadline, shared out among the parts still to run."""

    def __init__(self, deadline_s: float) -> None:
        self.started, self.deadline_s = time.perf_counter(), deadline_s

    def share(self, parts_left: int) -> float:
        return (self.deadline_s - (time.perf_counter() - self.started)) / parts_left


def compare(record: dict[str, dict[str, list[Any]]], raw: str, harness: str, target: float) -> dict[str, Any]:
    """Tokens per second of each side (median over rounds), the ratio (median of each round's harness/raw
    ratio, so that a drift in the machine's speed between rounds cancels), and how many requests match."""
    reference = record[raw]["results"][0]
    per_round = {}
    for name in (raw, harness):
        tokens = [sum(map(len, result.values())) for result in record[name]["results"]]
        per_round[name] = [t / w for t, w in zip(tokens, record[name]["wall"])]
    ours = record[harness]["results"][0]
    same = sum(ours.get(key) == value for key, value in reference.items())
    lengths = [len(t) for t in reference.values()]
    ratio = statistics.median(h / r for h, r in zip(per_round[harness], per_round[raw]))
    return {"requests": len(reference), "tokens": sum(lengths), "lengths": spread(lengths),
            "identical_requests": same, "raw_tok_s": statistics.median(per_round[raw]),
            "harness_tok_s": statistics.median(per_round[harness]),
            "ratio": ratio, "target": target, "rounds": len(record[raw]["wall"]),
            "wall_s": {name: entry["wall"] for name, entry in record.items()}}


def throughput_part(engine: Any, base: Any, policy: str, root: Path, clock: Clock, parts_left: int,
                    rounds: int, warmup: bool) -> dict[str, Any]:
    config = dataclasses.replace(base, budget_policy=policy)
    jobs = run_jobs(engine, config)
    raw = raw_cap if policy == "cap" else raw_two_call_force
    sides = {"raw": lambda index: raw(engine.llm, jobs, config),
             "harness": lambda index: harness_run(engine, config, root / f"{policy}-{index}")}
    if warmup:  # a fresh engine's first batches are slower
        warm_up(engine, jobs, config, raw, root / f"{policy}-warmup")
    record = alternate(sides, rounds, f"{policy} ", clock.share(parts_left), before=engine.llm.reset_prefix_cache)
    record["harness"]["results"] = [written_tokens(path) for path in record["harness"]["results"]]
    return compare(record, "raw", "harness", TARGETS[policy])


def sweep_part(engine: Any, base: Any, budgets: list[int], root: Path, clock: Clock, rounds: int) -> dict[str, Any]:
    """`harness sweep` (cap, 5 budgets) against raw generation at the largest budget, and at every budget."""
    from harness.rundir import RunDir
    from harness.sweep import make_plan, run_name, run_sweep

    largest = dataclasses.replace(base, budget=budgets[-1])
    jobs = run_jobs(engine, largest)

    def sweep(index: int) -> dict[tuple[str, int, int], list[int]]:
        out = root / f"sweep-{index}"
        run_sweep(make_plan(base, ["slow"], budgets, "cap", out), engine=engine, progress=False)
        tokens = {}
        for budget in budgets:
            for key, row in RunDir(out / run_name("slow", budget, "cap")).generations().items():
                tokens[(key[1], key[2], budget)] = row["token_ids"]
        return tokens

    sides = {"raw largest budget": lambda index: raw_cap(engine.llm, jobs, largest),
             "raw, one call per budget": lambda index: {
                 budget: raw_cap(engine.llm, jobs, dataclasses.replace(base, budget=budget)) for budget in budgets},
             "harness sweep": sweep}
    record = alternate(sides, rounds, "sweep ", clock.share(1), before=engine.llm.reset_prefix_cache)
    wall = {name: statistics.median(entry["wall"]) for name, entry in record.items()}
    reference, swept = record["raw largest budget"]["results"][0], record["harness sweep"]["results"][0]
    # A cap run at budget b is the first b tokens of the largest budget's generation.
    same = sum(swept.get((key[0], key[1], b)) == tokens[:b] for key, tokens in reference.items() for b in budgets)
    return {"budgets": budgets, "requests": len(jobs), "wall_s": wall, "rounds": len(record["harness sweep"]["wall"]),
            "ratio_to_largest": wall["raw largest budget"] / wall["harness sweep"],
            "ratio_to_per_budget": wall["raw, one call per budget"] / wall["harness sweep"],
            "target": SWEEP_TARGET, "identical_runs": same, "runs": len(reference) * len(budgets)}


# ------------------------------------------------------------------ main


def report(name: str, figures: dict[str, Any]) -> None:
    if name == "resume" and "error" in figures:
        print(f"--deterministic resume: FAIL: {figures['error']}")
    elif name == "resume":
        print(f"--deterministic resume: {figures['identical']}/{figures['requests']} generations identical after a "
              f"SIGKILL at {figures['on_disk_at_kill']} on disk ({'PASS' if figures['passed'] else 'FAIL'}, "
              f"{figures['seconds']:.0f} s)")
    elif name == "sweep":
        print(f"sweep {figures['budgets']}: raw largest / sweep time {figures['ratio_to_largest']:.3f} (target >= "
              f"{figures['target']}), raw per budget / sweep {figures['ratio_to_per_budget']:.3f}; "
              f"{figures['identical_runs']}/{figures['runs']} (request, budget) identical to the raw truncation; "
              f"{figures['rounds']} rounds")
    else:
        print(f"{name}: harness {figures['harness_tok_s']:,.0f} tok/s, raw {figures['raw_tok_s']:,.0f} tok/s: ratio "
              f"{figures['ratio']:.3f} (target >= {figures['target']}); {figures['requests']} requests, "
              f"{figures['tokens']:,} tokens, lengths {format_spread(figures['lengths'])}; "
              f"{figures['identical_requests']}/{figures['requests']} requests identical on both sides; "
              f"{figures['rounds']} rounds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="CPU: the tiny test model's shape, a few dozen requests")
    parser.add_argument("--out", default="gpu_check.json", help="figures as JSON (default gpu_check.json)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per part at most (default 3)")
    parser.add_argument("--requests", type=int, help="requests per throughput part (default 2000; --tiny 48)")
    args = parser.parse_args()

    sizes = dataclasses.replace(TINY_SIZES if args.tiny else GPU_SIZES)
    if args.requests:
        sizes.requests = args.requests
    if args.tiny:
        for key, value in CPU_ENVIRONMENT.items():
            os.environ.setdefault(key, value)
    else:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # LLM.apply_model sends a function to the engine core process, which needs pickling allowed.
        os.environ["VLLM_ALLOW_INSECURE_SERIALIZATION"] = "1"
    import torch

    gpu = torch.cuda.is_available()
    if not gpu and not args.tiny:
        sys.exit("gpu_check: no CUDA device; on CPU run it with --tiny")
    root = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    out = Path(args.out)
    model = write_model(root / "model", TINY if args.tiny else QWEN25_7B)
    benchmark = write_text_benchmark(root / "data", -(-sizes.requests // sizes.samples))
    figures: dict[str, Any] = {"device": torch.cuda.get_device_name(0) if gpu else "cpu",
                               "model": "tiny test model shape" if args.tiny else "Qwen2.5-7B shape",
                               "random_weights": "vllm load_format=dummy", "sizes": dataclasses.asdict(sizes)}
    started = time.perf_counter()

    def done(name: str, value: dict[str, Any]) -> None:
        figures[name] = value
        figures["elapsed_s"] = time.perf_counter() - started
        out.write_text(json.dumps(figures, indent=2, default=str))
        report(name, value)

    try:
        done("resume", resume_check(model, benchmark, sizes, root / "resume", gpu))
    except ResumeFailure as failure:  # the throughput parts still run
        done("resume", {"passed": False, "error": str(failure), "seconds": time.perf_counter() - started})

    from harness.config import RunConfig
    from harness.engines.vllm_engine import VLLMEngine

    engine = VLLMEngine(str(model), dtype=sizes.dtype, seed=0, max_model_len=4096,
                        engine_args={"load_format": "dummy"})
    tokenizer = engine.tokenizer
    hidden = engine.llm.apply_model(functools.partial(
        set_end_probabilities, vocab=json.loads((model / "config.json").read_text())["vocab_size"],
        end_id=tokenizer.convert_tokens_to_ids("<|im_end|>"), think_id=tokenizer.convert_tokens_to_ids("</think>"),
        end=END_PER_BUDGET / sizes.budget, think=THINK_END_PER_BUDGET / sizes.budget))
    figures["final_hidden_dimension_0"] = hidden
    base = RunConfig(model=str(model), benchmarks=[str(benchmark)], data_dir=str(benchmark.parent),
                     samples=sizes.samples, mode="slow", budget=sizes.budget, answer_budget=sizes.answer_budget,
                     dtype=sizes.dtype, seed=2, engine_args={"load_format": "dummy"})
    clock = Clock(sizes.deadline_s - (time.perf_counter() - started))
    done("cap", throughput_part(engine, base, "cap", root, clock, 3, args.rounds, warmup=True))
    done("force", throughput_part(engine, base, "force", root, clock, 2, args.rounds, warmup=False))
    done("sweep", sweep_part(engine, base, sizes.sweep_budgets, root, clock, args.rounds))
    engine.close()
    print(f"figures: {out} ({figures['elapsed_s']:.0f} s in all)")
    if not figures["resume"]["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
