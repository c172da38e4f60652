"""Benchmark definitions: one YAML file per benchmark in benchmarks/, loaded into a `BenchmarkSpec`.

A benchmark is data plus a few named functions, not a subclass: the YAML names its data source, how
columns map onto `Sample` fields, the prompt (a jinja2 template), the answer type, and the metrics.
Anything a YAML cannot express is a `module:function` hook (`prepare` for rows, `metrics` for scores),
so adding a benchmark never touches the runner.

YAML keys (all but `name` and `source` optional):

    name: mmmu_val                  # what --bench takes
    title: MMMU (validation)        # for tables
    group: General                  # General | Mathematics | Logic | Physics | Other (leaderboard rows)
    source:
      format: tsv                   # tsv (VLMEvalKit, base64 images) | parquet | jsonl | builtin
      file: MMMU_DEV_VAL.tsv        # relative to the data directory
      url: https://...              # where `harness data fetch` downloads it from (optional)
      md5: 521afc0f...              # or sha256: ...; verified on fetch
      hf_dataset: MMMU/MMMU         # informational: the upstream dataset and split
      filter: {split: validation}   # keep rows whose column equals the value (or is in a list)
      generator: harness.bench.sample:generate   # for format: builtin
    columns:                        # Sample field -> column name
      id: index
      question: question
      answer: answer
      images: [image]               # one or several image columns
      choices: [A, B, C, D]         # option columns (letters = column names) ...
      choices_list: options         # ... or one column holding a list of option texts
      subject: category
      answer_type: answer_type      # a column, when the type varies per item
      meta: [question_type, hint]   # extra columns kept in Sample.meta
    answer_type: mcq                # mcq | number | math | text | auto (inferred per item)
    prepare: module:function        # optional: f(sample, row) -> Sample, after the column mapping
    prompt: |                       # jinja2; sees `sample`, `question`, `choices`, `meta`
      {{ question }} ...
    metrics: [accuracy]             # names from harness.metrics.METRICS or module:function
    reported: {skywork_r1v3: 76.0}  # the paper's number, for docs and leaderboards
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import jinja2
import yaml

from harness.types import ANSWER_TYPES, Sample

BENCHMARK_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
GROUPS = ("General", "Mathematics", "Logic", "Physics", "Other")
SOURCE_FORMATS = ("tsv", "parquet", "jsonl", "builtin")

DEFAULT_PROMPT = (
    "{{ question }}\n"
    "{% if choices %}{% for letter, text in choices.items() %}{{ letter }}. {{ text }}\n{% endfor %}"
    "Answer with the option's letter from the given choices.\n{% endif %}"
    "Please reason step by step, and put your final answer within \\boxed{}."
)


class BenchmarkError(ValueError):
    """A benchmark definition or its data is wrong; the message names the file and the problem."""


@dataclass
class Source:
    format: str
    file: str | None = None
    url: str | None = None
    md5: str | None = None
    sha256: str | None = None
    hf_dataset: str | None = None
    filter: dict[str, Any] = field(default_factory=dict)
    generator: str | None = None


@dataclass
class BenchmarkSpec:
    name: str
    source: Source
    title: str = ""
    group: str = "Other"
    columns: dict[str, Any] = field(default_factory=dict)
    answer_type: str = "auto"
    prepare: str | None = None
    prompt: str = DEFAULT_PROMPT
    metrics: list[str] = field(default_factory=lambda: ["accuracy"])
    reported: dict[str, float] = field(default_factory=dict)
    path: Path | None = None
    definition_sha256: str = ""

    def data_path(self, data_dir: str | os.PathLike | None = None) -> Path | None:
        if self.source.file is None:
            return None
        return resolve_data_dir(data_dir) / self.source.file

    def render_prompt(self, sample: Sample) -> str:
        return _compile(self.prompt).render(
            sample=sample, question=sample.question, choices=sample.choices, meta=sample.meta
        ).strip()

    def prepare_fn(self) -> Callable[[Sample, dict[str, Any]], Sample] | None:
        return load_object(self.prepare, f"benchmark {self.name!r} prepare") if self.prepare else None


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $HARNESS_DATA_DIR, else ~/.cache/harness/data."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get("HARNESS_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "harness" / "data"


@lru_cache(maxsize=256)
def _compile(template: str) -> jinja2.Template:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
    return env.from_string(template)


def load_object(ref: str, what: str) -> Any:
    """Resolve 'package.module:attribute'."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise BenchmarkError(f"{what}: {ref!r} is not of the form 'module:function'")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise BenchmarkError(f"{what}: cannot load {ref!r}: {exc}") from exc


