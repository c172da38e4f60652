"""The RL reward, taken from the harness's verifier so evaluation and training agree on what is correct.

R = eps·R_acc + (1 − eps)·R_format (the report's eqs. 1–3, eps = 0.8). This module only adapts
`TrainItem`s and responses to `harness.verify`'s `VerifyItem` and scores a whole rollout batch in one
verifier call; the records (`harness.verify.RewardRecord`: reward, accuracy, format_ok, verdict) come
back as the verifier made them.
"""

from __future__ import annotations

from typing import Callable

from harness.verify import RewardRecord, Verifier, VerifyItem, rewards
from train.data import TrainItem

# (items, responses) → one record per response; items[i] is the prompt of responses[i].
RewardFunction = Callable[[list[TrainItem], list[str]], list[RewardRecord]]


def harness_reward(eps: float = 0.8, thinking: bool = True, verifier: Verifier | None = None) -> RewardFunction:
    """A batched reward backed by `harness.verify.rewards`."""

    def score(items: list[TrainItem], responses: list[str]) -> list[RewardRecord]:
        verify_items = [
            VerifyItem(id=item.id, question=item.question, answer=item.answer, response=response,
                       answer_type=item.answer_type, choices=item.choices or None, thinking=thinking)
            for item, response in zip(items, responses)
        ]
        return rewards(verify_items, eps=eps, verifier=verifier)

    return score
