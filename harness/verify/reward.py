"""Rewards for RL, from the same verifier that scores evaluations (the paper's eqs. 1–3).

R = eps * R_acc + (1 - eps) * R_format with eps = 0.8. R_format is 1 when the response follows
the template (`reasoning</think>answer` when thinking; no think tags and a non-empty answer when
not), judged by the one think/answer split. R_acc is 1 only when the verifier says correct: an
undecided item earns nothing, so a policy cannot learn to provoke timeouts.

Each response gets a `RewardRecord` that keeps the verifier's verdict beside the two terms, so a
trainer logs accuracy and format rates (and undecided verdicts) from what was decided rather than
working them back out of the total.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass

from harness.modes import split_thinking
from harness.types import Verdict
from harness.verify.items import VerifyItem
from harness.verify.verifier import Verifier

EPS = 0.8
_default: Verifier | None = None
_default_lock = threading.Lock()


@dataclass(frozen=True)
class RewardRecord:
    """One response's reward and the decisions it is made of.

    `verdict` is None only for rewards that a caller computes without the verifier (a custom
    reward function handed to the trainer); every record from `rewards` carries one.
    """

    reward: float  # eps * accuracy + (1 - eps) * format_ok
    accuracy: float  # 1.0 only when verdict.correct is True; wrong and undecided earn 0.0
    format_ok: bool
    verdict: Verdict | None = None


def _default_verifier() -> Verifier:
    """A rules-only verifier shared by callers that do not bring their own (started lazily)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Verifier()
            atexit.register(_default.close)
        return _default


def rewards(items: list[VerifyItem], eps: float = EPS, verifier: Verifier | None = None) -> list[RewardRecord]:
    """One record per item, from one verifier call for the whole batch (symbolic checks run in parallel)."""
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"reward eps must lie in [0, 1], got {eps}")
    verdicts = (verifier or _default_verifier()).score(items)
    records = []
    for item, verdict in zip(items, verdicts):
        accuracy = 1.0 if verdict.correct is True else 0.0
        format_ok = split_thinking(item.response, item.thinking).format_ok
        records.append(RewardRecord(reward=eps * accuracy + (1.0 - eps) * float(format_ok), accuracy=accuracy,
                                    format_ok=format_ok, verdict=verdict))
    return records


def reward(item: VerifyItem, eps: float = EPS, verifier: Verifier | None = None) -> RewardRecord:
    """`rewards` for a single item."""
    return rewards([item], eps, verifier)[0]
