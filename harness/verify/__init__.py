"""Verification: is a response right? Extraction, rule checks, math-verify and an LLM judge.

The public surface the runner, `harness score` and the trainer use:

    from harness.verify import Verifier, VerifyItem, JudgeConfig, verify_rules, RewardRecord, rewards
"""

from harness.verify.items import JUDGE_POLICIES, JudgeConfig, VerifyItem
from harness.verify.reward import RewardRecord, reward, rewards
from harness.verify.rules import UNFINISHED_POLICIES
from harness.verify.verifier import Verifier, verify_rules

__all__ = [
    "JUDGE_POLICIES",
    "JudgeConfig",
    "UNFINISHED_POLICIES",
    "RewardRecord",
    "Verifier",
    "VerifyItem",
    "reward",
    "rewards",
    "verify_rules",
]
