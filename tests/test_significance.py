"""The Diebold-Mariano test with the HLN correction, against cases worked out by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from seqcast.errors import SeqcastError
from seqcast.scoring.metrics import squared_errors
from seqcast.scoring.significance import autocovariance, diebold_mariano, holm_adjust


def test_one_step_statistic_and_p_values_by_hand():
    """d = [-1, 0, -2, 1, -3], n = 5, h = 1.

    d_bar = -5 / 5 = -1; deviations 0, 1, -1, 2, -2; gamma_0 = (0 + 1 + 1 + 4 + 4) / 5 = 2.
    DM = -1 / sqrt(2 / 5) = -sqrt(5 / 2).
    HLN: sqrt((5 + 1 - 2 + 0) / 5) = sqrt(4 / 5), so DM* = -sqrt(5/2 * 4/5) = -sqrt(2).
    Student's t with 4 degrees of freedom has the closed form
        F(t) = 1/2 + 3/8 * t / sqrt(1 + t²/4) * (1 - t² / (12 (1 + t²/4))),
    so F(-sqrt 2) = 1/2 + 3/8 * (-2/sqrt 3) * (8/9) = 1/2 - 2 / (3 sqrt 3).
    """
    naive = np.array([3.0, 2.0, 4.0, 1.0, 5.0])
    model = naive + np.array([-1.0, 0.0, -2.0, 1.0, -3.0])
    result = diebold_mariano(model, naive, horizon=1)
    assert result.mean_difference == -1.0
    assert result.statistic == pytest.approx(-math.sqrt(2), rel=1e-14)
    assert result.p_better == pytest.approx(0.5 - 2 / (3 * math.sqrt(3)), rel=1e-12)
    assert result.p_value == pytest.approx(1 - 4 / (3 * math.sqrt(3)), rel=1e-12)
    assert (result.n, result.horizon) == (5, 1)


def test_two_step_statistic_uses_one_autocovariance_lag():
    """d = [0, 1, 2, 2, 3, 4], n = 6, h = 2.

    d_bar = 12 / 6 = 2; deviations -2, -1, 0, 0, 1, 2.
    gamma_0 = (4 + 1 + 0 + 0 + 1 + 4) / 6 = 5/3.
    gamma_1 = ((-1)(-2) + 0(-1) + 0·0 + 1·0 + 2·1) / 6 = 4/6 = 2/3.
    V = 5/3 + 2 · 2/3 = 3; DM = 2 / sqrt(3 / 6) = 2 sqrt 2.
    HLN: sqrt((6 + 1 - 4 + 2/6) / 6) = sqrt(5/9), so DM* = 2 sqrt 2 · sqrt 5 / 3 = 2 sqrt(10) / 3.
    """
    d = np.array([0.0, 1.0, 2.0, 2.0, 3.0, 4.0])
    assert autocovariance(d, 0) == pytest.approx(5 / 3, rel=1e-15)
    assert autocovariance(d, 1) == pytest.approx(2 / 3, rel=1e-15)
    result = diebold_mariano(d + 10.0, np.full(6, 10.0), horizon=2)
    expected = 2 * math.sqrt(10) / 3
    assert result.statistic == pytest.approx(expected, rel=1e-14)
    assert result.p_better == pytest.approx(stats.t.cdf(expected, df=5), rel=1e-14)
    assert result.p_better > 0.9  # the model's loss is the higher: no evidence it is better
    # With h = 1 the lag-1 covariance is ignored and the correction differs:
    # DM = 2 / sqrt((5/3) / 6) = 2 sqrt(3.6); HLN sqrt(5/6).
    one = diebold_mariano(d + 10.0, np.full(6, 10.0), horizon=1)
    assert one.statistic == pytest.approx(2 * math.sqrt(3.6) * math.sqrt(5 / 6), rel=1e-14)


def test_identical_losses_leave_the_test_undefined():
    losses = np.array([1.0, 2.0, 3.0, 4.0])
    result = diebold_mariano(losses, losses)
    assert math.isnan(result.statistic) and math.isnan(result.p_value)
    assert result.mean_difference == 0.0


def test_far_lower_loss_is_significant_and_far_higher_is_not():
    rng = np.random.default_rng(0)
    actual = rng.normal(size=400)
    good = actual + rng.normal(0, 0.5, 400)
    bad = actual + rng.normal(0, 1.5, 400)
    better = diebold_mariano(squared_errors(actual, good), squared_errors(actual, bad))
    assert better.statistic < -5 and better.p_better < 1e-6 and better.p_value < 2e-6
    worse = diebold_mariano(squared_errors(actual, bad), squared_errors(actual, good))
    assert worse.statistic == pytest.approx(-better.statistic)
    assert worse.p_better > 1 - 1e-6


def test_too_few_targets_for_the_horizon_is_a_clear_error():
    message = "3-step forecasts needs at least 5 targets; there are 4"
    with pytest.raises(SeqcastError, match=message):
        diebold_mariano(np.ones(4), np.zeros(4), horizon=3)


def test_holm_adjustment_of_three_models_by_hand():
    """Sorted: 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04, raised to 0.06 to stay
    monotone."""
    adjusted = holm_adjust({"lstm": 0.01, "gru": 0.04, "rnn": 0.03})
    assert adjusted == pytest.approx({"lstm": 0.03, "gru": 0.06, "rnn": 0.06}, rel=1e-12)


def test_holm_caps_at_one_and_leaves_undefined_tests_out_of_the_count():
    adjusted = holm_adjust({"naive": math.nan, "a": 0.02, "b": 0.04, "c": 0.9})
    assert math.isnan(adjusted["naive"])
    # m = 3 defined tests, not 4: 0.02 x 3, then max(0.06, 0.04 x 2), then min(1, 0.9 x 1).
    assert [adjusted[k] for k in "abc"] == pytest.approx([0.06, 0.08, 0.9], rel=1e-12)
    assert holm_adjust({"a": 0.6, "b": 0.7}) == {"a": 1.0, "b": 1.0}
    assert holm_adjust({}) == {}


def test_holm_rejects_exactly_what_the_step_down_procedure_rejects():
    """Adjusted p <= alpha if and only if Holm's procedure at level alpha rejects: walk the
    sorted p-values, reject p_(k) while p_(k) <= alpha / (m - k + 1), stop at the first that
    is not."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        m = int(rng.integers(1, 8))
        p = {f"m{i}": float(x) for i, x in enumerate(rng.uniform(0, 0.2, m) ** 2)}
        adjusted = holm_adjust(p)
        for alpha in (0.01, 0.05, 0.1):
            rejected = set()
            for k, name in enumerate(sorted(p, key=p.get)):
                if p[name] > alpha / (m - k):
                    break
                rejected.add(name)
            assert {n for n, a in adjusted.items() if a <= alpha} == rejected
            assert all(adjusted[n] >= p[n] for n in p)
