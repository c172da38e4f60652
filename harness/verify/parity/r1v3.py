"""The Skywork-R1V3 release's scoring, rewritten from its released evaluation scripts.

The release scores MMMU with VLMEvalKit and then a rule-based pass (`rule_base_mmmu.py`): the last
match of the non-greedy `\\boxed\\{(.*?)\\}` (no newline inside, so it stops at the first `}`),
stripped, is right when it equals the stripped answer, or when both are equal after removing `$`,
lower-case LaTeX commands and whitespace, one leading `{` and one trailing `}`, and lower-casing. An
item scores 1 when that rule holds, else VLMEvalKit's `hit`: rule OR hit. The hit there came from a
GPT-4o run, whose prefetch is `can_infer` and whose GPT extractor answers only what the prefetch
could not; here the hit is VLMEvalKit's exact-matching hit, and, when a judge is configured, the
harness's own judge takes the GPT extractor's place on exactly the items the prefetch left open.

The release has no rule pass for MathVista (its scripts add one for MMMU, MMMU-Pro and LogicVista):
its MathVista number is VLMEvalKit's, so MathVista items are scored as VLMEvalKit scores them, with
the judge, when configured, in place of the GPT extractor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from harness.types import Verdict
from harness.verify.extract import last_boxed
from harness.verify.parity import vlmevalkit
from harness.verify.parity.items import ParityItem
from harness.verify.parity.peer import PeerOptions, PeerVerdict
from harness.verify.parity.reasons import answer_part, shape_reason

NAME = "r1v3"
_BOX = re.compile(r"\\boxed\{(.*?)\}")
_DROPPED = re.compile(r"\$|\\[a-z]+|\s+")
_EDGE_BRACES = re.compile(r"^\{|\}$")

GPT_PATHS = ("needs_gpt", "zero_answer")  # where VLMEvalKit's prefetch leaves the item to its GPT extractor
# Indices of items whose verdict the GPT extractor would give → the judge's verdicts (None: no verdict).
JudgeCall = Callable[[list[int]], list[bool | None]]


def last_box(prediction: str) -> str | None:
    """The last non-greedy box's content, stripped, as the release reads it."""
    found = _BOX.findall(prediction)
    return found[-1].strip() if found else None


def normalized(text: str) -> str:
    return _EDGE_BRACES.sub("", _DROPPED.sub("", text)).lower()


def box_rule(prediction: str, answer: str) -> bool:
    box = last_box(prediction)
    if box is None:
        return False
    answer = answer.strip()
    return box == answer or normalized(box) == normalized(answer)


def _without_judge(item: ParityItem, options: PeerOptions) -> PeerVerdict:
    if item.family == "mathvista":
        return vlmevalkit.score_mathvista(item, options)
    prediction = vlmevalkit.prediction_of(item, options)
    box = last_box(prediction)
    if box_rule(prediction, item.answer_cell):
        return PeerVerdict(True, box, "box")
    hit = vlmevalkit.score_mmmu(item, options)
    if hit.correct:
        return PeerVerdict(True, hit.extracted, "hit_" + hit.path)
    prefetched = hit.path in ("option", "text", "refusal", "z")
    return PeerVerdict(False, box if box is not None else hit.extracted, "miss" if prefetched else "needs_gpt")


def score(items: list[ParityItem], options: PeerOptions, judge: JudgeCall | None = None) -> list[PeerVerdict]:
    """The release's verdict on every item, in order; `judge` stands in for its GPT extractor."""
    verdicts = [_without_judge(item, options) for item in items]
    open_items = [i for i, verdict in enumerate(verdicts) if verdict.path in GPT_PATHS]
    if judge is not None and open_items:
        for index, judged in zip(open_items, judge(open_items)):
            if judged:
                verdicts[index] = PeerVerdict(True, verdicts[index].extracted, "judge")
    return verdicts


def explain(item: ParityItem, peer: PeerVerdict, ours: Verdict, options: PeerOptions) -> str:
    """The reason for a difference that the shared checks left open."""
    answer = answer_part(item.response)
    if answer is not None and not options.split_think and peer.path != "judge":
        if _without_judge(replace(item, response=answer), options).correct == ours.correct:
            return "reads_thought"
    if item.family == "mathvista":
        return vlmevalkit.explain(item, peer, ours, options)
    if peer.path == "judge" or peer.path.startswith("hit_"):
        return "union"
    prediction = vlmevalkit.prediction_of(item, options)
    box, balanced = last_box(prediction), last_boxed(prediction)
    if box is None:
        return "no_box" if balanced is None else "non_greedy_box"
    if balanced is not None and box != balanced.strip():
        return "non_greedy_box"
    return "literal" if not peer.correct else shape_reason(peer, ours)
