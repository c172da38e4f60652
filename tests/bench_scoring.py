"""Load → prompt → score → figures for the conformance tests, through the paths a run takes.

Known responses are written into a run directory the way `harness run` writes one (items through
`harness.rundir.item_row`, one generation per item), scored by `harness.verify.scoring.score_run` (the
production `Verifier`), and summarised by `harness.metrics.figures`, so that each conformance test checks
what `harness run` would report for those responses, benchmark metrics included.
"""

from __future__ import annotations

import atexit
import json
from pathlib import Path
from typing import Any

from harness.bench.loaders import load_samples
from harness.bench.spec import BenchmarkSpec, get_spec
from harness.metrics.figures import Figures, benchmark_figures
from harness.rundir import RunDir, append_jsonl, item_row, load_run, write_json_atomic
from harness.types import Sample
from harness.verify import Verifier
from harness.verify.scoring import score_run

_verifier: Verifier | None = None


def shared_verifier() -> Verifier:
    """One verifier (and one math-verify worker pool) for every conformance test of the session."""
    global _verifier
    if _verifier is None:
        _verifier = Verifier()
        atexit.register(_verifier.close)
    return _verifier


def write_run_dir(path: Path, spec: BenchmarkSpec, samples: list[Sample], responses: dict[str, str],
                  mode: str = "slow") -> RunDir:
    missing = [s.id for s in samples if s.id not in responses]
    assert not missing, f"fixture has no response for items {missing}"
    run_dir = RunDir(path)
    write_json_atomic(run_dir.manifest_path, {
        "config": {"mode": mode, "samples": 1, "benchmarks": [spec.name]},
        "benchmarks": {spec.name: {"title": spec.title, "group": spec.group, "metrics": spec.metrics,
                                   "n_items": len(samples)}},
    })
    append_jsonl(run_dir.items_path, [item_row(spec.name, s, spec.render_prompt(s)) for s in samples])
    append_jsonl(run_dir.generations_path, [{"benchmark": spec.name, "id": s.id, "sample_index": 0,
                                             "text": responses[s.id], "finish_reason": "stop"} for s in samples])
    return run_dir


def run(name: str, data_dir: Path, responses: dict[str, str]) -> tuple[BenchmarkSpec, list[Sample], dict[str, str],
                                                                        Figures, dict[str, Any]]:
    """The benchmark's items, their prompts, and the figures (and benchmark metrics) for `responses`."""
    spec = get_spec(name)
    samples = load_samples(spec, data_dir)
    prompts = {sample.id: spec.render_prompt(sample) for sample in samples}
    run_dir = write_run_dir(Path(data_dir) / f"run-{name}", spec, samples, responses)
    score_run(run_dir, verifier=shared_verifier())
    figures = benchmark_figures(load_run(run_dir.path), name)
    return spec, samples, prompts, figures, figures.metrics


def verdicts(run_dir_path: Path) -> dict[str, dict[str, Any]]:
    """scores.jsonl by item id (one sample per item here)."""
    return {row["id"]: row for row in map(json.loads, (Path(run_dir_path) / "scores.jsonl").read_text().splitlines())}


def subjects(figures: Figures) -> dict[str, float | None]:
    """Avg@k per subject, as summary.json's `subjects` block holds it."""
    return {name: accuracy.mean for name, accuracy in figures.subjects.items()}


def boxed(answer: str) -> str:
    return f"Let me look at the figure carefully.</think>The answer is \\boxed{{{answer}}}."
