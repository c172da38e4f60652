"""Where a comparison's items and our verdicts come from: a scored predictions file or run directory.

Both sources give the same three parallel lists: the peers' view of each response (`ParityItem`),
our verdict on it, and the `VerifyItem` it was scored from (for a gold with several accepted answers
and for the R1V3 judge, which go back to the same verifier). A run directory's other benchmarks are
left out and counted: the peers' rules reproduced here are their MMMU and MathVista rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from harness.modes import think_opened
from harness.rundir import RunDir
from harness.types import Verdict
from harness.verify.items import JudgeConfig, VerifyItem
from harness.verify.parity.items import ParityInputError, ParityItem, parity_item
from harness.verify.parity.r1v3 import JudgeCall

COVERED_PREFIXES = ("mmmu", "mathvista")


@dataclass
class ParityInput:
    items: list[ParityItem] = field(default_factory=list)
    ours: list[Verdict] = field(default_factory=list)
    verify_items: list[VerifyItem] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # benchmark → responses not compared


def covered(benchmark: object) -> bool:
    return benchmark is None or str(benchmark).lower().startswith(COVERED_PREFIXES)


def from_predictions(rows: list[dict[str, Any]], verify_items: list[VerifyItem],
                     verdicts: list[Verdict], where: str) -> ParityInput:
    """Rows of a predictions file with the verdicts `harness score` gave them."""
    data, skipped = ParityInput(), Counter()
    for line_no, (row, verify, verdict) in enumerate(zip(rows, verify_items, verdicts), 1):
        if not covered(row.get("benchmark")):
            skipped[str(row["benchmark"])] += 1
            continue
        try:
            item = parity_item({**row, "thinking": verify.thinking}, key=str(row["id"]))
        except ParityInputError as error:
            raise ParityInputError(f"{where}:{line_no}: {error}") from None
        data.items.append(item)
        data.ours.append(verdict)
        data.verify_items.append(verify)
    data.skipped = dict(skipped)
    return data


def from_run_dir(run_dir: RunDir) -> ParityInput:
    """A scored run directory: every scored response of its MMMU and MathVista items."""
    from harness.verify.scoring import verify_item

    thinking = think_opened(run_dir.manifest().get("config", {}).get("mode", "slow"))
    items, generations = run_dir.items(), run_dir.generations(token_ids=False)
    data, skipped = ParityInput(), Counter()
    for row in run_dir.scores():
        benchmark, item_id, sample = row["benchmark"], row["id"], int(row.get("sample_index", 0))
        if row.get("method") == "error":
            continue
        if not covered(benchmark):
            skipped[benchmark] += 1
            continue
        item, generation = items[(benchmark, item_id)], generations[(benchmark, item_id, sample)]
        record = {**item, "id": item_id, "benchmark": benchmark, "response": generation.get("text", ""),
                  "thinking": thinking}
        try:
            data.items.append(parity_item(record, key=f"{benchmark}/{item_id}#{sample}"))
        except ParityInputError as error:
            raise ParityInputError(f"{run_dir.items_path}: {error}") from None
        data.ours.append(Verdict.from_json(row))
        data.verify_items.append(verify_item(record, generation, thinking))
    data.skipped = dict(skipped)
    return data


def accept_any(data: ParityInput, verifier: Any) -> None:
    """Where the gold lists several accepted answers, ours is right when any of them is: score the
    alternatives the item's first verdict did not accept, with the same verifier."""
    extra = [(index, replace(data.verify_items[index], answer=alternative))
             for index, item in enumerate(data.items) if len(item.accepted) > 1 and data.ours[index].correct is not True
             for alternative in item.accepted if alternative != data.verify_items[index].answer]
    if not extra:
        return
    for (index, _), verdict in zip(extra, verifier.score([v for _, v in extra])):
        if verdict.correct is True:
            data.ours[index] = verdict


def judge_call(config: JudgeConfig, verify_items: list[VerifyItem]) -> JudgeCall:
    """The harness's judge asked about the given items (what the R1V3 release asked GPT-4o)."""
    from harness.verify import Verifier

    def call(indices: list[int]) -> list[bool | None]:
        with Verifier(judge=replace(config, policy="always")) as verifier:
            return [v.judge_correct for v in verifier.score([verify_items[i] for i in indices])]

    return call
