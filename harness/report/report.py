"""Build the self-contained HTML report for one or more runs.

One page answers a researcher's questions in order. First, where runs of one model differ in mode or
budget (a sweep above all), what thinking buys: the modes x budgets table and accuracy against budget
(the paper's Table 4 and Figure 9), since that is what a sweep is run for. Then, per run: how accurate
(Avg@k with spread and interval), where (benchmarks, subjects), at what cost (tokens, truncation,
throughput), with which ban set (NoWait), what goes wrong (hallucination phrases, residual banned
words); and last, on which items (the drill-down).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.report.drilldown import TEXT_BUDGET_CHARS, ThumbnailJob, build_drilldown
from harness.report.plots import budget_curve, token_histogram
from harness.report.render import render
from harness.metrics.figures import DEFAULT_HALLUCINATION_PHRASES, Figures, PhraseSplit, phrase_split, run_figures
from harness.modes import MODES
from harness.rundir import Run, RunDirError, load_items, load_run
from harness.verify.parity import ParityInputError, ParityReport, read_reports, scores_sha256

GROUP_ORDER = ("General", "Mathematics", "Logic", "Physics", "Other")
PARITY_ROWS = 50  # differing items listed per peer in the report; all of them are in parity-<peer>.json
BAN_TOKENS_SHOWN = 40  # a longer ban set is listed folded away, behind a <details>


@dataclass
class RunView:
    run: Run
    rows: list[Figures]  # harness.metrics' figures: the numbers summary.json holds, by construction
    histograms: dict[str, str]
    phrase_splits: dict[str, PhraseSplit]
    parity: list[ParityReport] = field(default_factory=list)  # from `harness score --parity`
    parity_warnings: list[str] = field(default_factory=list)

    @property
    def residuals(self) -> dict[str, dict[str, int]]:
        """Residual banned keywords per benchmark, for runs whose manifest names a ban list."""
        return {row.name: row.residual_keywords for row in self.rows if row.residual_keywords}

    @property
    def throughput(self) -> dict[str, Any]:
        return (self.run.summary or {}).get("throughput") or {}


@dataclass
class ModeComparison:
    """Several runs of one model: the paper's Table 4 per benchmark, and Figure 9 where budgets vary."""

    model: str
    benchmark: str
    title: str
    rows: list[tuple[Run, Figures]]
    curve: str | None


def group_key(group: str) -> tuple[int, str]:
    return (GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER), group)


def _parity(run: Run) -> tuple[list[ParityReport], list[str]]:
    """The run's parity reports (from `harness score --parity`), and a warning for each one that was
    computed from other scores than the run holds now."""
    try:
        reports = read_reports(run.path)
    except ParityInputError as error:
        return [], [str(error)]
    current = scores_sha256(run.path / "scores.jsonl")
    stale = [f"parity-{r.peer}.json was computed from other scores than scores.jsonl holds now; rerun "
             f"`harness score {run.path.name} --parity {r.peer}`." for r in reports if r.scores_sha256 != current]
    return reports, stale


def _run_view(run: Run, phrases: list[str]) -> RunView:
    rows = sorted(run_figures(run), key=lambda row: group_key(row.group))
    histograms = {}
    for row in rows:
        generations = [g for key, g in run.generations.items() if key[0] == row.name and g.error is None]
        if generations:
            histograms[row.name] = token_histogram(
                np.fromiter((g.think_tokens for g in generations), dtype=float, count=len(generations)),
                np.fromiter((g.answer_tokens for g in generations), dtype=float, count=len(generations)),
                row.title)
    parity, parity_warnings = _parity(run)
    return RunView(
        run=run,
        rows=rows,
        histograms=histograms,
        phrase_splits={row.name: phrase_split(run, row.name, phrases) for row in rows} if run.generations else {},
        parity=parity,
        parity_warnings=parity_warnings,
    )


def _mode_order(run: Run) -> tuple[int, str, int]:
    """The paper's order: slow, nothink, nowait, then budgets ascending."""
    mode = run.mode
    return (MODES.index(mode) if mode in MODES else len(MODES), mode, run.budget or 0)


