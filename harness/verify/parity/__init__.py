"""Parity scoring: VLMEvalKit's, lmms-eval's and the R1V3 release's MMMU / MathVista rules beside ours.

Each peer's rules are rewritten from their behaviour (one module per peer; none of their code is
imported), run on the very responses our verifier scored, and compared item by item:

    from harness.verify.parity import PEERS, PeerOptions, run_parity, parse_peers
    reports = run_parity(data, ["vlmevalkit", "lmms-eval"], PeerOptions())

`docs/parity.md` says what each peer does and how its rules differ from ours.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness.rundir import write_json_atomic
from harness.verify.items import JudgeConfig
from harness.verify.parity.compare import PEERS, Difference, ParityReport, compare, format_report
from harness.verify.parity.inputs import ParityInput, accept_any, from_predictions, from_run_dir, judge_call
from harness.verify.parity.items import ParityInputError, ParityItem, parity_item
from harness.verify.parity.peer import PeerOptions, PeerVerdict
from harness.verify.parity.reasons import REASONS

__all__ = [
    "PEERS",
    "REASONS",
    "Difference",
    "ParityInput",
    "ParityInputError",
    "ParityItem",
    "ParityReport",
    "PeerOptions",
    "PeerVerdict",
    "compare",
    "format_report",
    "from_predictions",
    "from_run_dir",
    "parity_item",
    "parse_peers",
    "read_reports",
    "run_parity",
    "scores_sha256",
    "write_reports",
]


def parse_peers(values: list[str]) -> list[str]:
    """Peer names from repeated and comma-separated flags, each once, in the order given."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in PEERS]
    if unknown:
        raise ValueError(f"unknown parity peer {unknown[0]!r}; choose from {', '.join(PEERS)}")
    return list(dict.fromkeys(names))


def run_parity(data: ParityInput, peers: list[str], options: PeerOptions, judge: JudgeConfig | None = None,
               timeout_s: float = 5.0, workers: int = 2) -> list[ParityReport]:
    """One report per peer. Golds with several accepted answers are re-scored by our verifier (with
    the same judge); the R1V3 peer asks the judge, when one is configured, what the release asked GPT-4o."""
    if any(len(item.accepted) > 1 for item in data.items):
        from harness.verify import Verifier

        with Verifier(judge=judge, timeout_s=timeout_s, workers=workers) as verifier:
            accept_any(data, verifier)
    call = judge_call(judge, data.verify_items) if judge is not None and judge.policy != "never" else None
    return [compare(peer, data.items, data.ours, options, call if peer == "r1v3" else None) for peer in peers]


def scores_sha256(path: Path) -> str | None:
    """The fingerprint of the verdicts a comparison read, so a report can tell a stale one."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def write_reports(reports: list[ParityReport], directory: Path, source: Path, skipped: dict[str, int]) -> list[Path]:
    """`parity-<peer>.json` per report in the directory (atomically), stamped with the fingerprint of
    `source` (scores.jsonl, or the predictions file); returns the paths."""
    from harness.rundir import RunDir

    paths = []
    for report in reports:
        report.scores_sha256, report.skipped = scores_sha256(source), dict(skipped)
        path = RunDir(directory).parity_path(report.peer)
        write_json_atomic(path, report.to_json())
        paths.append(path)
    return paths


def read_reports(directory: Path) -> list[ParityReport]:
    """The parity reports a run directory holds; a file that is not one is an error naming it."""
    from harness.rundir import RunDir

    reports = []
    for path in RunDir(directory).parity_paths():
        try:
            reports.append(ParityReport.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, TypeError, KeyError) as error:
            raise ParityInputError(f"{path}: not a parity report ({error})") from None
    return reports
