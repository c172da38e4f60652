"""`harness sweep`: many token budgets for the price of about one, by sharing generation across budgets.

Every (item, sample) has its own seed, so the tokens a request draws do not depend on its max token
count: a `cap` run at budget N is exactly the first N tokens of the run at the largest budget. A
`force` run at N shares the same first phase: a thought that ended by itself before N is the same
thought, and a thought cut at N is the first N tokens of the long one; only the answer phase after a
forced `</think>` is new work (and prefix caching makes its shared prompt free). That answer is queued
during the largest budget's run, the moment the long thought ends (`answers_ahead`), as a run queues its
own answer phases.

This module does that sharing below the runner, as an engine wrapper
(`harness.engines.shared_budget.SharedBudgetEngine`) that answers a request from a longer generation of the
same (prompt, seed, stop, sampling) when it can.
So each (mode, budget) run directory is written by the ordinary runner, is byte-for-byte what
`harness run` writes, and resumes like one. The cache of engine outputs lives on disk in the sweep
directory, so a killed sweep resumes without regenerating the long runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import __version__
from harness.config import ConfigError, RunConfig, validate
from harness.engines import EngineOutput, EngineRequest
from harness.engines.logs import EngineLog, console
from harness.engines.shared_budget import Derive, SharedBudgetEngine, request_key, truncate_output
from harness.modes import MODES, think_opened
from harness.rundir import INDEX_NAME, RunDir, read_json, write_json_atomic

CACHE_DIR = "engine_cache"


@dataclass
class SweepPlan:
    """What a sweep runs: the base settings, then every (mode, budget) under one policy."""

    base: RunConfig
    modes: list[str]
    budgets: list[int]
    budget_policy: str
    out: Path

    def run_config(self, mode: str, budget: int) -> RunConfig:
        policy = self.policy_for(mode)
        config = dataclasses.replace(self.base, mode=mode, budget=budget, budget_policy=policy,
                                     out=str(self.out / run_name(mode, budget, policy)))
        validate(config)
        return config

    def policy_for(self, mode: str) -> str:
        # A mode that never thinks has no thought to cut: its budget can only be a cap.
        return self.budget_policy if think_opened(mode) else "cap"


def run_name(mode: str, budget: int, policy: str) -> str:
    return f"{mode}-b{budget}" + ("f" if policy == "force" else "")


def parse_list(text: str, what: str) -> list[str]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise ConfigError(f"--{what}: expected a comma-separated list, got {text!r}")
    return items


def make_plan(base: RunConfig, modes: str | list[str], budgets: str | list[int], budget_policy: str,
              out: str | Path | None) -> SweepPlan:
    """Check the sweep's own settings (modes, budgets) before anything loads."""
    mode_list = parse_list(modes, "modes") if isinstance(modes, str) else list(modes)
    for mode in mode_list:
        if mode not in MODES:
            raise ConfigError(f"--modes: {mode!r} is not a mode; choose from {', '.join(MODES)}")
    if len(set(mode_list)) != len(mode_list):
        raise ConfigError(f"--modes: {','.join(mode_list)} repeats a mode")
    budget_list: list[int] = []
    for value in (parse_list(budgets, "budgets") if isinstance(budgets, str) else budgets):
        try:
            budget = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"--budgets: {value!r} is not an integer") from None
        if budget <= 0:
            raise ConfigError(f"--budgets: {budget} is not a positive token count")
        budget_list.append(budget)
    if len(set(budget_list)) != len(budget_list):
        raise ConfigError(f"--budgets: {budgets} repeats a budget")
    if budget_policy not in ("cap", "force"):
        raise ConfigError(f"--budget-policy {budget_policy!r}: choose cap or force")
    if base.samples > 1 and base.sampling.greedy:
        raise ConfigError("--samples > 1 with --temperature 0 would repeat one greedy answer")
    if out is None:
        key = hashlib.sha256(json.dumps([base.comparable(), mode_list, sorted(budget_list), budget_policy],
                                        sort_keys=True, default=str).encode()).hexdigest()[:8]
        name = Path(str(base.model).rstrip("/")).name or "model"
        out = Path("runs") / f"sweep-{name}-{key}"
    plan = SweepPlan(base, mode_list, sorted(budget_list), budget_policy, Path(out))
    for mode in mode_list:
        for budget in plan.budgets:
            plan.run_config(mode, budget)
    return plan


