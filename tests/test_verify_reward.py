"""The trainer's reward: R = eps * accuracy + (1 - eps) * format, eps = 0.8 (paper eqs. 1-3)."""

import pytest

from harness.verify import VerifyItem, Verifier, accuracy_reward, format_reward, reward
from harness.verify.reward import rewards


def item(response, answer="B", **kw):
    return VerifyItem(id="r", question="q", answer=answer, response=response, choices=["x", "y"], **kw)


def test_format_reward_follows_the_template():
    assert format_reward("reason</think>\\boxed{B}") == 1.0
    assert format_reward("reason without end") == 0.0
    assert format_reward("B", thinking=False) == 1.0
    assert format_reward("<think>x</think>B", thinking=False) == 0.0


def test_correct_and_well_formed_earns_one():
    assert reward(item("r</think>\\boxed{B}")) == pytest.approx(1.0)


def test_well_formed_but_wrong_earns_the_format_share():
    assert reward(item("r</think>\\boxed{A}")) == pytest.approx(0.2)


def test_correct_but_unfinished_earns_the_accuracy_share():
    assert reward(item("r \\boxed{B}")) == pytest.approx(0.8)


def test_eps_weights_the_two_terms():
    assert reward(item("r</think>\\boxed{A}"), eps=0.5) == pytest.approx(0.5)


def test_eps_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match="eps"):
        reward(item("r</think>B"), eps=1.5)


def test_undecided_items_earn_no_accuracy():
    hostile = VerifyItem(id="h", question="q", answer="10", answer_type="math",
                         response="r</think>\\boxed{10^{10^{10^{10}}}}")
    with Verifier(timeout_s=1.0, workers=1) as verifier:
        assert accuracy_reward(hostile, verifier) == 0.0


def test_batch_rewards_match_single_rewards():
    batch = [item("r</think>\\boxed{B}"), item("r</think>\\boxed{A}"), item("no end")]
    assert rewards(batch) == pytest.approx([reward(i) for i in batch])
