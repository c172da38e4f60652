"""Every figure of a run, computed once: summary.json, the report, `compare` and the leaderboard read these.

The input is a loaded run directory (`harness.rundir.Run`); scores.jsonl is the source of truth for
verdicts and generations.jsonl for tokens. Correctness travels as an items x samples matrix of 1/0/NaN
(NaN: undecided, errored or missing -- never counted as wrong) into `harness.metrics.stats`.

A benchmark-specific metric (a benchmark file's `metrics:` entry, `module:function`) is a function
`f(rows: list[ScoredItem]) -> dict` over the items of ONE sample run; it is called once per sample
index and every number it returns is averaged across the k runs, so HallusionBench's qAcc or MMBench's
circular accuracy become Avg@k like plain accuracy. A nested dict (e.g. per category) is averaged key by
key.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from harness.metrics.stats import Accuracy, avg_at_k
from harness.modes import KeywordRule, split_thinking, think_opened
from harness.rundir import Run
from harness.types import ScoredItem, Verdict

MetricFunction = Callable[[list[ScoredItem]], dict[str, Any]]
NO_SUBJECT = "(none)"
DEFAULT_HALLUCINATION_PHRASES = ("can't see the image",)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


# ---------------------------------------------------------------- items, subjects, correctness


def item_ids(run: Run, benchmark: str) -> list[str]:
    """Item ids of a benchmark in first-seen order of scores.jsonl."""
    seen: dict[str, None] = {}
    for key in run.scores:
        if key[0] == benchmark:
            seen.setdefault(key[1], None)
    return list(seen)


def subject_of(run: Run, benchmark: str, item_id: str) -> str:
    score = run.scores.get((benchmark, item_id, 0))
    if score is not None and score.subject:
        return score.subject
    item = run.items.get((benchmark, item_id))
    return item.subject if item is not None else ""


def correctness(run: Run, benchmark: str, ids: list[str], keep: Callable[[tuple[str, str, int]], bool] | None = None
                ) -> np.ndarray:
    """items x samples matrix of 1/0/NaN for the given ids; `keep` may leave (benchmark, id, k) keys out."""
    k = run.samples
    matrix = np.full((len(ids), k), np.nan)
    row_of = {item_id: row for row, item_id in enumerate(ids)}
    for key, score in run.scores.items():
        row = row_of.get(key[1]) if key[0] == benchmark else None
        if row is None or not 0 <= key[2] < k or score.verdict.correct is None or (keep and not keep(key)):
            continue
        matrix[row, key[2]] = 1.0 if score.verdict.correct else 0.0
    return matrix


def scored_items(run: Run, benchmark: str) -> list[ScoredItem]:
    """The rows a benchmark-specific metric sees: one per scored (item, sample) that did not error."""
    rows = []
    for (name, item_id, sample_index), score in run.scores.items():
        if name != benchmark or score.verdict.method == "error":
            continue
        item = run.items.get((name, item_id))
        rows.append(ScoredItem(
            id=item_id, sample_index=sample_index, answer=item.answer if item else "",
            answer_type=item.answer_type if item else "text", correct=score.verdict.correct,
            extracted=score.verdict.extracted, method=score.verdict.method, format_ok=score.verdict.format_ok,
            subject=score.subject, choices=dict(item.choices) if item else {}, meta=dict(item.meta) if item else {},
        ))
    return rows


# ---------------------------------------------------------------- benchmark-specific metrics


def accuracy(rows: list[ScoredItem]) -> dict[str, float]:
    decided = [r for r in rows if r.correct is not None]
    return {"accuracy": 100.0 * sum(bool(r.correct) for r in decided) / len(decided) if decided else 0.0}


METRICS: dict[str, MetricFunction] = {"accuracy": accuracy}


def resolve_metric(name: str) -> MetricFunction:
    if name in METRICS:
        return METRICS[name]
    from harness.bench.spec import load_object

    return load_object(name, f"metric {name!r}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def average_dicts(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Average numbers key by key (recursively) across the k sample runs."""
    merged: dict[str, Any] = {}
    keys: list[str] = []
    for result in results:
        keys.extend(k for k in result if k not in keys)
    for key in keys:
        values = [r[key] for r in results if key in r]
        if all(isinstance(v, dict) for v in values):
            merged[key] = average_dicts(values)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            merged[key] = _mean([float(v) for v in values])
        else:
            merged[key] = values[0]
    return merged


