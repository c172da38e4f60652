"""`harness run`: benchmarks → prompts → engine → generations.jsonl → verdicts → summary.json.

Orchestration only: each step is another module's (bench loads, prompts render, modes build the bans,
engines generate, verify scores, metrics summarise, rundir writes). Everything that can be wrong with the
input -- settings, benchmark files, columns, the model directory, an existing run directory and its
files -- is checked before anything in the run directory changes and before the model loads.

Generation streams: every finished generation is appended to generations.jsonl at once, keyed by
(benchmark, item, sample index), so a kill loses only the requests in flight; under `force` each thought
that awaits its answer is kept in thoughts.jsonl, so a kill between a job's two phases loses neither.
Re-running the same command generates only what is missing, answering kept thoughts without thinking
again; a run directory made with different settings is refused by name rather than silently mixed, and
one that another process is writing is refused too.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import __version__
from harness.bench.loaders import fingerprint_samples, load_samples
from harness.bench.spec import BenchmarkError, BenchmarkSpec, get_spec
from harness.config import ADDED_SETTINGS, ConfigError, RunConfig, parse_shard
from harness.engines import EngineError
from harness.engines.generate import GenerationSettings, Job, error_generation, job_key, sample_seed, \
    saved_thought, stream_generations, thought_row
from harness.engines.logs import EngineLog, console
from harness.engines.models import ModelError, accepts_images, model_fingerprint, needs_weight_files, \
    resolve_model
from harness.modes import BanSet, build_ban_set, resolve_keywords, think_opened
from harness.prompts import DEFAULT_SYSTEM, PromptBuilder, PromptError, detect_family
from harness.rundir import JsonlAppender, RunDir, RunDirError, append_jsonl, check_comparable, item_row, provenance, \
    write_json_atomic
from harness.types import Sample


class RunError(RuntimeError):
    """The run cannot proceed; the message says why and what to do."""


def user_errors() -> tuple[type[BaseException], ...]:
    """What a user can cause (bad settings, data, model, run directory, a failing engine, a full disk): each is
    reported in one line by the command, never as a traceback."""
    return (ConfigError, BenchmarkError, ModelError, PromptError, RunError, RunDirError, EngineError, OSError,
            UnicodeError)


@dataclass
class Prepared:
    config: RunConfig
    model_path: str
    specs: list[BenchmarkSpec]
    samples: dict[str, list[Sample]]


def prepare(config: RunConfig) -> Prepared:
    specs = [get_spec(name) for name in config.benchmarks]
    samples = {spec.name: load_samples(spec, config.data_dir, config.limit) for spec in specs}
    for spec in specs:
        if not samples[spec.name]:
            raise RunError(f"benchmark {spec.name!r} has no items (check the data file and its filter)")
    model_path = resolve_model(config.model, config.trust_remote_code, needs_weight_files(config.engine_args))
    return Prepared(config, model_path, specs, samples)


def drop_image_items(prepared: Prepared) -> dict[str, int]:
    """A text-only model cannot see images: leave image items out, and say how many per benchmark."""
    skipped = {}
    for name, samples in prepared.samples.items():
        kept = [s for s in samples if not s.images and not s.meta.get("needs_image")]
        if len(kept) < len(samples):
            skipped[name] = len(samples) - len(kept)
            prepared.samples[name] = kept
    return skipped


def default_out(config: RunConfig, model_path: str) -> Path:
    # Settings added after 0.1.0 leave the name alone at the value older runs used, so their directories resume.
    material = {k: v for k, v in config.comparable().items() if not (k in ADDED_SETTINGS and v == ADDED_SETTINGS[k])}
    key = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:8]
    name = Path(model_path.rstrip("/")).name or "model"
    budget = f"b{config.budget}" + ("f" if config.budget_policy == "force" else "")
    shard = "-shard{}of{}".format(*parse_shard(config.shard)) if config.shard else ""
    return Path("runs") / f"{name}-{config.mode}-{budget}-{key}{shard}"


def engine_options(config: RunConfig, prepared: Prepared | None) -> dict[str, Any]:
    """Keyword arguments for `create_engine` from the run's settings."""
    options: dict[str, Any] = {"dtype": config.dtype, "trust_remote_code": config.trust_remote_code}
    if config.engine in ("vllm", "ray"):
        max_images = max([len(s.images) for v in prepared.samples.values() for s in v] + [1]) if prepared else 8
        options.update(tensor_parallel_size=config.tensor_parallel_size, seed=config.seed,
                       max_model_len=config.max_model_len, engine_args=config.engine_args,
                       max_images=max_images)
        if config.engine == "vllm":
            options["deterministic"] = config.deterministic
    if config.engine == "openai":  # engine_args are the server engine's own options (concurrency, timeout, ...)
        options.update(base_url=config.engine_url, max_model_len=config.max_model_len,
                       api_key_env=config.engine_key_env, **config.engine_args)
    if config.data_parallel_size > 1:
        options["data_parallel_size"] = config.data_parallel_size
    return options


