"""Metrics: Avg@k accuracy with its spread, per-subject tables, and benchmark-specific metrics.

A benchmark-specific metric is a function `f(rows: list[ScoredItem]) -> dict` over the items of ONE
sample run (sample_index k); `summarize` calls it once per k and averages every number it returns
across the k runs, so HallusionBench's qAcc or MMBench's circular accuracy become Avg@k like plain
accuracy. Returned values are percentages; a nested dict (e.g. per category) is averaged key by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from harness.modes import KeywordRule


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def accuracy(rows: list[ScoredItem]) -> dict[str, float]:
    decided = [r for r in rows if r.correct is not None]
    return {"accuracy": 100.0 * sum(bool(r.correct) for r in decided) / len(decided) if decided else 0.0}


METRICS: dict[str, Callable[[list[ScoredItem]], dict[str, Any]]] = {"accuracy": accuracy}


def resolve_metric(name: str) -> Callable[[list[ScoredItem]], dict[str, Any]]:
    if name in METRICS:
        return METRICS[name]
    from harness.bench.spec import load_object

    return load_object(name, f"metric {name!r}")


def _average_dicts(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Average numbers key by key (recursively) across the k sample runs."""
    merged: dict[str, Any] = {}
    keys: list[str] = []
    for result in results:
        keys.extend(k for k in result if k not in keys)
    for key in keys:
        values = [r[key] for r in results if key in r]
        if all(isinstance(v, dict) for v in values):
            merged[key] = _average_dicts(values)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            merged[key] = _mean([float(v) for v in values])
        else:
            merged[key] = values[0]
    return merged


def accuracy_block(rows: list[ScoredItem], samples: int) -> dict[str, Any]:
    """Avg@k over the k sample runs, their std, and an item-clustered 95% interval.

    The formulas live in harness.metrics.stats so that summary.json, the report, `compare` and the
    leaderboard agree to the last digit.
    """
    import numpy as np

    from harness.metrics.stats import avg_at_k

    ids = sorted({r.id for r in rows})
    position = {item_id: n for n, item_id in enumerate(ids)}
    matrix = np.full((len(ids), samples), np.nan)
    for r in rows:
        if r.correct is not None and r.sample_index < samples:
            matrix[position[r.id], r.sample_index] = 1.0 if r.correct else 0.0
    result = avg_at_k(matrix) if ids else None
    mean = result.mean if result is not None and result.mean is not None else 0.0
    ci95 = list(result.ci95) if result is not None and result.ci95 else [mean, mean]
    return {
        "n_items": len(ids),
        "accuracy": mean,
        "std": result.std if result is not None else 0.0,
        "ci95": ci95,
        "per_sample_accuracy": [v for v in (result.per_sample if result is not None else []) if v is not None],
        "undecided": sum(1 for r in rows if r.correct is None and r.method != "error"),
        "errors": sum(1 for r in rows if r.method == "error"),
    }


def summarize_benchmark(rows: list[ScoredItem], generations: list[dict[str, Any]], samples: int,
                        metric_names: list[str], keywords: list[str], ban_rule: str = "word") -> dict[str, Any]:
    block = accuracy_block(rows, samples)
    block["samples"] = samples
    subjects: dict[str, list[ScoredItem]] = {}
    for r in rows:
        subjects.setdefault(r.subject or "(none)", []).append(r)
    if len(subjects) > 1 or "(none)" not in subjects:
        block["subjects"] = {name: {k: v for k, v in accuracy_block(sub, samples).items()
                                    if k in ("n_items", "accuracy", "std", "errors", "undecided")}
                             for name, sub in sorted(subjects.items())}
    extra = [m for m in metric_names if m != "accuracy"]
    if extra:
        runs = []
        for k in range(samples):
            run_rows = [r for r in rows if r.sample_index == k and r.method != "error"]
            result: dict[str, Any] = {}
            for name in extra:
                result.update(resolve_metric(name)(run_rows))
            runs.append(result)
        block["metrics"] = _average_dicts(runs)
    block["methods"] = {}
    for r in rows:
        block["methods"][r.method] = block["methods"].get(r.method, 0) + 1
    ok = [g for g in generations if not g.get("error")]
    block["format_rate"] = _mean([1.0 for r in rows if r.method != "error" and r.format_ok] +
                                 [0.0 for r in rows if r.method != "error" and not r.format_ok])
    block["tokens"] = {
        "mean_think": _mean([g.get("think_tokens", 0) for g in ok]),
        "mean_answer": _mean([g.get("answer_tokens", 0) for g in ok]),
        "mean_total": _mean([g.get("think_tokens", 0) + g.get("answer_tokens", 0) for g in ok]),
    }
    block["truncation_rate"] = _mean([1.0 if g.get("finish_reason") == "length" else 0.0 for g in ok])
    block["forced_rate"] = _mean([1.0 if g.get("forced") else 0.0 for g in ok])
    residual = {k: 0 for k in keywords}
    counter = KeywordRule(keywords, ban_rule)
    for g in ok:
        for k, count in counter.count(g.get("text", "")).items():
            residual[k] += count
    block["residual_keywords"] = residual
    return block
