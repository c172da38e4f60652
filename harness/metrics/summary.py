"""summary.json from a run directory, and the table printed at the end of a run."""

from __future__ import annotations

from typing import Any

from harness.metrics.accuracy import summarize_benchmark
from harness.types import ScoredItem
from harness.rundir import RunDir, read_json, write_json_atomic
from harness.types import Verdict
from harness.metrics.verdicts import summarize_verdicts


def build_summary(run_dir: RunDir) -> dict[str, Any]:
    manifest = run_dir.manifest()
    samples = int(manifest.get("config", {}).get("samples", 1))
    keywords = list(manifest.get("ban", {}).get("keywords", []))
    # A run directory written before the ban rule was recorded used the substring rule.
    ban_rule = manifest.get("ban", {}).get("rule", "substring")
    items = run_dir.items()
    generations = run_dir.generations()
    by_benchmark: dict[str, list[ScoredItem]] = {}
    verdicts: dict[str, list[Verdict]] = {}
    for row in run_dir.scores():
        if row.get("method") != "error":
            verdicts.setdefault(row["benchmark"], []).append(Verdict.from_json(row))
        item = items.get((row["benchmark"], str(row["id"])), {})
        by_benchmark.setdefault(row["benchmark"], []).append(ScoredItem(
            id=str(row["id"]), sample_index=int(row["sample_index"]), answer=item.get("answer", ""),
            answer_type=item.get("answer_type", "text"), correct=row.get("correct"), extracted=row.get("extracted"),
            method=row.get("method", ""), format_ok=bool(row.get("format_ok")), subject=row.get("subject", ""),
            choices=item.get("choices") or {}, meta=item.get("meta") or {},
        ))
    benchmarks = {}
    for name, rows in by_benchmark.items():
        bench_generations = [g for key, g in generations.items() if key[0] == name]
        metric_names = manifest.get("benchmarks", {}).get(name, {}).get("metrics", ["accuracy"])
        benchmarks[name] = summarize_benchmark(rows, bench_generations, samples, metric_names, keywords, ban_rule)
        # Rule-only, judge-only and combined accuracy side by side (pooled over samples).
        benchmarks[name]["verification"] = summarize_verdicts(verdicts.get(name, []))
    return {"benchmarks": benchmarks}


def write_summary(run_dir: RunDir, throughput_update: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rebuild summary.json; throughput accumulates across the invocations that generated."""
    summary = build_summary(run_dir)
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


def format_table(summary: dict[str, Any], manifest: dict[str, Any]) -> str:
    config = manifest.get("config", {})
    samples = config.get("samples", 1)
    header = (f"model {manifest.get('model', {}).get('path', '?')}  mode {config.get('mode')}  "
              f"budget {config.get('budget')} ({config.get('budget_policy')})  samples {samples}")
    lines = [header, ""]
    columns = ["benchmark", "items", f"Avg@{samples}", "std", "95% CI", "errors", "undecided", "think tok",
               "answer tok", "trunc", "forced", "format"]
    rows = []
    for name, block in summary.get("benchmarks", {}).items():
        low, high = block.get("ci95", [0, 0])
        rows.append([name, str(block["n_items"]), f"{block['accuracy']:.1f}", f"{block['std']:.1f}",
                     f"[{low:.1f}, {high:.1f}]", str(block["errors"]), str(block["undecided"]),
                     f"{block['tokens']['mean_think']:.0f}", f"{block['tokens']['mean_answer']:.0f}",
                     f"{100 * block['truncation_rate']:.0f}%", f"{100 * block['forced_rate']:.0f}%",
                     f"{100 * block['format_rate']:.0f}%"])
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in rows)
    residual = {name: block.get("residual_keywords", {}) for name, block in summary.get("benchmarks", {}).items()}
    if config.get("mode") == "nowait":
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
