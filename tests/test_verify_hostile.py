"""Model output is untrusted: hostile responses can neither run code nor stall scoring.

Every case goes through the real `Verifier` (real worker processes, real math-verify). The
verifier's symbolic timeout is 2 s; the bound asserted for the whole suite is a liveness check
(nothing hangs), generous enough for a loaded 2-core machine.
"""

import time
from pathlib import Path

import pytest

from harness.verify import Verifier, VerifyItem, verify_rules

TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def verifier():
    with Verifier(timeout_s=TIMEOUT_S, workers=2) as v:
        yield v


def make(response, answer="10", answer_type="math", **kw):
    return VerifyItem(id="hostile", question="q", answer=answer, response=response, answer_type=answer_type, **kw)


def test_power_tower_times_out_instead_of_hanging(verifier):
    start = time.monotonic()
    verdict = verifier.score([make("r</think>\\boxed{10^{10^{10}}}")])[0]
    assert verdict.method == "timeout" and verdict.correct is None
    assert time.monotonic() - start < TIMEOUT_S + 30


def test_a_timeout_does_not_poison_the_next_items(verifier):
    verdicts = verifier.score([make("r</think>\\boxed{9^{9^{9^{9}}}}"), make("r</think>\\boxed{10}")])
    assert verdicts[0].method == "timeout" and verdicts[1].correct is True


def test_one_megabyte_response(verifier):
    response = "x" * 1_000_000 + "</think>" + "y" * 1_000_000 + " \\boxed{10}"
    assert verifier.score([make(response)])[0].correct is True


def test_five_thousand_nested_braces(verifier):
    response = "r</think>\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}"
    verdict = verifier.score([make(response)])[0]
    assert verdict.method in ("math_verify", "too_long", "timeout", "symbolic_error")


def test_unclosed_boxes_by_the_thousand(verifier):
    verdict = verifier.score([make("r</think>" + "\\boxed{" * 100_000, answer_type="number")])[0]
    assert verdict.method == "no_answer"


def test_regex_bait_answer_phrases(verifier):
    verdict = verifier.score([make("r</think>" + "the answer is " * 50_000, answer_type="text", answer="x")])[0]
    assert verdict.correct is False


@pytest.mark.parametrize("payload", [
    "__import__('os').system('touch {marker}')",
    "exec(\"open('{marker}','w')\")",
    "eval(\"open('{marker}','w')\")",
    "\\text{{{{__import__('os').system('touch {marker}')}}}}",
])
def test_code_in_an_answer_is_never_run(verifier, tmp_path, payload):
    marker = tmp_path / "pwned"
    response = "r</think>\\boxed{" + payload.format(marker=marker) + "}"
    verifier.score([make(response, answer="1")])
    verify_rules(make(response, answer="1"))
    assert not Path(marker).exists()


def test_memory_bomb_is_contained(verifier):
    verdict = verifier.score([make("r</think>\\boxed{\\underbrace{" + "9" * 1500 + "}^{99999999}}")])[0]
    assert verdict.correct in (False, None)


def test_nul_bytes_and_odd_unicode(verifier):
    verdict = verifier.score([make("r\x00</think>\u202e\\boxed{10}\ufeff", answer_type="number")])[0]
    assert verdict.correct is True


def test_in_process_rules_refuse_a_power_tower():
    start = time.monotonic()
    verdict = verify_rules(make("r</think>\\boxed{10^{10^{10}}}"))
    assert verdict.correct is None and time.monotonic() - start < 10


def test_mixed_hostile_batch_finishes(verifier):
    batch = [make("r</think>\\boxed{10^{10^{" + str(i) + "0}}}") for i in range(1, 5)] + [make("r</think>10")] * 50
    start = time.monotonic()
    verdicts = verifier.score(batch)
    assert all(v.correct is True for v in verdicts[4:])
    # four timeouts on two workers: about two rounds of the timeout, plus worker restarts
    assert time.monotonic() - start < 4 * TIMEOUT_S + 60