@dataclass
class RunSetup:
    """Everything a run decides before it touches its directory: items, prompts, bans."""

    prepared: Prepared
    skipped: dict[str, int]  # image items left out per benchmark (text-only model)
    fingerprints: dict[str, str]
    shard: tuple[int, int] | None
    family: str
    builder: PromptBuilder
    ban: BanSet
    prompts: dict[tuple[str, str], str]  # (benchmark, item id) -> the prompt text the engine gets


def set_up(config: RunConfig, engine: Any = None) -> RunSetup:
    """Items, prompts and bans for `config` (bad input is refused here, before any model loads)."""
    if config.deterministic and config.engine != "vllm":
        raise ConfigError("--deterministic needs --engine vllm (the other engines cannot make outputs independent "
                          "of batching)")
    prepared = prepare(config)
    if engine is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(prepared.model_path, trust_remote_code=config.trust_remote_code)
    else:
        tokenizer = engine.tokenizer
    skipped = {} if accepts_images(prepared.model_path, config.trust_remote_code) else drop_image_items(prepared)
    for name, count in skipped.items():
        note(f"{name}: {count} image items left out: the model is text-only")
        if not prepared.samples[name]:
            raise RunError(f"benchmark {name!r}: every item has an image, and the model is text-only")
    # Fingerprints describe the whole benchmark, so that merged shards compare equal to an unsharded run.
    fingerprints = {name: fingerprint_samples(samples) for name, samples in prepared.samples.items()}
    shard = parse_shard(config.shard) if config.shard else None
    if shard:
        prepared.samples = {name: samples[shard[0]::shard[1]] for name, samples in prepared.samples.items()}
    family = config.family or detect_family(prepared.model_path, tokenizer)
    builder = PromptBuilder(family, tokenizer, system=config.system or DEFAULT_SYSTEM, template_file=config.template)
    # Every prompt is rendered here, so that a template that fails does so before the run directory changes.
    thinking = think_opened(config.mode)
    prompts = {(spec.name, sample.id): builder.render(spec.render_prompt(sample), num_images=len(sample.images),
                                                      think=thinking)
               for spec in prepared.specs for sample in prepared.samples[spec.name]}
    keywords = resolve_keywords(config.keywords)
    ban = build_ban_set(tokenizer, keywords, config.exclude, config.ban_rule) if config.mode == "nowait" else \
        BanSet(keywords=tuple(keywords), excluded=tuple(config.exclude), rule=config.ban_rule)
    return RunSetup(prepared, skipped, fingerprints, shard, family, builder, ban, prompts)


def make_jobs(setup: RunSetup, config: RunConfig, done: Any = ()) -> tuple[list[Job], list[tuple[Job, str]]]:
    """The (item, sample) jobs not yet `done`, and those whose item could not be used (with why)."""
    jobs: list[Job] = []
    errored: list[tuple[Job, str]] = []
    for spec in setup.prepared.specs:
        for sample in setup.prepared.samples[spec.name]:
            prompt = setup.prompts[(spec.name, sample.id)]
            for k in range(config.samples):
                if (spec.name, sample.id, k) in done:
                    continue
                job = Job(spec.name, sample.id, k, prompt, sample_seed(config.seed, spec.name, sample.id, k), sample.images)
                if sample.error:
                    errored.append((job, sample.error))
                else:
                    jobs.append(job)
    return jobs, errored


def generation_settings(config: RunConfig, ban: BanSet) -> GenerationSettings:
    return GenerationSettings(mode=config.mode, budget=config.budget, budget_policy=config.budget_policy,
                              answer_budget=config.answer_budget, early_stop=config.early_stop,
                              sampling=config.sampling.with_bans(ban.token_ids))