def benchmark_metrics(rows: list[ScoredItem], samples: int, names: list[str]) -> dict[str, Any]:
    """Every metric a benchmark definition names (beyond plain accuracy), as Avg@k over the sample runs."""
    extra = [name for name in names if name != "accuracy"]
    if not extra:
        return {}
    functions = [resolve_metric(name) for name in extra]
    runs = []
    for k in range(samples):
        run_rows = [r for r in rows if r.sample_index == k]
        result: dict[str, Any] = {}
        for function in functions:
            result.update(function(run_rows))
        runs.append(result)
    return average_dicts(runs)


# ---------------------------------------------------------------- the figures of one benchmark


@dataclass
class Tokens:
    mean_think: float | None = None
    mean_answer: float | None = None
    mean_total: float | None = None


@dataclass
class StageAccuracy:
    """Pooled accuracy of one verification stage over the (item, sample) pairs it decided."""

    accuracy: float | None
    decided: int
    correct: int

    @classmethod
    def of(cls, values: list[bool | None]) -> "StageAccuracy":
        decided = [v for v in values if v is not None]
        return cls(100.0 * sum(decided) / len(decided) if decided else None, len(decided), sum(decided))


@dataclass
class Figures:
    """One benchmark of one run, every number the summary, the report and the leaderboard print."""

    name: str
    title: str
    group: str
    samples: int
    accuracy: Accuracy  # Avg@k over the k sample runs, with spread and interval
    finished_accuracy: Accuracy  # the same over responses whose thought closed
    unfinished_rate: float | None  # share of responses whose thought never closed (None: no thinking mode)
    undecided: int  # verdicts null (judge error, timeout, invalid item), errors apart
    errors: int  # generations that failed
    subjects: dict[str, Accuracy]
    metrics: dict[str, Any]
    methods: dict[str, int]
    format_rate: float | None
    tokens: Tokens
    truncation_rate: float | None  # share of generations that hit the budget
    forced_rate: float | None  # share where budget policy `force` closed the thinking
    residual_keywords: dict[str, int]
    rule_only: StageAccuracy
    judge_only: StageAccuracy
    combined: StageAccuracy
    judge_decided: int  # verdicts whose deciding stage was the judge

    def to_json(self) -> dict[str, Any]:
        """The benchmark's block of summary.json (docs/run-directory.md)."""
        return {
            "n_items": self.accuracy.n_items,
            "samples": self.samples,
            "accuracy": self.accuracy.mean,
            "std": self.accuracy.std,
            "ci95": list(self.accuracy.ci95) if self.accuracy.ci95 else None,
            "per_sample_accuracy": self.accuracy.per_sample,
            "unfinished_rate": self.unfinished_rate,
            "finished_accuracy": self.finished_accuracy.mean,
            "undecided": self.undecided,
            "errors": self.errors,
            "subjects": {name: _accuracy_json(acc) for name, acc in self.subjects.items()},
            "metrics": self.metrics,
            "methods": self.methods,
            "format_rate": self.format_rate,
            "tokens": vars(self.tokens),
            "truncation_rate": self.truncation_rate,
            "forced_rate": self.forced_rate,
            "residual_keywords": self.residual_keywords,
            "verification": {"combined": vars(self.combined), "rule_only": vars(self.rule_only),
                             "judge_only": vars(self.judge_only), "judge_decided": self.judge_decided},
        }


def _accuracy_json(accuracy: Accuracy) -> dict[str, Any]:
    return {"n_items": accuracy.n_items, "accuracy": accuracy.mean, "std": accuracy.std,
            "ci95": list(accuracy.ci95) if accuracy.ci95 else None}