def run_sweep(plan: SweepPlan, engine: Any = None, progress: bool = True, verbose: bool = False) -> Path:
    """Run every (mode, budget) of the plan, sharing generation; returns the sweep directory."""
    started = time.perf_counter()
    # The sweep directory is held for the whole sweep: a second sweep into it (its cache files, its index) is
    # refused before anything is read or written.
    with RunDir(plan.out).lock("harness sweep"):
        index = _sweep(plan, engine, progress, verbose, started)
    if progress:
        print(format_index(index), file=console())
        print(f"sweep directory: {plan.out}", file=console())
    return plan.out


def _sweep(plan: SweepPlan, engine: Any, progress: bool, verbose: bool, started: float) -> dict[str, Any]:
    """`run_sweep`'s work, under the sweep directory's lock; returns the index written."""
    from harness.runner import prepare, run
    from harness.verify import Verifier

    index_path = plan.out / INDEX_NAME
    previous = read_json(index_path) if index_path.exists() else {}
    _check_index(previous, plan, index_path)
    owned = engine is None
    load_s = 0.0
    largest = plan.budgets[-1]
    entries: list[dict[str, Any]] = []
    prefetched: list[dict[str, Any]] = []
    invocation_tokens = 0
    with EngineLog(plan.out / "engine.log", verbose):
        if owned:
            load_started = time.perf_counter()
            engine = _create_engine(plan, prepare(plan.base))
            load_s = time.perf_counter() - load_started
        # One verifier for every run: its math-verify workers start once, and an answer extracted at
        # several budgets is compared once.
        verifier = Verifier(unfinished=plan.base.unfinished)
        try:
            for mode in plan.modes:
                shared = SharedBudgetEngine(engine, plan.out / CACHE_DIR / f"{mode}.jsonl")
                # The largest budget first: every smaller one is then (mostly) served from its tokens.
                forcing = plan.policy_for(mode) == "force"
                for position, budget in enumerate([largest] + plan.budgets[:-1]):
                    if position == 0 and forcing:  # each smaller budget's answer, queued as the long thought ends
                        shared.derive = answers_ahead(plan, mode, shared)
                    if position == 1 and forcing:  # the largest is done, the rest to come
                        shared.derive = None
                        prefetched.append(prefetch_answers(plan, mode, shared))
                    config = plan.run_config(mode, budget)
                    run_started = time.perf_counter()
                    path = run(config, progress=progress and position == 0, engine=shared, verifier=verifier)
                    usage = _throughput(path)
                    _annotate_manifest(path, plan, mode, budget, largest)
                    entries.append({
                        "mode": mode, "budget": budget, "budget_policy": config.budget_policy,
                        "dir": path.name, "shared_from_budget": None if budget == largest else largest,
                        "generated_tokens": usage.get("generated_tokens", 0),
                        "engine_generated_tokens": usage.get("engine_generated_tokens", 0),
                        "wall_s": time.perf_counter() - run_started,
                        "results": _results(path),
                    })
                    if progress:
                        print(f"sweep: {mode} budget {budget} ({config.budget_policy}) -> {path}", file=console())
                invocation_tokens += shared.lifetime_generated_tokens
        finally:
            verifier.close()
            if owned and engine is not None:
                engine.close()
    index = _index(plan, entries, previous, invocation_tokens, load_s, time.perf_counter() - started, prefetched)
    write_json_atomic(index_path, index)
    return index


def _create_engine(plan: SweepPlan, prepared: Any) -> Any:
    from harness.engines import create_engine
    from harness.runner import engine_options

    config = plan.run_config(plan.modes[0], plan.budgets[-1])
    return create_engine(config.engine, prepared.model_path, **engine_options(config, prepared))


def _check_index(previous: dict[str, Any], plan: SweepPlan, index_path: Path) -> None:
    if not previous:
        return
    if previous.get("comparable") != json.loads(json.dumps(plan.base.comparable(), default=str)) \
            and previous.get("comparable") is not None:
        changed = sorted(k for k, v in plan.base.comparable().items()
                         if json.dumps(previous["comparable"].get(k), default=str) != json.dumps(v, default=str))
        raise ConfigError(f"{index_path}: this sweep directory was made with other settings ({', '.join(changed)}); "
                          "use another --out directory or the original settings")