def manifest_for(config: RunConfig, setup: RunSetup) -> dict[str, Any]:
    """manifest.json for this run: its settings, and what its results depend on."""
    prepared = setup.prepared
    manifest = {
        "harness_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": redact_command(sys.argv),
        "config": config.to_json(),
        "comparable": config.comparable(),
        "model": {"path": prepared.model_path, "family": setup.family,
                  "fingerprint": model_fingerprint(prepared.model_path)},
        "benchmarks": {
            spec.name: {
                "title": spec.title, "group": spec.group, "definition_sha256": spec.definition_sha256,
                "data_fingerprint": setup.fingerprints[spec.name],
                "n_items": len(prepared.samples[spec.name]), "limit": config.limit, "metrics": spec.metrics,
                "skipped_image_items": setup.skipped.get(spec.name, 0),
            }
            for spec in prepared.specs
        },
        "template": setup.builder.manifest(),
        "ban": setup.ban.manifest(),
        "judge": {"policy": config.judge_policy, "model": config.judge_model, "url": config.judge_url},
        **provenance(),
    }
    if setup.shard:
        manifest["shard"] = {"index": setup.shard[0], "count": setup.shard[1]}
    return manifest


def redact_command(argv: list[str]) -> list[str]:
    """The command line as recorded: credentials in URLs (`https://user:secret@host`) are blanked."""
    import re

    return [re.sub(r"(?<=://)[^/@\s]+@", "***@", str(arg)) for arg in argv]


_NOTED: set[str] = set()


def note(message: str) -> None:
    """Tell the user something once per process (a sweep runs many runs with the same notes)."""
    if message not in _NOTED:
        _NOTED.add(message)
        print(f"note: {message}", file=console())


def judge_for(config: RunConfig, run_dir: RunDir) -> Any:
    """The judge the run asked for, with its key from the environment (never from the manifest)."""
    if config.judge_policy == "never":
        return None
    import os

    from harness.verify import JudgeConfig

    return JudgeConfig(base_url=config.judge_url, model=config.judge_model, policy=config.judge_policy,
                       api_key=os.environ.get(config.judge_key_env) or "EMPTY",
                       cache_dir=str(run_dir.path / "judge_cache"))


def run(config: RunConfig, progress: bool = True, engine: Any = None, verifier: Any = None,
        verbose: bool = False) -> Path:
    """Run (or resume) an evaluation; returns the run directory.

    `engine` and `verifier` may be passed in to share them across runs (a sweep, tests)."""
    started = time.perf_counter()
    setup = set_up(config, engine)
    out = Path(config.out) if config.out else default_out(config, setup.prepared.model_path)
    run_dir = RunDir(out)
    with run_dir.lock("harness run"):
        # Read and check everything already in the directory before changing any of it.
        old_manifest = run_dir.manifest() if run_dir.manifest_path.exists() else None
        done = run_dir.generations(token_ids=False)
        saved = run_dir.thoughts()
        known_items = run_dir.items()
        manifest = manifest_for(config, setup)
        if old_manifest is not None:
            check_comparable(run_dir.path, old_manifest, manifest)
            manifest["benchmarks"] = {**old_manifest.get("benchmarks", {}), **manifest["benchmarks"]}
        jobs, errored = make_jobs(setup, config, done=done)
        settings = generation_settings(config, setup.ban)
        thoughts = kept_thoughts(run_dir, saved, jobs, setup.builder.tokenizer) if settings.forcing else {}
        write_json_atomic(run_dir.manifest_path, manifest)
        append_jsonl(run_dir.items_path, [item_row(spec.name, sample, spec.render_prompt(sample))
                                          for spec in setup.prepared.specs for sample in setup.prepared.samples[spec.name]
                                          if (spec.name, sample.id) not in known_items])
        append_jsonl(run_dir.generations_path,
                     [{"benchmark": job.benchmark, **error_generation(job, message).to_json()} for job, message in errored])
        invocation: dict[str, Any] = {"engine": config.engine, "requests": len(jobs)}
        if jobs:
            with EngineLog(run_dir.engine_log_path, verbose):
                if engine is None:
                    load_started = time.perf_counter()
                    from harness.engines import create_engine

                    engine = create_engine(config.engine, setup.prepared.model_path,
                                           **engine_options(config, setup.prepared))
                    invocation["load_s"] = time.perf_counter() - load_started
                    if getattr(engine, "determinism", None):
                        note(f"--deterministic: {engine.determinism}")
                invocation.update(generate_into(run_dir, engine, jobs, settings, progress, thoughts))
        run_dir.thoughts_path.unlink(missing_ok=True)  # every job's generation is on disk, its thought with it
        score_started = time.perf_counter()
        from harness.verify.scoring import score_run

        score_run(run_dir, judge=judge_for(config, run_dir), verifier=verifier, unfinished=config.unfinished)
        invocation["score_s"] = time.perf_counter() - score_started
        invocation["wall_s"] = time.perf_counter() - started
        if hasattr(engine, "take_usage"):  # an engine that shares work (a sweep's cache) says what it generated
            invocation.update(engine.take_usage())
        from harness.metrics.summary import format_table, write_summary

        summary = write_summary(run_dir.path, invocation=invocation)
    if progress:
        print(format_table(summary, manifest), file=console())
        print(f"run directory: {run_dir.path}", file=console())
    return run_dir.path


