"""Side-by-side accuracies of a set of verdicts: rule-only, judge-only and combined.

Each accuracy is over the items that stage decided (`None` never counts as wrong), and the
counts say how many that was, so a judge that decided 10 items is not mistaken for one that
decided 1,000.
"""

from __future__ import annotations

from collections import Counter

from harness.types import Verdict


def _accuracy(values: list[bool | None]) -> dict:
    decided = [v for v in values if v is not None]
    return {
        "accuracy": round(100.0 * sum(decided) / len(decided), 2) if decided else None,
        "decided": len(decided),
        "correct": sum(decided),
    }


def summarize_verdicts(verdicts: list[Verdict]) -> dict:
    return {
        "n": len(verdicts),
        "combined": _accuracy([v.correct for v in verdicts]),
        "rule_only": _accuracy([v.rule_correct for v in verdicts]),
        "judge_only": _accuracy([v.judge_correct for v in verdicts]),
        "undecided": sum(v.correct is None for v in verdicts),
        "format_ok": round(100.0 * sum(v.format_ok for v in verdicts) / len(verdicts), 2) if verdicts else None,
        "methods": dict(sorted(Counter(v.method for v in verdicts).items())),
    }


def format_summary(summary: dict) -> str:
    """A few human-readable lines for stderr."""
    def cell(part: dict) -> str:
        if part["accuracy"] is None:
            return "n/a (0 decided)"
        return f"{part['accuracy']:.2f}% ({part['correct']}/{part['decided']})"

    methods = ", ".join(f"{k}={v}" for k, v in summary["methods"].items())
    return "\n".join([
        f"items: {summary['n']}  undecided: {summary['undecided']}  format_ok: {summary['format_ok']}%",
        f"accuracy  combined: {cell(summary['combined'])}  rule-only: {cell(summary['rule_only'])}"
        f"  judge-only: {cell(summary['judge_only'])}",
        f"decided by: {methods}",
    ])
