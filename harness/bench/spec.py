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
      file: MMMU_DEV_VAL.tsv        # inside the data directory (relative, no '..')
      url: https://...              # where `harness data fetch` downloads it from (optional)
      md5: '585e8ad7...'            # or sha256: '...' (quoted: a digest is text); verified on fetch
      hf_dataset: MMMU/MMMU         # informational: the upstream dataset and split
      filter: {split: validation}   # keep rows whose column equals the value (or is in a list)
      generator: harness.bench.sample:generate   # for format: builtin
    columns:                        # Sample field -> column name
      id: index
      question: question
      answer: answer
      images: [image]               # one or several image columns
      choices: [A, B, C, D]         # option columns (letters = column names), or `letters`: every
                                    # one-letter column the file has, A to Z (VLMEvalKit's rule) ...
      choices_list: options         # ... or one column holding a list of option texts
      subject: category
      answer_type: answer_type      # a column, when the type varies per item
      meta: [question_type, hint]   # extra columns kept in Sample.meta
    answer_type: mcq                # mcq | number | math | text | auto (inferred per item)
    prepare: module:function        # optional: f(sample, row) -> Sample, after the column mapping
    prompt: |                       # jinja2 (sandboxed); sees `sample`, `question`, `choices`, `meta`
      {{ question }} ...
    metrics: [accuracy]             # names from harness.metrics.METRICS or module:function
    reported: {skywork_r1v3: 76.0}  # the paper's number, for docs and leaderboards

A definition is checked when it loads: unknown keys, a data file outside the data directory, a
checksum that is not a quoted digest of the right length, and a prompt that reaches for attributes
starting with `_` are refused with the file named; every column it names must then be in the data
file (checked by the loader before any model loads). The prompt renders in jinja2's immutable sandbox,
because a benchmark file is data someone else may have written, not code this process should run.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Callable

import jinja2
import jinja2.nodes
import jinja2.sandbox
import yaml

from harness.types import ANSWER_TYPES, Sample

BENCHMARK_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
GROUPS = ("General", "Mathematics", "Logic", "Physics", "Other")
SOURCE_FORMATS = ("tsv", "parquet", "jsonl", "builtin")
COLUMN_KEYS = ("id", "question", "answer", "images", "choices", "choices_list", "subject", "answer_type", "meta")
LIST_COLUMN_KEYS = ("images", "choices", "meta")
LETTER_COLUMNS = "letters"  # columns.choices: every one-letter column of the file, A to Z
CHECKSUM_HEX_DIGITS = {"md5": 32, "sha256": 64}
_HEX = re.compile(r"^[0-9a-fA-F]+$")

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
        try:
            return _compile(self.prompt).render(
                sample=sample, question=sample.question, choices=sample.choices, meta=sample.meta
            ).strip()
        except jinja2.TemplateError as exc:
            raise BenchmarkError(f"{self.path or self.name}: prompt template, item {sample.id!r}: {exc}") from exc

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


_SANDBOX = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)


@lru_cache(maxsize=256)
def _compile(template: str) -> jinja2.Template:
    return _SANDBOX.from_string(template)