def mode_comparisons(views: list[RunView]) -> list[ModeComparison]:
    """Per model and benchmark, its runs side by side: only where they differ in mode or budget."""
    by_model: dict[str, list[RunView]] = defaultdict(list)
    for view in views:
        by_model[view.run.model_fingerprint or view.run.model].append(view)
    comparisons = []
    for model_views in by_model.values():
        if len({(view.run.mode, view.run.budget) for view in model_views}) < 2:
            continue
        benchmarks = dict.fromkeys(row.name for view in model_views for row in view.rows)
        for benchmark in benchmarks:
            rows = [(view.run, row) for view in model_views for row in view.rows if row.name == benchmark]
            if len({(run.mode, run.budget) for run, _ in rows}) < 2:
                continue
            rows.sort(key=lambda pair: _mode_order(pair[0]))
            series: dict[str, list[tuple[int, float]]] = defaultdict(list)
            for run, row in rows:
                if run.budget is not None and row.accuracy.mean is not None:
                    series[run.mode].append((run.budget, row.accuracy.mean))
            curves = {mode: points for mode, points in series.items() if len({b for b, _ in points}) > 1}
            baselines = {mode: points[0][1] for mode, points in series.items() if mode not in curves}
            title = rows[0][1].title
            curve = budget_curve(curves, baselines, title) if curves else None
            comparisons.append(ModeComparison(rows[0][0].model, benchmark, title, rows, curve))
    return comparisons


def expand_sweeps(paths: list[str | Path]) -> tuple[list[Path], list[dict[str, Any]]]:
    """Replace each sweep directory (one with `sweep.json` and no manifest) by its run directories, in
    mode and budget order, as the sweep index lists them; also return the indexes, for their cost."""
    from harness.rundir import INDEX_NAME, read_index

    run_dirs: list[Path] = []
    sweeps: list[dict[str, Any]] = []
    for path in map(Path, paths):
        if (path / "manifest.json").exists() or not (path / INDEX_NAME).exists():
            run_dirs.append(path)
            continue
        try:
            index = read_index(path)
            modes = list(index["modes"])
            entries = sorted(index["runs"], key=lambda e: (modes.index(e["mode"]), int(e["budget"])))
        except (KeyError, TypeError, ValueError) as error:
            raise RunDirError(f"{path / INDEX_NAME}: not a valid sweep index ({error})") from None
        missing = [e["dir"] for e in entries if not (Path(e["path"]) / "manifest.json").exists()]
        if missing:
            raise RunDirError(f"{path / INDEX_NAME}: lists run directories that are not there: {', '.join(missing)}")
        if not entries:
            raise RunDirError(f"{path / INDEX_NAME}: the sweep has no finished runs")
        run_dirs += [Path(e["path"]) for e in entries]
        sweeps.append({"path": str(path), "modes": modes, "budgets": index.get("budgets", []),
                       "budget_policy": index.get("budget_policy", ""), "runs": len(entries),
                       "cost": index.get("cost", {})})
    return run_dirs, sweeps


def build_report(
    run_dirs: list[str | Path],
    *,
    phrases: list[str] | None = None,
    text_budget_chars: int = TEXT_BUDGET_CHARS,
) -> str:
    """Render the report for the given run (or sweep) directories and return the HTML text."""
    if not run_dirs:
        raise ValueError("no run directory given")
    run_dirs, sweeps = expand_sweeps(run_dirs)
    phrases = list(phrases or DEFAULT_HALLUCINATION_PHRASES)
    for path in run_dirs:
        if not (Path(path) / "manifest.json").exists():
            load_run(path)  # raises the clear error for a directory that is not a run
    items = [load_items(Path(path) / "items.jsonl") for path in run_dirs]
    originals = [t for run_items in items for item in run_items.values() for t in item.thumbnails]
    with ThumbnailJob(originals) as thumbnail_job:
        runs = [load_run(path, items=run_items) for path, run_items in zip(run_dirs, items)]
        views = [_run_view(run, phrases) for run in runs]
        drilldown = build_drilldown(runs, text_budget_chars=text_budget_chars, thumbnail_job=thumbnail_job)
    title = ", ".join(dict.fromkeys(run.model for run in runs))
    return render(
        "report.html.j2",
        title=title,
        views=views,
        comparisons=mode_comparisons(views),
        sweeps=sweeps,
        phrases=phrases,
        drilldown=drilldown,
        parity_rows=PARITY_ROWS,
        ban_tokens_shown=BAN_TOKENS_SHOWN,
    )


def write_report(run_dirs: list[str | Path], output: str | Path, **options: Any) -> Path:
    """Build the report and write it atomically (a half-written report never replaces a good one)."""
    output = Path(output)
    html = build_report(run_dirs, **options)
    partial = output.with_name(output.name + ".partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(output)
    return output
