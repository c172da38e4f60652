"""The RL reward, taken from the harness's verifier so evaluation and training agree on what is correct.

R = eps·R_acc + (1 − eps)·R_format (the report's eqs. 1–3, eps = 0.8). This module only adapts
`TrainItem`s and responses to `harness.verify`'s `VerifyItem` and scores a whole rollout batch in one
verifier call; it decides nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from train.data import TrainItem


@dataclass
class RewardResult:
    reward: float
    accuracy: float  # 1.0 correct; 0.0 wrong or undecidable (undecided earns nothing)
    format_ok: float


# (items, responses) → one result per response; items[i] is the prompt of responses[i].
RewardFunction = Callable[[list[TrainItem], list[str]], list[RewardResult]]


def harness_reward(eps: float = 0.8, thinking: bool = True, verifier: Any = None) -> RewardFunction:
    """A batched reward backed by `harness.verify.rewards` and `format_reward`."""
    from harness import verify

    def score(items: list[TrainItem], responses: list[str]) -> list[RewardResult]:
        verify_items = [
            verify.VerifyItem(id=item.id, question=item.question, answer=item.answer, response=response,
                              answer_type=item.answer_type, choices=item.choices or None, thinking=thinking)
            for item, response in zip(items, responses)
        ]
        totals = verify.rewards(verify_items, eps=eps, verifier=verifier)
        results = []
        for verify_item, total in zip(verify_items, totals):
            format_ok = verify.format_reward(verify_item.response, thinking)
            if eps > 0:
                # R_acc is 0 or 1, so it is recovered exactly from the total without a second verifier call
                accuracy = round((total - (1.0 - eps) * format_ok) / eps)
            else:
                accuracy = verify.accuracy_reward(verify_item, verifier)
            results.append(RewardResult(reward=float(total), accuracy=float(accuracy), format_ok=float(format_ok)))
        return results

    return score
