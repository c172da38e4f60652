"""Our verdicts beside a peer's, on the same responses: both accuracies and every item they split on.

A user who got one number from VLMEvalKit or lmms-eval and another from the harness needs to see
which items make the gap and why. `compare` runs the peer's rules over the items, pairs each
verdict with ours (from `harness.verify.Verifier`, the production path), and gives every item where
the two differ exactly one reason from `reasons.REASONS`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.types import Verdict
from harness.verify.parity import lmms_eval, r1v3, vlmevalkit
from harness.verify.parity.items import ParityItem
from harness.verify.parity.peer import PeerOptions, PeerVerdict
from harness.verify.parity.reasons import REASONS, shared_reason

PEERS = {module.NAME: module for module in (vlmevalkit, lmms_eval, r1v3)}
EXTRACT_CHARS = 120  # extractions shown per difference; the responses themselves stay in the run


@dataclass
class Difference:
    key: str
    id: str
    reason: str
    ours_correct: bool | None
    ours_method: str
    ours_extracted: str | None
    peer_correct: bool
    peer_extracted: Any
    peer_path: str


@dataclass
class ParityReport:
    """One peer against ours. Accuracies are percentages; ours counts decided items only."""

    peer: str
    items: int
    ours_correct: int
    ours_decided: int
    peer_correct: int
    agree: int
    random_draws: int = 0
    expected_peer_correct: float = 0.0  # random draws counted at their chance of being right
    by_reason: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    scores_sha256: str | None = None  # the scores.jsonl (or predictions file) the comparison read
    skipped: dict[str, int] = field(default_factory=dict)  # benchmark → responses not compared

    @property
    def ours_accuracy(self) -> float | None:
        return 100.0 * self.ours_correct / self.ours_decided if self.ours_decided else None

    @property
    def peer_accuracy(self) -> float | None:
        return 100.0 * self.peer_correct / self.items if self.items else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ours_accuracy"], data["peer_accuracy"] = self.ours_accuracy, self.peer_accuracy
        data["reasons"] = {key: REASONS.get(key, key) for key in self.by_reason}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ParityReport":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["differences"] = [Difference(**d) for d in known.get("differences", [])]
        return cls(**known)


def _shown(value: Any) -> Any:
    """An extraction as the JSON keeps it: short text, a few candidates, no NaN or infinity."""
    if isinstance(value, str):
        return value[:EXTRACT_CHARS]
    if isinstance(value, list):
        return [_shown(v) for v in value[:8]]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _chance(item: ParityItem) -> float:
    """The chance that a letter drawn uniformly from the item's options is right."""
    accepted = set(item.accepted) if len(item.accepted) > 1 else {item.answer}
    return sum(letter in accepted for letter in item.letters) / len(item.letters)


def peer_verdicts(peer: str, items: list[ParityItem], options: PeerOptions,
                  judge: r1v3.JudgeCall | None = None) -> list[PeerVerdict]:
    """The named peer's verdicts on the items, in order."""
    if peer not in PEERS:
        raise ValueError(f"unknown parity peer {peer!r}; choose from {', '.join(PEERS)}")
    if peer == r1v3.NAME:
        return r1v3.score(items, options, judge)
    return PEERS[peer].score(items, options)


def compare(peer: str, items: list[ParityItem], ours: list[Verdict], options: PeerOptions = PeerOptions(),
            judge: r1v3.JudgeCall | None = None) -> ParityReport:
    """The peer's verdicts beside ours, one pair per item (in the same order)."""
    if len(items) != len(ours):
        raise ValueError(f"{len(items)} items but {len(ours)} verdicts")
    verdicts = peer_verdicts(peer, items, options, judge)
    module = PEERS[peer]
    report = ParityReport(peer=peer, items=len(items), ours_correct=0, ours_decided=0, peer_correct=0, agree=0,
                          options=asdict(options) | {"judge": judge is not None})
    reasons: Counter[str] = Counter()
    for item, theirs, mine in zip(items, verdicts, ours):
        report.ours_decided += mine.correct is not None
        report.ours_correct += mine.correct is True
        report.peer_correct += theirs.correct
        report.random_draws += theirs.random
        report.expected_peer_correct += _chance(item) if theirs.random else float(theirs.correct)
        if mine.correct is not None and mine.correct == theirs.correct:
            report.agree += 1
            continue
        reason = shared_reason(item, theirs, mine) or module.explain(item, theirs, mine, options)
        reasons[reason] += 1
        report.differences.append(Difference(
            key=item.key, id=item.id, reason=reason, ours_correct=mine.correct, ours_method=mine.method,
            ours_extracted=_shown(mine.extracted), peer_correct=theirs.correct,
            peer_extracted=_shown(theirs.extracted), peer_path=theirs.path))
    report.by_reason = dict(reasons.most_common())
    return report


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def format_report(report: ParityReport, limit: int = 20) -> str:
    """Plain text for a terminal: the two accuracies, the reasons counted, the first differences."""
    expected = ""
    if report.random_draws:
        expected = (f"; {report.random_draws} random draws, "
                    f"{_percent(100.0 * report.expected_peer_correct / report.items)} at their expected value")
    lines = [
        f"parity {report.peer}: ours {_percent(report.ours_accuracy)} ({report.ours_correct}/{report.ours_decided})"
        f"  {report.peer} {_percent(report.peer_accuracy)} ({report.peer_correct}/{report.items}){expected}",
        f"  {report.agree}/{report.items} verdicts agree; {len(report.differences)} differ",
    ]
    for reason, count in report.by_reason.items():
        lines.append(f"  {count:5d}  {reason}: {REASONS[reason]}")
    for diff in report.differences[:limit]:
        ours = {True: "right", False: "wrong", None: "undecided"}[diff.ours_correct]
        peer = "right" if diff.peer_correct else "wrong"
        lines.append(f"    {diff.key}: ours {ours} ({diff.ours_method}, {diff.ours_extracted!r}), "
                     f"{report.peer} {peer} ({diff.peer_path}, {diff.peer_extracted!r}) - {diff.reason}")
    if len(report.differences) > limit:
        lines.append(f"    ... {len(report.differences) - limit} more in the JSON")
    return "\n".join(lines)
