"""summary.json: the figures of `harness.metrics.figures` for every benchmark, plus the run's throughput.

The benchmark blocks are recomputed from the run directory each time (they are `Figures.to_json()`,
the very objects the report renders); the throughput block is the one part that cannot be recomputed,
since it records how long generation took, so it is carried over and accumulated per invocation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.metrics.figures import run_figures
from harness.rundir import Run, RunDir, load_run, write_json_atomic


def summarize(run: Run) -> dict[str, Any]:
    return {"benchmarks": {figures.name: figures.to_json() for figures in run_figures(run)}}


SUMMED = ("load_s", "generate_s", "score_s", "wall_s", "requests", "engine_generated_tokens",
          "engine_prompt_tokens", "shared_tokens")


def throughput(run: Run, invocations: list[dict[str, Any]]) -> dict[str, Any]:
    """What the directory holds (tokens counted from generations.jsonl) beside what each invocation cost.

    Token totals come from the directory, so a resumed run counts every generation once; timings are per
    invocation (`invocations`) and summed, and `tokens_per_s` is what the engine generated per second of
    generation -- in a sweep, tokens served from a longer run's generation cost no generation time.
    """
    kept = [g for g in run.generations.values() if g.error is None]
    block: dict[str, Any] = {
        "engine": next((i["engine"] for i in reversed(invocations) if i.get("engine")), run.config.get("engine")),
        "generated_tokens": sum(g.think_tokens + g.answer_tokens for g in kept),
        "prompt_tokens": sum(g.prompt_tokens for g in kept),
        "invocations": invocations,
    }
    for key in SUMMED:
        values = [i[key] for i in invocations if isinstance(i.get(key), (int, float))]
        if values:
            block[key] = sum(values)
    if block.get("generate_s") and block.get("engine_generated_tokens"):
        block["tokens_per_s"] = block["engine_generated_tokens"] / block["generate_s"]
    shard_walls: dict[int, float] = {}
    for invocation in invocations:
        if "shard" in invocation:  # merged shards ran side by side: the run took as long as the slowest
            shard_walls[invocation["shard"]] = shard_walls.get(invocation["shard"], 0.0) + invocation.get("wall_s", 0.0)
    if shard_walls:
        block["shards"] = len(shard_walls)
        block["slowest_shard_wall_s"] = max(shard_walls.values())
    return block


def write_summary(path: str | Path, invocation: dict[str, Any] | None = None,
                  invocations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Rebuild summary.json from the run directory, adding `invocation` to the ones recorded (or replacing
    them with `invocations`, as `harness merge` does with its shards')."""
    run_dir = RunDir(path)
    run = load_run(run_dir.path)
    summary = summarize(run)
    if invocations is None:
        invocations = run_dir.invocations() + ([invocation] if invocation else [])
    summary["throughput"] = throughput(run, invocations)
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

