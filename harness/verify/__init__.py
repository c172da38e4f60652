"""Verification: is a response right? Extraction, rule checks, math-verify and an LLM judge.

The public surface the runner, `harness score` and the trainer use:

    from harness.verify import Verifier, VerifyItem, JudgeConfig, verify_rules, \
        format_reward, accuracy_reward, reward
"""

from harness.verify.items import JUDGE_POLICIES, JudgeConfig, VerifyItem
from harness.verify.reward import accuracy_reward, format_reward, reward, rewards
from harness.verify.verifier import Verifier, verify_rules

__all__ = [
    "JUDGE_POLICIES",
    "JudgeConfig",
    "Verifier",
    "VerifyItem",
    "accuracy_reward",
    "format_reward",
    "reward",
    "rewards",
    "verify_rules",
]
