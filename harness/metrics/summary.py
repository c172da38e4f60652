"""summary.json: the figures of `harness.metrics.figures` for every benchmark, plus the run's throughput.

The benchmark blocks are recomputed from the run directory each time (they are `Figures.to_json()`,
the very objects the report renders); the throughput block is the one part that cannot be recomputed,
since it records how long generation took, so it is carried over and accumulated per invocation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.metrics.figures import run_figures
from harness.rundir import Run, RunDir, load_run, read_json, write_json_atomic


def summarize(run: Run) -> dict[str, Any]:
    return {"benchmarks": {figures.name: figures.to_json() for figures in run_figures(run)}}


def write_summary(path: str | Path, throughput_update: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rebuild summary.json from the run directory; throughput accumulates across the invocations that generated."""
    run_dir = RunDir(path)
    summary = summarize(load_run(run_dir.path))
    previous = read_json(run_dir.summary_path).get("throughput", {}) if run_dir.summary_path.exists() else {}
    throughput = dict(previous)
    for key, value in (throughput_update or {}).items():
        if isinstance(value, (int, float)) and key.endswith(("_s", "_tokens")):
            throughput[key] = throughput.get(key, 0) + value
        else:
            throughput[key] = value
    # Speed is what the engine generated per second: in a sweep, tokens served from a longer run's
    # generation are in the run's `generated_tokens` but cost no generation time.
    engine_tokens = throughput.get("engine_generated_tokens", throughput.get("generated_tokens", 0))
    throughput.pop("tokens_per_s", None)
    if throughput.get("generate_s") and engine_tokens:
        throughput["tokens_per_s"] = engine_tokens / throughput["generate_s"]
    summary["throughput"] = throughput
    write_json_atomic(run_dir.summary_path, summary)
    return summary


def _cell(value: float | None, digits: int = 1, scale: float = 1.0, suffix: str = "") -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}{suffix}"


def format_table(summary: dict[str, Any], manifest: dict[str, Any]) -> str:
    """The table printed at the end of a run."""
    config = manifest.get("config", {})
    samples = config.get("samples", 1)
    header = (f"model {manifest.get('model', {}).get('path', '?')}  mode {config.get('mode')}  "
              f"budget {config.get('budget')} ({config.get('budget_policy')})  samples {samples}")
    lines = [header, ""]
    columns = ["benchmark", "items", f"Avg@{samples}", "std", "95% CI", "finished", "acc. finished", "errors",
               "undecided", "think tok", "answer tok", "trunc", "forced", "format"]
    rows = []
    for name, block in summary.get("benchmarks", {}).items():
        ci = block.get("ci95")
        rows.append([name, str(block["n_items"]), _cell(block["accuracy"]), _cell(block["std"]),
                     f"[{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "-",
                     _cell(None if block.get("unfinished_rate") is None else 1 - block["unfinished_rate"], 0, 100, "%"),
                     _cell(block.get("finished_accuracy")), str(block["errors"]), str(block["undecided"]),
                     _cell(block["tokens"]["mean_think"], 0), _cell(block["tokens"]["mean_answer"], 0),
                     _cell(block["truncation_rate"], 0, 100, "%"), _cell(block["forced_rate"], 0, 100, "%"),
                     _cell(block["format_rate"], 0, 100, "%")])
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows)
    if config.get("mode") == "nowait":
        residual = {name: block.get("residual_keywords", {}) for name, block in summary.get("benchmarks", {}).items()}
        lines.append("")
        lines.append("residual banned keywords (spelled from several tokens): " +
                     "; ".join(f"{n}: {sum(r.values())}" for n, r in residual.items()))
    throughput = summary.get("throughput", {})
    if throughput.get("shared_tokens"):
        lines.append(f"\n{throughput['shared_tokens']} of {throughput.get('generated_tokens', 0)} tokens served from a "
                     f"longer generation (sweep); {throughput.get('engine_generated_tokens', 0)} generated")
    elif throughput.get("generate_s"):
        lines.append(f"\ngenerated {throughput.get('generated_tokens', 0)} tokens in {throughput['generate_s']:.1f} s "
                     f"({throughput.get('tokens_per_s', 0):.0f} tok/s)")
    return "\n".join(lines)


def format_verdicts(summary: dict[str, Any]) -> str:
    """A few lines for stderr after `harness score` (`harness.metrics.figures.verdict_summary`)."""
    def cell(part: dict[str, Any]) -> str:
        if part["accuracy"] is None:
            return "n/a (0 decided)"
        return f"{part['accuracy']:.2f}% ({part['correct']}/{part['decided']})"

    methods = ", ".join(f"{k}={v}" for k, v in summary["methods"].items())
    format_rate = "-" if summary["format_rate"] is None else f"{100 * summary['format_rate']:.2f}%"
    return "\n".join([
        f"items: {summary['n']}  undecided: {summary['undecided']}  format_ok: {format_rate}",
        f"accuracy  combined: {cell(summary['combined'])}  rule-only: {cell(summary['rule_only'])}"
        f"  judge-only: {cell(summary['judge_only'])}",
        f"decided by: {methods}",
    ])