def _rate(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def benchmark_figures(run: Run, benchmark: str) -> Figures:
    info = run.info(benchmark)
    ids = item_ids(run, benchmark)
    thinking = think_opened(run.mode)
    generations = {key: g for key, g in run.generations.items() if key[0] == benchmark and g.error is None}
    unfinished = {key for key, g in generations.items() if thinking and not split_thinking(g.text).finished}
    matrix = correctness(run, benchmark, ids)
    finished_matrix = correctness(run, benchmark, ids, keep=lambda key: key not in unfinished)
    by_subject: dict[str, list[int]] = {}
    for row, item_id in enumerate(ids):
        by_subject.setdefault(subject_of(run, benchmark, item_id) or NO_SUBJECT, []).append(row)
    subjects = {} if list(by_subject) == [NO_SUBJECT] else {
        name: avg_at_k(matrix[rows]) for name, rows in sorted(by_subject.items())}
    verdicts = [s.verdict for key, s in run.scores.items() if key[0] == benchmark]
    decided = [v for v in verdicts if v.method != "error"]
    counter = KeywordRule(run.ban.keywords, run.ban.rule)
    residual = dict.fromkeys(counter.keywords, 0)
    think, answer = [g.think_tokens for g in generations.values()], [g.answer_tokens for g in generations.values()]
    for g in generations.values():
        for keyword, count in counter.count(g.text).items():
            residual[keyword] += count
    metric_names = ((run.manifest.get("benchmarks") or {}).get(benchmark) or {}).get("metrics") or ["accuracy"]
    return Figures(
        name=benchmark,
        title=info.title,
        group=info.group,
        samples=run.samples,
        accuracy=avg_at_k(matrix),
        finished_accuracy=avg_at_k(finished_matrix),
        unfinished_rate=_rate([key in unfinished for key in generations]) if thinking else None,
        undecided=sum(v.correct is None for v in decided),
        errors=len(verdicts) - len(decided),
        subjects=subjects,
        metrics=benchmark_metrics(scored_items(run, benchmark), run.samples, list(metric_names)),
        methods=dict(sorted(Counter(v.method for v in verdicts).items())),
        format_rate=_rate([v.format_ok for v in decided]),
        tokens=Tokens(_mean(think), _mean(answer), _mean([a + b for a, b in zip(think, answer)]))
        if generations else Tokens(),
        truncation_rate=_rate([g.finish_reason == "length" for g in generations.values()]),
        forced_rate=_rate([bool(g.forced) for g in generations.values()]),
        residual_keywords=residual,
        rule_only=StageAccuracy.of([v.rule_correct for v in decided]),
        judge_only=StageAccuracy.of([v.judge_correct for v in decided]),
        combined=StageAccuracy.of([v.correct for v in decided]),
        judge_decided=sum(v.method == "judge" for v in decided),
    )


def verdict_summary(verdicts: list[Verdict]) -> dict[str, Any]:
    """Pooled rule-only, judge-only and combined accuracy of a set of verdicts (`harness score` on predictions)."""
    return {"n": len(verdicts), "combined": vars(StageAccuracy.of([v.correct for v in verdicts])),
            "rule_only": vars(StageAccuracy.of([v.rule_correct for v in verdicts])),
            "judge_only": vars(StageAccuracy.of([v.judge_correct for v in verdicts])),
            "undecided": sum(v.correct is None for v in verdicts),
            "format_rate": _rate([v.format_ok for v in verdicts]),
            "methods": dict(sorted(Counter(v.method for v in verdicts).items()))}


def run_figures(run: Run) -> list[Figures]:
    """Every benchmark of the run, in manifest order."""
    return [benchmark_figures(run, name) for name in run.benchmark_names()]


# ---------------------------------------------------------------- the paper's Table 5


@dataclass
class PhraseSplit:
    """Accuracy of responses with and without given phrases in their thinking (the paper's Table 5)."""

    phrases: list[str]
    total: tuple[int, float | None]  # (responses decided, accuracy %)
    without: tuple[int, float | None]
    with_phrase: tuple[int, float | None] = field(default=(0, None))


def _fold(text: str) -> str:
    """Lowercase with typographic apostrophes folded, so "can\u2019t" matches "can't"."""
    folded = text.lower()
    # translate() is slow on long texts; most texts have no typographic apostrophe at all.
    if "\u2019" in folded or "\u2018" in folded or "\u02bc" in folded:
        folded = folded.translate(_APOSTROPHES)
    return folded


def contains_any(text: str, phrases: tuple[str, ...] | list[str]) -> bool:
    folded = _fold(text)
    return any(_fold(phrase) in folded for phrase in phrases)


def phrase_split(run: Run, benchmark: str, phrases: list[str]) -> PhraseSplit:
    groups: dict[bool, list[bool]] = {True: [], False: []}
    thinking = think_opened(run.mode)
    for key, score in run.scores.items():
        generation = run.generations.get(key)
        if key[0] != benchmark or generation is None or score.verdict.correct is None:
            continue
        groups[contains_any(split_thinking(generation.text, thinking).reasoning, phrases)].append(
            score.verdict.correct)

    def rate(values: list[bool]) -> tuple[int, float | None]:
        return len(values), (100.0 * sum(values) / len(values) if values else None)

    return PhraseSplit(phrases, rate(groups[True] + groups[False]), rate(groups[False]), rate(groups[True]))