def merge(shards: list[str | Path], out: str | Path) -> Path:
    """`harness merge`: the shards' files joined into one run directory, scored and summarised, all of it
    under the directory's lock (a second merge into the same directory is refused before anything is written)."""
    from harness.metrics.summary import write_summary
    from harness.rundir import merge_shards
    from harness.verify.scoring import score_run

    with RunDir(out).lock("harness merge"):
        path, invocations = merge_shards(shards, out)
        score_run(RunDir(path))
        write_summary(path, invocations=invocations)
    return path


def kept_thoughts(run_dir: RunDir, saved: dict[tuple[str, str, int], dict[str, Any]], jobs: list[Job],
                  tokenizer: Any) -> dict[tuple[str, str, int], Any]:
    """The thoughts of thoughts.jsonl that `jobs` continue from: the job's own seed, and token ids the tokenizer
    knows (the engine refuses others; such a job thinks again, and the note says how many)."""
    vocabulary = len(tokenizer) if tokenizer is not None else None
    thoughts, unknown = {}, 0
    for job in jobs:
        row = saved.get(job_key(job))
        if row is None or row["seed"] != job.seed:
            continue
        if vocabulary is not None and not all(0 <= token < vocabulary
                                              for token in row["token_ids"] + (row.get("prompt_ids") or [])):
            unknown += 1
            continue
        thoughts[job_key(job)] = saved_thought(row)
    if thoughts:
        note(f"{run_dir.thoughts_path.name}: {len(thoughts)} kept from before, answered without thinking again")
    if unknown:
        note(f"{run_dir.thoughts_path.name}: {unknown} kept thoughts hold token ids outside the tokenizer's "
             "vocabulary; those jobs think again")
    return thoughts


def generate_into(run_dir: RunDir, engine: Any, jobs: list[Job], settings: GenerationSettings,
                  progress: bool, thoughts: dict[tuple[str, str, int], Any] | None = None) -> dict[str, Any]:
    """Stream the jobs' generations into generations.jsonl, each as it finishes, and under `force` each thought
    that awaits its answer into thoughts.jsonl (`thoughts`: those kept from before, answered first); returns
    the invocation's counts."""
    generated = prompt = 0
    started = time.perf_counter()
    bar = _progress_bar(len(jobs), progress)
    try:
        with JsonlAppender(run_dir.generations_path) as generations, \
                JsonlAppender(run_dir.thoughts_path) as kept:
            def keep(job: Job, first: Any) -> None:
                kept.append(thought_row(job, first))

            for job, generation in stream_generations(engine, jobs, settings, thoughts, keep):
                generations.append({"benchmark": job.benchmark, **generation.to_json()})
                generated += len(generation.token_ids)
                prompt += generation.prompt_tokens
                if bar is not None:
                    elapsed = max(time.perf_counter() - started, 1e-9)
                    bar.set_postfix_str(f"{generated:,} tokens, {generated / elapsed:,.0f} tok/s", refresh=False)
                    bar.update(1)
    except EngineError as exc:
        raise EngineError(f"{exc} (engine log: {run_dir.engine_log_path}); the generations finished before are "
                          "kept: run the same command again to resume") from exc
    finally:
        if bar is not None:
            bar.close()
    return {"generate_s": time.perf_counter() - started, "engine_generated_tokens": generated,
            "engine_prompt_tokens": prompt}


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="generating", unit="req", file=console(), dynamic_ncols=True)
