"""The paired comparison of two runs (harness.metrics.compare) as markdown and as an HTML page."""

from __future__ import annotations

from harness.metrics.compare import SUBJECTS_UNCORRECTED, BenchmarkComparison, Comparison, Side
from harness.report.render import render


def _num(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _p(value: float) -> str:
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _cells(side: Side) -> list[str]:
    """BASE %, NEW %, the difference and its interval, the raw p-value, and the test that gave it."""
    paired = side.paired
    if paired is None:
        return [_num(side.base.mean), _num(side.new.mean), "–", "–", "–", "–"]
    return [
        _num(side.base.mean), _num(side.new.mean), _num(paired.difference, signed=True),
        f"[{_num(paired.ci95[0], signed=True)}, {_num(paired.ci95[1], signed=True)}]",
        _p(paired.p_value), f"{paired.test} (n={paired.n_items}, −{paired.base_only}/+{paired.new_only})",
    ]


def _benchmark_cells(result: BenchmarkComparison) -> list[str]:
    """A benchmark row: `_cells` of its overall side with the Holm-adjusted p-value after the raw one."""
    cells = _cells(result.overall)
    adjusted = "–" if result.adjusted_p_value is None else _p(result.adjusted_p_value)
    return [*cells[:5], adjusted, *cells[5:]]


def _md(text: str) -> str:
    """Keep table cells intact: names come from run directories and may contain pipes."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(comparison: Comparison, max_flips: int = 20) -> str:
    base, new = comparison.base, comparison.new
    lines = [
        f"# compare: {_md(new.label)} vs {_md(base.label)}",
        "",
        f"BASE `{_md(base.path)}` · NEW `{_md(new.path)}` · regression = drop > {comparison.threshold:g} points "
        f"with Holm-adjusted p < {comparison.alpha:g} (Holm over the {comparison.family_size} benchmarks tested)",
        "",
        "| benchmark | BASE % | NEW % | Δ pts | 95% CI | p (raw) | p (Holm) | test (items, lost/gained) | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in comparison.benchmarks:
        if result.overall is None:
            lines.append(f"| {_md(result.title)} | – | – | – | – | – | – | – | "
                         f"**{result.status}**: {_md('; '.join(result.reasons))} |")
            continue
        verdict = "**REGRESSION**" if result.regression else "ok"
        lines.append("| " + " | ".join([_md(result.title), *_benchmark_cells(result), verdict]) + " |")
    for result in comparison.benchmarks:
        if not (result.subjects or result.flips or result.notes):
            continue
        lines += ["", f"## {_md(result.title)}"]
        lines += [f"- note: {_md(note)}" for note in result.notes]
        if result.subjects:
            lines += ["", SUBJECTS_UNCORRECTED, "",
                      "| subject | BASE % | NEW % | Δ pts | 95% CI | p (uncorrected) | test |", "|---|---|---|---|---|---|---|"]
            lines += ["| " + " | ".join([_md(side.name), *_cells(side)]) + " |" for side in result.subjects]
        if result.flips:
            lost = sum(f.base_rate >= 0.5 for f in result.flips)
            lines += ["", f"Flipped items: {len(result.flips)} ({lost} lost, {len(result.flips) - lost} gained)", ""]
            for flip in result.flips[:max_flips]:
                arrow = "lost" if flip.base_rate >= 0.5 else "gained"
                lines.append(f"- `{_md(flip.id)}` ({_md(flip.subject) or '-'}): {arrow}, "
                             f"{flip.base_rate:.0%} → {flip.new_rate:.0%} of samples correct")
            if len(result.flips) > max_flips:
                lines.append(f"- … {len(result.flips) - max_flips} more in the HTML page")
    if comparison.regressions:
        lines += ["", "REGRESSION in: " + ", ".join(_md(r.title) for r in comparison.regressions)]
    if comparison.unchecked:
        lines += ["", "NOT CHECKED: " + ", ".join(f"{_md(r.title)} ({r.status})" for r in comparison.unchecked)]
    return "\n".join(lines) + "\n"


def to_html(comparison: Comparison) -> str:
    return render("compare.html.j2", comparison=comparison, cells=_cells, benchmark_cells=_benchmark_cells,
                  subjects_note=SUBJECTS_UNCORRECTED)