def _unsafe_access(template: str) -> tuple[int, str] | None:
    """(line, name) of the first attribute or key starting with '_' the template names, else None.

    The sandbox refuses these at render time anyway; finding them when the definition loads turns an
    attempt to escape it into an error before any model loads.
    """
    for node in _SANDBOX.parse(template).find_all((jinja2.nodes.Getattr, jinja2.nodes.Getitem, jinja2.nodes.Filter)):
        if isinstance(node, jinja2.nodes.Getattr):
            names = [node.attr]
        elif isinstance(node, jinja2.nodes.Getitem):
            names = [node.arg.value] if isinstance(node.arg, jinja2.nodes.Const) else []
        else:  # `x|attr('__class__')`
            names = [arg.value for arg in node.args if isinstance(arg, jinja2.nodes.Const)] if node.name == "attr" else []
        for name in names:
            if isinstance(name, str) and name.startswith("_"):
                return node.lineno, name
    return None


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
    for key, value in source_data.items():
        if key != "filter" and value is not None and not isinstance(value, str):
            raise BenchmarkError(f"{where}: source.{key} must be text (quote it), not {type(value).__name__} {value!r}")
    source = Source(**source_data)
    if not isinstance(source.filter, dict):
        raise BenchmarkError(f"{where}: source.filter must be a mapping of column -> value (or list of values)")
    if source.format not in SOURCE_FORMATS:
        raise BenchmarkError(f"{where}: source.format {source.format!r} is not one of {SOURCE_FORMATS}")
    if source.format == "builtin" and not source.generator:
        raise BenchmarkError(f"{where}: a builtin source needs source.generator ('module:function')")
    if source.format != "builtin" and not source.file:
        raise BenchmarkError(f"{where}: source.file is required for format {source.format!r}")
    if source.file is not None:
        _check_inside_data_dir(source.file, where)
    _check_checksums(source, where)
    fields = {k: v for k, v in data.items() if k != "source"}
    _check_columns(fields.get("columns", {}), where)
    spec = BenchmarkSpec(source=source, path=path, **fields)
    if spec.answer_type not in ANSWER_TYPES + ("auto",):
        raise BenchmarkError(f"{where}: answer_type {spec.answer_type!r} is not one of {ANSWER_TYPES + ('auto',)}")
    if spec.group not in GROUPS:
        raise BenchmarkError(f"{where}: group {spec.group!r} is not one of {GROUPS}")
    try:
        _compile(spec.prompt)
    except jinja2.TemplateSyntaxError as exc:
        raise BenchmarkError(f"{where}: prompt template line {exc.lineno}: {exc.message}") from exc
    unsafe = _unsafe_access(spec.prompt)
    if unsafe:
        raise BenchmarkError(f"{where}: prompt template line {unsafe[0]} reaches for {unsafe[1]!r}: a benchmark "
                             "prompt may not use attributes or keys that start with '_' (it renders in a sandbox)")
    spec.title = spec.title or spec.name
    canonical = yaml.safe_dump(data, sort_keys=True)
    spec.definition_sha256 = hashlib.sha256(canonical.encode()).hexdigest()
    return spec


def _check_inside_data_dir(file: str, where: str) -> None:
    """source.file is joined to the data directory, so it must stay inside it: relative, no '..'."""
    posix, windows = PurePosixPath(file), PureWindowsPath(file)
    if posix.is_absolute() or windows.drive or windows.root or ".." in posix.parts or ".." in windows.parts:
        raise BenchmarkError(f"{where}: source.file {file!r} must name a file inside the data directory "
                             "(a relative path without '..')")


def _check_checksums(source: Source, where: str) -> None:
    for algorithm, digits in CHECKSUM_HEX_DIGITS.items():
        value = getattr(source, algorithm)
        if value is None:
            continue
        if not (len(value.strip()) == digits and _HEX.match(value.strip())):
            raise BenchmarkError(f"{where}: source.{algorithm} {value!r} is not an {algorithm} digest "
                                 f"({digits} hexadecimal digits)")


def _check_columns(columns: Any, where: str) -> None:
    if not isinstance(columns, dict):
        raise BenchmarkError(f"{where}: 'columns' must be a mapping of Sample field -> column name")
    unknown = set(columns) - set(COLUMN_KEYS)
    if unknown:
        raise BenchmarkError(f"{where}: unknown columns keys {sorted(unknown)}; known: {', '.join(COLUMN_KEYS)}")
    for key, value in columns.items():
        if key == "choices" and value == LETTER_COLUMNS:
            continue
        names = value if key in LIST_COLUMN_KEYS else [value]
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            kind = "a list of column names" if key in LIST_COLUMN_KEYS else "one column name"
            kind += f" or {LETTER_COLUMNS!r}" if key == "choices" else ""
            raise BenchmarkError(f"{where}: columns.{key} must be {kind} (quote names YAML reads as numbers), "
                                 f"not {value!r}")


def mapped_columns(spec: BenchmarkSpec) -> list[tuple[str, str]]:
    """(definition key, column name) for every column the definition names, defaults included."""
    columns = spec.columns
    named = [(f"columns.{key}", columns.get(key, default))
             for key, default in (("id", "index"), ("question", "question"), ("answer", "answer"))]
    for key in ("choices_list", "subject", "answer_type"):
        if key in columns:
            named.append((f"columns.{key}", columns[key]))
    for key in LIST_COLUMN_KEYS:
        if columns.get(key) != LETTER_COLUMNS:
            named.extend((f"columns.{key}", name) for name in columns.get(key, []))
    named.extend(("source.filter", name) for name in spec.source.filter)
    return named


def load_spec_file(path: str | os.PathLike) -> BenchmarkSpec:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BenchmarkError(f"{path}: cannot read benchmark definition: {exc}") from exc
    except UnicodeDecodeError as exc:
        from harness.rundir import not_utf8

        raise BenchmarkError(not_utf8(path, exc)) from None
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
