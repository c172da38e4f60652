"""Model output is untrusted: hostile responses can neither run code nor stall scoring.

Every case goes through the real `Verifier` or `SymbolicPool` (real worker processes, real
math-verify). The symbolic timeout is 2 s; the bounds asserted are liveness checks (nothing hangs),
generous enough for a loaded 2-core machine. The per-item time over the whole hostile corpus is a
performance figure: perf/bench_hostile.py measures it.
"""

import time
from pathlib import Path

import pytest

from harness.verify import Verifier, VerifyItem, verify_rules
from harness.verify.rules import rule_stage
from harness.verify.symbolic import SymbolicPool
from perf.bench_hostile import hostile_corpus

TIMEOUT_S = 2.0
LONG_COMPUTATION = "\\sum_{k=1}^{99999} \\frac{1}{k^2}"  # passes every refusal rule, then sympy runs for minutes


@pytest.fixture(scope="module")
def verifier():
    with Verifier(timeout_s=TIMEOUT_S, workers=2) as v:
        yield v


def make(response, answer="10", answer_type="math", **kw):
    return VerifyItem(id="hostile", question="q", answer=answer, response=response, answer_type=answer_type, **kw)


@pytest.mark.parametrize("tower", ["10^{10^{10}}", "9^{9^{9^{9}}}", "2^{99999999}", "99999^{99999}", "99999!",
                                   "9!!", "\\sqrt{" * 60 + "2" + "}" * 60])
def test_expressions_that_compute_without_bound_are_refused_before_parsing(verifier, tower):
    start = time.monotonic()
    verdict = verifier.score([make(f"r</think>\\boxed{{{tower}}}")])[0]
    assert (verdict.method, verdict.correct) == ("refused", None)
    assert time.monotonic() - start < 30


def test_a_long_computation_is_killed_at_its_deadline(verifier):
    killed = verifier.workers_killed
    start = time.monotonic()
    verdict = verifier.score([make(f"r</think>\\boxed{{{LONG_COMPUTATION}}}")])[0]
    assert (verdict.method, verdict.correct, verdict.detail) == ("timeout", None, f"over {TIMEOUT_S:g} s")
    assert verifier.workers_killed == killed + 1
    assert time.monotonic() - start < TIMEOUT_S + 30


def test_a_timeout_does_not_poison_the_next_items(verifier):
    verdicts = verifier.score([make(f"r</think>\\boxed{{{LONG_COMPUTATION}}}"),
                               make("r</think>\\boxed{\\sin^2 x + \\cos^2 x}", answer="1")])
    assert verdicts[0].method == "timeout"
    assert (verdicts[1].method, verdicts[1].correct) == ("math_verify", True)


def test_a_killed_worker_is_replaced_from_the_template_without_a_new_import():
    with SymbolicPool(workers=1, timeout_s=TIMEOUT_S) as pool:
        assert pool.compare([(("1",), "\\sin^2 x + \\cos^2 x", 6)])[0].equal is True
        timed_out, after = pool.compare([(("1",), LONG_COMPUTATION, 6), (("1",), "\\cos^2 x + \\sin^2 x", 6)])
        assert (timed_out.status, after.status, after.equal) == ("timeout", "ok", True)
        assert (pool.killed, pool.template_starts) == (1, 1)


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


def test_a_single_item_check_is_bounded_like_a_batch():
    start = time.monotonic()
    verdict = verify_rules(make(f"r</think>\\boxed{{{LONG_COMPUTATION}}}"), timeout_s=1.0)
    assert (verdict.method, verdict.correct) == ("timeout", None)
    assert time.monotonic() - start < 60  # includes starting the shared verifier's workers


def test_mixed_hostile_batch_finishes(verifier):
    batch = [make(f"r</think>\\boxed{{\\sum_{{k=1}}^{{9999{i}}} \\frac{{1}}{{k^2}}}}") for i in range(4)] \
        + [make("r</think>10")] * 50
    start = time.monotonic()
    verdicts = verifier.score(batch)
    assert [v.method for v in verdicts[:4]] == ["timeout"] * 4
    assert all(v.correct is True for v in verdicts[4:])
    # four timeouts on two workers: two rounds of the timeout, and replacements forked in milliseconds
    assert time.monotonic() - start < 2 * TIMEOUT_S + 30


def test_every_shape_of_the_hostile_corpus_gets_its_rule_outcome_at_once():
    # Liveness, not a timing: before, 5,000 nested boxes took 4-38 s, a run of commas between two boxes
    # backtracked without end, and 1 MB of "$" was quadratic.
    for name, hostile in hostile_corpus():
        start = time.monotonic()
        outcome = rule_stage(hostile)
        assert outcome.method != "rule_error", name
        assert time.monotonic() - start < 10, name