def _throughput(path: Path) -> dict[str, Any]:
    run_dir = RunDir(path)
    return read_json(run_dir.summary_path).get("throughput", {}) if run_dir.summary_path.exists() else {}


def answers_ahead(plan: SweepPlan, mode: str, shared: SharedBudgetEngine) -> Derive:
    """What the largest budget's run of a `force` sweep generates ahead (`SharedBudgetEngine.derive`).

    The moment a thinking phase of the largest budget ends, its thought cut at each smaller budget it ran
    past is on hand, and so is the answer request that budget's run will make after it: built here by the
    very functions the runner uses (the phase-one lookup's truncation, `continuation`,
    `continuation_request`), it is queued at once, while the thought is in the engine's prefix cache, as
    a request's own answer phase is (`stream_generations`). A thought that ended by itself within a
    budget is the same thought there, and its answer the largest run's own: nothing is queued for it.
    """
    from harness.engines.generate import Job, continuation, continuation_request
    from harness.modes import THINK_CLOSE
    from harness.runner import generation_settings, set_up

    config = plan.run_config(mode, plan.budgets[0])
    ban = set_up(config, shared).ban
    largest = plan.budgets[-1]
    smaller = [generation_settings(dataclasses.replace(config, budget=budget), ban) for budget in plan.budgets[:-1]]

    def derive(request: EngineRequest, first: EngineOutput) -> list[EngineRequest]:
        if request.max_tokens != largest or request.stop != [THINK_CLOSE]:
            return []  # not a thinking phase of the largest budget
        # The request carries what a job's answer request takes from the job: its prompt, seed and images.
        job = Job("", "", 0, request.prompt, request.seed, request.images)
        requests = []
        for settings in smaller:
            if settings.budget >= len(first.token_ids):
                continue
            cut = truncate_output(first, settings.budget, shared.tokenizer, shared.name)
            following = continuation(job, cut, settings)
            if following is not None:
                requests.append(continuation_request(job, cut, following, settings, shared.tokenizer))
        return requests

    return derive


def prefetch_answers(plan: SweepPlan, mode: str, shared: SharedBudgetEngine) -> dict[str, Any]:
    """Generate what the smaller `force` budgets' runs still lack of their answers, in one stream; say what
    was generated ahead for them, during the largest run and here.

    During the largest budget's run (`answers_ahead`) every answer whose thought that run generated is
    queued as the thought ends; what is left is the answers of thoughts the run did not generate (a resumed
    sweep whose largest run had finished before). Built here from the very requests a run makes
    (`harness.runner.make_jobs`, `harness.engines.generate.continuation_request`) and generated together,
    they fill the cache, and each smaller budget's run then finds all its answers there.
    """
    from harness.engines.generate import continuation, continuation_request, phase_one_requests
    from harness.runner import generation_settings, make_jobs, set_up

    during = shared.take_ahead_usage()
    started = time.perf_counter()
    config = plan.run_config(mode, plan.budgets[0])
    setup = set_up(config, shared)
    jobs, _ = make_jobs(setup, config)
    pending: dict[str, EngineRequest] = {}
    sampling = generation_settings(config, setup.ban).sampling
    for budget in plan.budgets[:-1]:
        settings = generation_settings(dataclasses.replace(config, budget=budget), setup.ban)
        for job, request in zip(jobs, phase_one_requests(jobs, settings)):
            first = shared.lookup(request, sampling)
            following = continuation(job, first, settings) if first is not None else None
            if following is not None:
                answer = continuation_request(job, first, following, settings, shared.tokenizer)
                if shared.lookup(answer, sampling) is None:
                    pending.setdefault(request_key(answer, sampling), answer)
    requests = list(pending.values())
    shared.generate(requests, sampling)
    usage = shared.take_usage()
    return {"mode": mode, "requests": during["requests"] + len(requests),
            "engine_generated_tokens": during["engine_generated_tokens"] + usage["engine_generated_tokens"],
            "engine_prompt_tokens": during["engine_prompt_tokens"] + usage["engine_prompt_tokens"],
            "during_largest_run": during, "wall_s": time.perf_counter() - started}


