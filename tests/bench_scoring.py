"""Load → prompt → score for the conformance tests, with the verifier and metrics the harness ships.

Known response texts go through `harness.verify.verify_rules` (the rule stage every run uses), the
verdicts become `ScoredItem`s as the summary builds them, and every metric the benchmark definition
names is resolved the way the summary resolves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.bench.spec import BenchmarkSpec, get_spec
from harness.bench.loaders import load_samples
from harness.metrics.accuracy import resolve_metric
from harness.types import ScoredItem
from harness.types import Sample
from harness.verify import VerifyItem, verify_rules


def verdict_for(sample: Sample, response: str) -> tuple[bool | None, str | None, str]:
    verdict = verify_rules(VerifyItem(id=sample.id, question=sample.question, answer=sample.answer,
                                      response=response, answer_type=sample.answer_type,
                                      choices=sample.choices or None))
    return verdict.correct, verdict.extracted, verdict.method


def score(samples: list[Sample], responses: dict[str, str], sample_index: int = 0) -> list[ScoredItem]:
    missing = [s.id for s in samples if s.id not in responses]
    assert not missing, f"fixture has no response for items {missing}"
    rows = []
    for sample in samples:
        correct, extracted, method = verdict_for(sample, responses[sample.id])
        rows.append(ScoredItem(id=sample.id, sample_index=sample_index, answer=sample.answer,
                               answer_type=sample.answer_type, correct=correct, extracted=extracted,
                               method=method, subject=sample.subject, choices=dict(sample.choices),
                               meta=dict(sample.meta)))
    return rows


def benchmark_metrics(spec: BenchmarkSpec, rows: list[ScoredItem]) -> dict[str, Any]:
    """Every metric the definition names, resolved as the summary resolves them, merged into one dict."""
    merged: dict[str, Any] = {}
    for name in spec.metrics:
        merged.update(resolve_metric(name)(rows))
    return merged


def run(name: str, data_dir: Path, responses: dict[str, str]) -> tuple[BenchmarkSpec, list[Sample], dict[str, str],
                                                                        list[ScoredItem], dict[str, Any]]:
    spec = get_spec(name)
    samples = load_samples(spec, data_dir)
    prompts = {sample.id: spec.render_prompt(sample) for sample in samples}
    rows = score(samples, responses)
    return spec, samples, prompts, rows, benchmark_metrics(spec, rows)


def boxed(answer: str) -> str:
    return f"Let me look at the figure carefully.</think>The answer is \\boxed{{{answer}}}."