def parse_spec(data: dict[str, Any], path: Path | None = None) -> BenchmarkSpec:
    where = str(path) if path else "<benchmark definition>"
    if not isinstance(data, dict):
        raise BenchmarkError(f"{where}: expected a mapping at the top level")
    unknown = set(data) - set(BenchmarkSpec.__dataclass_fields__) - {"source"}
    if unknown:
        raise BenchmarkError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("name", "source"):
        if key not in data:
            raise BenchmarkError(f"{where}: missing required key {key!r}")
    source_data = data["source"]
    if not isinstance(source_data, dict):
        raise BenchmarkError(f"{where}: 'source' must be a mapping")
    unknown_source = set(source_data) - set(Source.__dataclass_fields__)
    if unknown_source:
        raise BenchmarkError(f"{where}: unknown source keys {sorted(unknown_source)}")
    source = Source(**source_data)
    if source.format not in SOURCE_FORMATS:
        raise BenchmarkError(f"{where}: source.format {source.format!r} is not one of {SOURCE_FORMATS}")
    if source.format == "builtin" and not source.generator:
        raise BenchmarkError(f"{where}: a builtin source needs source.generator ('module:function')")
    if source.format != "builtin" and not source.file:
        raise BenchmarkError(f"{where}: source.file is required for format {source.format!r}")
    fields = {k: v for k, v in data.items() if k != "source"}
    spec = BenchmarkSpec(source=source, path=path, **fields)
    if spec.answer_type not in ANSWER_TYPES + ("auto",):
        raise BenchmarkError(f"{where}: answer_type {spec.answer_type!r} is not one of {ANSWER_TYPES + ('auto',)}")
    if spec.group not in GROUPS:
        raise BenchmarkError(f"{where}: group {spec.group!r} is not one of {GROUPS}")
    try:
        _compile(spec.prompt)
    except jinja2.TemplateSyntaxError as exc:
        raise BenchmarkError(f"{where}: prompt template line {exc.lineno}: {exc.message}") from exc
    spec.title = spec.title or spec.name
    canonical = yaml.safe_dump(data, sort_keys=True)
    spec.definition_sha256 = hashlib.sha256(canonical.encode()).hexdigest()
    return spec


def load_spec_file(path: str | os.PathLike) -> BenchmarkSpec:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BenchmarkError(f"{path}: cannot read benchmark definition: {exc}") from exc
    return parse_spec(data, path)


def registry(directory: Path = BENCHMARK_DIR) -> dict[str, BenchmarkSpec]:
    """All benchmark definitions, by name."""
    specs: dict[str, BenchmarkSpec] = {}
    for path in sorted(directory.glob("*.yaml")):
        spec = load_spec_file(path)
        if spec.name in specs:
            raise BenchmarkError(f"{path}: benchmark name {spec.name!r} is also defined in {specs[spec.name].path}")
        specs[spec.name] = spec
    return specs


def get_spec(name_or_path: str) -> BenchmarkSpec:
    """A registered benchmark by name, or a definition file by path."""
    if name_or_path.endswith((".yaml", ".yml")) and Path(name_or_path).exists():
        return load_spec_file(name_or_path)
    specs = registry()
    if name_or_path not in specs:
        raise BenchmarkError(
            f"unknown benchmark {name_or_path!r}; known: {', '.join(sorted(specs))} "
            "(or pass the path of a benchmark .yaml file)"
        )
    return specs[name_or_path]
