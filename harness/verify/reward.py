"""Rewards for RL, from the same verifier that scores evaluations (the paper's eqs. 1–3).

R = eps * R_acc + (1 - eps) * R_format with eps = 0.8. R_format is 1 when the response follows
the template (`reasoning</think>answer` when thinking; no think tags and a non-empty answer when
not). R_acc is 1 only when the verifier says correct: an undecided item earns nothing, so a
policy cannot learn to provoke timeouts.
"""

from __future__ import annotations

import atexit
import threading

from harness.modes import split_thinking
from harness.verify.items import VerifyItem
from harness.verify.verifier import Verifier

EPS = 0.8
_default: Verifier | None = None
_default_lock = threading.Lock()


def _default_verifier() -> Verifier:
    """A rules-only verifier shared by callers that do not bring their own (started lazily)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Verifier()
            atexit.register(_default.close)
        return _default


def format_reward(response: str, thinking: bool = True) -> float:
    return 1.0 if split_thinking(response, thinking).format_ok else 0.0


def accuracy_reward(item: VerifyItem, verifier: Verifier | None = None) -> float:
    verdict = (verifier or _default_verifier()).score([item])[0]
    return 1.0 if verdict.correct is True else 0.0


def _check_eps(eps: float) -> None:
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"reward eps must lie in [0, 1], got {eps}")


def reward(item: VerifyItem, eps: float = EPS, verifier: Verifier | None = None) -> float:
    _check_eps(eps)
    return eps * accuracy_reward(item, verifier) + (1.0 - eps) * format_reward(item.response, item.thinking)


def rewards(items: list[VerifyItem], eps: float = EPS, verifier: Verifier | None = None) -> list[float]:
    """`reward` for a whole rollout batch in one verifier call (symbolic checks run in parallel)."""
    _check_eps(eps)
    verdicts = (verifier or _default_verifier()).score(items)
    return [
        eps * (1.0 if v.correct is True else 0.0) + (1.0 - eps) * format_reward(it.response, it.thinking)
        for it, v in zip(items, verdicts)
    ]
