"""The statistics every report number rests on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.metrics.stats import avg_at_k, holm_adjust, mcnemar_exact, paired_difference
from scipy.stats import t as student_t

NaN = float("nan")


def test_avg_at_k_is_the_mean_of_per_sample_accuracies_over_decided_items():
    matrix = np.array([[1, 1], [0, 1], [1, NaN], [0, 0]], dtype=float)
    result = avg_at_k(matrix)
    assert result.per_sample == [50.0, pytest.approx(200 / 3)]
    assert result.mean == pytest.approx((50 + 200 / 3) / 2)
    assert result.std == pytest.approx(np.std([50, 200 / 3], ddof=1))
    assert (result.n_decided, result.n_undecided) == (7, 1)


def test_undecided_is_never_counted_as_wrong():
    assert avg_at_k(np.array([[1.0], [NaN], [NaN]])).mean == 100.0


def test_nothing_decided_gives_no_accuracy():
    result = avg_at_k(np.array([[NaN, NaN]]))
    assert result.mean is None and result.ci95 is None


def test_interval_is_item_clustered_normal():
    matrix = np.array([[1.0]] * 30 + [[0.0]] * 70)
    low, high = avg_at_k(matrix).ci95
    half = 1.959963984540054 * np.std([1] * 30 + [0] * 70, ddof=1) / math.sqrt(100) * 100
    assert (low, high) == (pytest.approx(30 - half), pytest.approx(30 + half))


def test_exact_mcnemar_matches_the_binomial_tail():
    # 1 vs 9 discordant pairs: 2 * (C(10,0) + C(10,1)) / 2^10
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0


def test_single_samples_use_mcnemar_and_count_flips():
    base = np.array([[1.0]] * 20 + [[0.0]] * 20)
    new = base.copy()
    new[:10] = 0.0  # ten items lost
    result = paired_difference(base, new)
    assert result.test == "mcnemar-exact"
    assert (result.base_only, result.new_only) == (10, 0)
    assert result.difference == pytest.approx(-25.0)
    assert result.p_value == pytest.approx(mcnemar_exact(10, 0))
    assert result.ci95[1] < 0


def test_avg_at_k_uses_a_paired_t_test_that_sees_no_change_as_no_change():
    rng = np.random.default_rng(1)
    base = (rng.random((200, 5)) < 0.6).astype(float)
    result = paired_difference(base, base.copy())
    assert result.test == "paired-t"
    assert result.difference == 0.0 and result.p_value == 1.0 and result.ci95 == (0.0, 0.0)


def test_paired_t_is_the_t_test_of_the_per_item_mean_differences():
    # Three items, two samples each: item differences (NEW - BASE) of +0, -50 and -100 points.
    base = np.array([[1, 0], [1, 1], [1, 1]], dtype=float)
    new = np.array([[0, 1], [1, 0], [0, 0]], dtype=float)
    result = paired_difference(base, new)
    deltas = np.array([0.0, -50.0, -100.0])
    standard_error = np.std(deltas, ddof=1) / math.sqrt(3)  # 28.87
    assert result.difference == pytest.approx(-50.0)
    assert result.p_value == pytest.approx(2 * student_t.sf(50.0 / standard_error, 2))  # t = -1.732, 2 df
    assert result.p_value == pytest.approx(1 - 1.7320508 / math.sqrt(2 + 3))  # the closed form for 2 df
    half = 4.302653 * standard_error  # t(0.975, 2 df) from the tables
    assert result.ci95 == (pytest.approx(max(-100, -50 - half)), pytest.approx(-50 + half, rel=1e-5))


def test_paired_t_detects_a_large_drop():
    rng = np.random.default_rng(2)
    base = (rng.random((300, 3)) < 0.8).astype(float)
    new = (rng.random((300, 3)) < 0.5).astype(float)
    result = paired_difference(base, new)
    assert result.difference < -20 and result.p_value < 0.001
    assert result.ci95[0] < result.difference < result.ci95[1] < 0


def test_paired_t_is_calibrated_under_no_change_for_avg_at_5():
    # 2,000 A/A comparisons of 400 items (the smallest benchmark of the suite) with U-shaped item
    # difficulties: a calibrated test rejects 5% of them (binomial standard error 0.5%).
    rng = np.random.default_rng(3)
    p = rng.beta(0.4, 0.6, size=400)[:, None]
    rejections = sum(paired_difference((rng.random((400, 5)) < p).astype(float),
                                       (rng.random((400, 5)) < p).astype(float)).p_value < 0.05
                     for _ in range(2_000))
    assert 80 <= rejections <= 120


def test_an_item_alone_gives_no_evidence():
    result = paired_difference(np.array([[1.0, 1.0]]), np.array([[0.0, 0.0]]))
    assert result.difference == -100.0 and result.p_value == 1.0 and result.ci95 == (-100.0, 100.0)


def test_misaligned_matrices_are_refused():
    with pytest.raises(ValueError, match="aligned items"):
        paired_difference(np.zeros((3, 1)), np.zeros((4, 1)))


def test_holm_adjusts_step_down_in_the_order_given():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> kept monotone at 0.06
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_leaves_a_single_test_alone():
    assert holm_adjust([0.3, 0.5, 0.9]) == [pytest.approx(0.9), 1.0, 1.0]
    assert holm_adjust([0.012]) == [0.012]
    assert holm_adjust([]) == []


def test_holm_refuses_what_is_not_a_p_value():
    with pytest.raises(ValueError, match=r"p-values must lie in \[0, 1\], got nan"):
        holm_adjust([0.1, NaN])
