"""Per-benchmark and per-subject numbers of one run, recomputed from scores.jsonl and generations.jsonl.

scores.jsonl is the source of truth: summary.json is a convenience the runner writes at the end, and
a killed or re-scored run may not have a current one. The report shows where the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.rundir import Run
from harness.metrics.stats import Accuracy, avg_at_k
from harness.modes import KeywordRule, split_thinking, think_opened
from harness.report.text import contains_any


@dataclass
class TokenStats:
    mean_think: float | None = None
    mean_answer: float | None = None
    mean_total: float | None = None
    truncation_rate: float | None = None  # share of generations that hit the budget
    forced_rate: float | None = None  # share where budget policy `force` closed the thinking


@dataclass
class BenchmarkRow:
    name: str
    title: str
    group: str
    samples: int
    accuracy: Accuracy
    errors: int
    judge_consulted: int  # verdicts where the judge gave an opinion
    judge_decided: int  # verdicts whose deciding stage was the judge
    tokens: TokenStats
    subjects: dict[str, Accuracy] = field(default_factory=dict)
    summary_accuracy: float | None = None  # what summary.json claims, when present


def item_ids(run: Run, benchmark: str) -> list[str]:
    """Item ids of a benchmark in first-seen order."""
    seen: dict[str, None] = {}
    for key in run.scores:
        if key[0] == benchmark:
            seen.setdefault(key[1], None)
    return list(seen)


def correctness(run: Run, benchmark: str, ids: list[str]) -> np.ndarray:
    """items x samples matrix of 1/0/NaN for the given ids (missing or undecided = NaN)."""
    k = run.samples
    matrix = np.full((len(ids), k), np.nan)
    row_of = {item_id: row for row, item_id in enumerate(ids)}
    for (name, item_id, sample_index), score in run.scores.items():
        row = row_of.get(item_id) if name == benchmark else None
        if row is None or not 0 <= sample_index < k or score.verdict.correct is None:
            continue
        matrix[row, sample_index] = 1.0 if score.verdict.correct else 0.0
    return matrix


def subject_of(run: Run, benchmark: str, item_id: str) -> str:
    score = run.scores.get((benchmark, item_id, 0))
    if score is not None and score.subject:
        return score.subject
    item = run.items.get((benchmark, item_id))
    return item.subject if item is not None else ""


def token_stats(run: Run, benchmark: str) -> TokenStats:
    generations = [g for key, g in run.generations.items() if key[0] == benchmark and g.error is None]
    if not generations:
        tokens = (((run.summary or {}).get("benchmarks") or {}).get(benchmark) or {})
        block = tokens.get("tokens") or {}
        return TokenStats(
            block.get("mean_think"), block.get("mean_answer"), block.get("mean_total"),
            tokens.get("truncation_rate"), tokens.get("forced_rate"),
        )
    think = np.array([g.think_tokens for g in generations], dtype=float)
    answer = np.array([g.answer_tokens for g in generations], dtype=float)
    return TokenStats(
        mean_think=float(think.mean()),
        mean_answer=float(answer.mean()),
        mean_total=float((think + answer).mean()),
        truncation_rate=sum(g.finish_reason == "length" for g in generations) / len(generations),
        forced_rate=sum(bool(g.forced) for g in generations) / len(generations),
    )


def benchmark_row(run: Run, benchmark: str) -> BenchmarkRow:
    info = run.info(benchmark)
    ids = item_ids(run, benchmark)
    matrix = correctness(run, benchmark, ids)
    subjects: dict[str, list[int]] = {}
    for row, item_id in enumerate(ids):
        subjects.setdefault(subject_of(run, benchmark, item_id) or "(none)", []).append(row)
    verdicts = [s.verdict for key, s in run.scores.items() if key[0] == benchmark]
    summary_block = (((run.summary or {}).get("benchmarks") or {}).get(benchmark) or {})
    claimed = summary_block.get("accuracy")
    return BenchmarkRow(
        name=benchmark,
        title=info.title,
        group=info.group,
        samples=run.samples,
        accuracy=avg_at_k(matrix),
        errors=sum(v.method == "error" for v in verdicts),
        judge_consulted=sum(v.judge_correct is not None for v in verdicts),
        judge_decided=sum(v.method == "judge" for v in verdicts),
        tokens=token_stats(run, benchmark),
        subjects={name: avg_at_k(matrix[rows]) for name, rows in sorted(subjects.items())},
        summary_accuracy=float(claimed) if isinstance(claimed, (int, float)) else None,
    )


def benchmark_rows(run: Run) -> list[BenchmarkRow]:
    return [benchmark_row(run, name) for name in run.benchmark_names()]


@dataclass
class PhraseSplit:
    """The paper's Table 5: accuracy of responses with and without given phrases in their thinking."""

    phrases: list[str]
    total: tuple[int, float | None]  # (responses decided, accuracy %)
    without: tuple[int, float | None]
    with_phrase: tuple[int, float | None]


def phrase_split(run: Run, benchmark: str, phrases: list[str]) -> PhraseSplit:
    groups: dict[bool, list[bool]] = {True: [], False: []}
    for key, score in run.scores.items():
        generation = run.generations.get(key)
        if key[0] != benchmark or generation is None or score.verdict.correct is None:
            continue
        thinking = split_thinking(generation.text, think_opened(run.mode)).reasoning
        groups[contains_any(thinking, phrases)].append(score.verdict.correct)

    def rate(values: list[bool]) -> tuple[int, float | None]:
        return len(values), (100.0 * sum(values) / len(values) if values else None)

    return PhraseSplit(phrases, rate(groups[True] + groups[False]), rate(groups[False]), rate(groups[True]))


def residual_keywords(run: Run, benchmark: str) -> dict[str, int]:
    """Banned keywords that still appear in outputs (counted in the text, not taken from summary.json)."""
    ban = run.manifest.get("ban") or {}
    keywords = [k for k in (ban.get("keywords") or []) if isinstance(k, str)]
    totals = dict.fromkeys(keywords, 0)
    if not keywords:
        return totals
    counter = KeywordRule(keywords, ban.get("rule", "substring"))
    for key, generation in run.generations.items():
        if key[0] == benchmark:
            for keyword, count in counter.count(generation.text).items():
                totals[keyword] += count
    return totals