def _results(path: Path) -> dict[str, Any]:
    summary = read_json(RunDir(path).summary_path)
    return {name: {key: block.get(key) for key in ("accuracy", "std", "unfinished_rate", "finished_accuracy", "tokens",
                                                   "truncation_rate", "forced_rate")}
            for name, block in summary.get("benchmarks", {}).items()}


def _annotate_manifest(path: Path, plan: SweepPlan, mode: str, budget: int, largest: int) -> None:
    """Say in the run's manifest that it belongs to a sweep, and how its generations were obtained."""
    run_dir = RunDir(path)
    manifest = run_dir.manifest()
    if budget == largest:
        how = "generated"
    elif plan.policy_for(mode) == "cap":
        how = f"the first {budget} tokens of the budget-{largest} generation (same seed)"
    else:
        how = (f"thinking shared with the budget-{largest} generation up to {budget} tokens (same seed); "
               "answers after a forced </think> generated")
    manifest["sweep"] = {"index": f"../{INDEX_NAME}", "shared_from_budget": None if budget == largest else largest,
                         "generations": how}
    write_json_atomic(run_dir.manifest_path, manifest)


def _index(plan: SweepPlan, entries: list[dict[str, Any]], previous: dict[str, Any], invocation_tokens: int,
           load_s: float, wall_s: float, prefetched: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    largest = plan.budgets[-1]
    prefetch = list(previous.get("prefetch", [])) + list(prefetched or [])
    # Answers generated ahead for the smaller force budgets are part of the cost, though no run holds them.
    engine_tokens = sum(e["engine_generated_tokens"] for e in entries) + sum(p["engine_generated_tokens"] for p in prefetch)
    largest_tokens = sum(e["generated_tokens"] for e in entries if e["budget"] == largest)
    independent_tokens = sum(e["generated_tokens"] for e in entries)
    history = list(previous.get("invocations", []))
    history.append({"engine_generated_tokens": invocation_tokens, "load_s": load_s, "wall_s": wall_s})
    return {
        "harness_version": __version__,
        "created": previous.get("created") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": plan.base.model,
        "benchmarks": plan.base.benchmarks,
        "modes": plan.modes,
        "budgets": plan.budgets,
        "budget_policy": plan.budget_policy,
        "comparable": json.loads(json.dumps(plan.base.comparable(), default=str)),
        "runs": entries,
        "cost": {
            "engine_generated_tokens": engine_tokens,
            "largest_budget_generated_tokens": largest_tokens,
            "independent_runs_generated_tokens": independent_tokens,
            "ratio_to_largest": engine_tokens / largest_tokens if largest_tokens else None,
            "ratio_to_independent": engine_tokens / independent_tokens if independent_tokens else None,
        },
        "prefetch": prefetch,
        "invocations": history,
    }


def _sweep_cell(results: dict[str, Any]) -> str:
    def number(value: Any) -> str:
        return "-" if value is None else f"{value:.1f}"

    unfinished = results.get("unfinished_rate")
    finished = "-" if unfinished is None else f"{100 * (1 - unfinished):.0f}%"
    return f"{number(results.get('accuracy'))} / {finished} / {number(results.get('finished_accuracy'))}"


def format_index(index: dict[str, Any]) -> str:
    """A mode × budget table of accuracy per benchmark, and what the sharing saved."""
    lines = []
    for benchmark in index.get("benchmarks", []):
        name = Path(benchmark).stem if benchmark.endswith((".yaml", ".yml")) else benchmark
        lines.append(f"{name}: Avg@k / share of finished thoughts / Avg@k over finished responses, by mode and "
                     f"budget ({index['budget_policy']})")
        header = ["mode"] + [str(b) for b in index["budgets"]]
        rows = []
        for mode in index["modes"]:
            row = [mode]
            for budget in index["budgets"]:
                entry = next((e for e in index["runs"] if e["mode"] == mode and e["budget"] == budget), None)
                results = entry["results"].get(name, {}) if entry else {}
                row.append(_sweep_cell(results))
            rows.append(row)
        widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
        lines.extend("  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in [header] + rows)
        lines.append("")
    cost = index.get("cost", {})
    if cost.get("ratio_to_largest") is not None:
        lines.append(f"generated {cost['engine_generated_tokens']} tokens: {cost['ratio_to_largest']:.2f}x the "
                     f"largest budget's runs, {cost['ratio_to_independent']:.2f}x independent runs")
    return "\n".join(lines)
