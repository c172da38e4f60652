"""The trainer's reward: R = eps * accuracy + (1 - eps) * format, eps = 0.8 (paper eqs. 1-3), as records
that keep the verifier's verdict beside the two terms."""

import pytest

from harness.types import Verdict
from harness.verify import RewardRecord, Verifier, VerifyItem, reward, rewards


def item(response, answer="B", **kw):
    return VerifyItem(id="r", question="q", answer=answer, response=response, choices=["x", "y"], **kw)


def test_format_follows_the_template():
    assert reward(item("reason</think>\\boxed{B}")).format_ok is True
    assert reward(item("reason without end")).format_ok is False
    assert reward(item("B", thinking=False)).format_ok is True
    assert reward(item("<think>x</think>B", thinking=False)).format_ok is False


def test_correct_and_well_formed_earns_one():
    record = reward(item("r</think>\\boxed{B}"))
    assert record.reward == pytest.approx(1.0)
    assert (record.accuracy, record.format_ok) == (1.0, True)


def test_well_formed_but_wrong_earns_the_format_share():
    record = reward(item("r</think>\\boxed{A}"))
    assert record.reward == pytest.approx(0.2)
    assert (record.accuracy, record.format_ok, record.verdict.correct) == (0.0, True, False)


def test_correct_but_unfinished_earns_the_accuracy_share():
    record = reward(item("r \\boxed{B}"))
    assert record.reward == pytest.approx(0.8)
    assert (record.accuracy, record.format_ok) == (1.0, False)


def test_eps_weights_the_two_terms():
    assert reward(item("r</think>\\boxed{A}"), eps=0.5).reward == pytest.approx(0.5)


def test_eps_zero_still_reports_accuracy_from_the_verdict():
    record = reward(item("r</think>\\boxed{B}"), eps=0.0)
    assert record.reward == pytest.approx(1.0) and record.accuracy == 1.0 and record.verdict.correct is True


def test_eps_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match="eps"):
        reward(item("r</think>B"), eps=1.5)


def test_records_carry_the_verdict_the_verifier_gave():
    batch = [item("r</think>\\boxed{B}"), item("r</think>\\boxed{A}"), item("r</think>nothing here")]
    with Verifier(workers=1) as verifier:
        expected = verifier.score(batch)
        records = rewards(batch, verifier=verifier)
    assert all(isinstance(r, RewardRecord) and isinstance(r.verdict, Verdict) for r in records)
    assert [r.verdict for r in records] == expected
    assert [r.accuracy for r in records] == [1.0 if v.correct is True else 0.0 for v in expected]


def test_undecided_items_earn_no_accuracy_and_keep_their_undecided_verdict():
    hostile = VerifyItem(id="h", question="q", answer="10", answer_type="math",
                         response="r</think>\\boxed{10^{10^{10^{10}}}}")
    with Verifier(timeout_s=1.0, workers=1) as verifier:
        record = reward(hostile, verifier=verifier)
    assert record.accuracy == 0.0 and record.verdict.correct is None
    assert record.reward == pytest.approx(0.2)  # the format share only


class CountingVerifier(Verifier):
    """The production verifier, counting its calls."""

    calls = 0

    def score(self, items, progress=False):
        CountingVerifier.calls += 1
        return super().score(items, progress)


def test_a_batch_is_scored_in_one_verifier_call_and_matches_single_rewards():
    batch = [item("r</think>\\boxed{B}"), item("r</think>\\boxed{A}"), item("no end")]
    with CountingVerifier(workers=1) as verifier:
        together = rewards(batch, verifier=verifier)
        assert CountingVerifier.calls == 1
        alone = [reward(i, verifier=verifier) for i in batch]
    assert together == alone
