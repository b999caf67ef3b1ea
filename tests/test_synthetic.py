"""Synthetic series: each formula exactly, determinism from the seed, and noise floors that
the generated data bears out (the oracle forecast's RMSE is the floor)."""

import math

import numpy as np
import pandas as pd
import pytest
from building import load_data

from seqcast.data import sources
from seqcast.data.sources import schema
from seqcast.data.sources.synthetic import KINDS, SERIES, floor_at, generate, oracle_forecast
from seqcast.params import parse_params


def values(kind: str, seed: int = 0) -> np.ndarray:
    return generate(kind, seed).prices["value"].to_numpy()


def test_every_kind_in_params_has_a_generator():
    assert tuple(SERIES) == KINDS


@pytest.mark.parametrize(
    ("kind", "rows"),
    [
        ("sine", 800),
        ("noisy_sine", 1001),
        ("noise", 1000),
        ("damped", 2001),
        ("seasonal_trend", 900),
        ("random_walk", 1000),
    ],
)
def test_tidy_layout_daily_dates_and_length(kind, rows):
    prices = generate(kind, 0).prices
    assert list(prices.columns) == ["date", "ticker", "value"]
    assert len(prices) == rows
    assert (prices["ticker"] == kind).all()
    assert prices["date"].iloc[0] == pd.Timestamp("2000-01-01")
    assert (prices["date"].diff().iloc[1:] == pd.Timedelta(days=1)).all()
    assert schema.problems(prices) == []


def test_sine_has_40_points_per_cycle_and_no_noise():
    v = values("sine")
    assert v[0] == 0.0
    assert v[10] == pytest.approx(1.0, abs=1e-15)  # a quarter cycle
    assert v[30] == pytest.approx(-1.0, abs=1e-15)
    np.testing.assert_allclose(v[40:], v[:-40], atol=1e-12)
    np.testing.assert_array_equal(v, values("sine", seed=7))  # nothing random


def test_noisy_sine_is_sin_t_plus_the_seeded_noise():
    t = np.arange(1001) / 10
    noise = np.random.default_rng(3).normal(0, 0.1, 1001)
    np.testing.assert_allclose(values("noisy_sine", 3), np.sin(t) + noise, atol=1e-12)


def test_noise_is_standard_normal_from_the_seed():
    np.testing.assert_array_equal(values("noise", 5), np.random.default_rng(5).normal(0, 1, 1000))


def test_damped_at_hand_computed_points():
    v = values("damped")
    s = math.sin

    def damped(t: float) -> float:
        wave = (
            s(t)
            + 0.5 * s(t / 10)
            + 0.25 * s(2 * t)
            + 0.1 * s(3 * t)
            + 0.5 * s(t / 20) * s(t / 15)
            + 0.1 * s(t / 5) ** 2
            + 0.15 * s(t / 8) * s(t / 12) * s(t / 20)
        )
        return math.exp(-t / 100) * wave

    assert v[0] == 0.0
    for index in (1, 157, 1000, 2000):  # t = 0.1, 15.7, 100, 200
        assert v[index] == pytest.approx(damped(index / 10), rel=1e-12, abs=1e-15)
    np.testing.assert_array_equal(v, values("damped", seed=9))


def test_seasonal_trend_is_two_seasons_a_trend_and_the_seeded_noise():
    t = np.arange(900)
    expected = (
        1.2 * np.sin(2 * np.pi * t / 50)
        + 0.6 * np.sin(2 * np.pi * t / 17 + 0.8)
        + 0.0025 * t
        + np.random.default_rng(1).normal(0, 0.18, 900)
    )
    np.testing.assert_allclose(values("seasonal_trend", 1), expected, atol=1e-12)


def test_random_walk_steps_are_the_seeded_standard_normals():
    v = values("random_walk", 2)
    steps = np.random.default_rng(2).normal(0, 1, 1000)
    assert v[0] == steps[0]
    np.testing.assert_allclose(np.diff(v), steps[1:], atol=1e-9)


@pytest.mark.parametrize("kind", ["noisy_sine", "noise", "seasonal_trend", "random_walk"])
def test_same_seed_same_bytes_other_seed_other_series(kind):
    np.testing.assert_array_equal(values(kind, 11), values(kind, 11))
    assert not np.array_equal(values(kind, 11), values(kind, 12))


@pytest.mark.parametrize(
    ("kind", "floor", "growth"),
    [
        ("sine", 0.0, "constant"),
        ("noisy_sine", 0.1, "constant"),
        ("noise", 1.0, "constant"),
        ("damped", 0.0, "constant"),
        ("seasonal_trend", 0.18, "constant"),
        ("random_walk", 1.0, "sqrt_horizon"),
    ],
)
def test_noise_floor_is_recorded_with_the_data(kind, floor, growth):
    info = generate(kind, 0).info
    assert info["kind"] == kind and info["seed"] == 0
    assert info["noise_floor"]["rmse_1_step"] == floor
    assert info["noise_floor"]["growth"] == growth


def test_floor_grows_as_sqrt_horizon_only_for_the_random_walk():
    walk = generate("random_walk", 0).info["noise_floor"]
    noisy = generate("noisy_sine", 0).info["noise_floor"]
    assert [floor_at(walk, h) for h in (1, 4, 9)] == [1.0, 2.0, 3.0]
    assert [floor_at(noisy, h) for h in (1, 4, 9)] == [0.1, 0.1, 0.1]


def _rmse(error: np.ndarray) -> float:
    return float(np.sqrt(np.mean(error**2)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_oracle_forecast_reaches_the_recorded_floor(seed):
    """The best forecast, which knows the formula, has an RMSE at the floor up to sampling
    error (about floor / sqrt(2n), under 3 % here): the floors fit the data."""
    t = np.arange(1001) / 10
    noisy = values("noisy_sine", seed)
    assert _rmse(noisy - np.sin(t)) == pytest.approx(0.1, rel=0.07)

    ts = np.arange(900)
    season = 1.2 * np.sin(2 * np.pi * ts / 50) + 0.6 * np.sin(2 * np.pi * ts / 17 + 0.8)
    trend = season + 0.0025 * ts
    assert _rmse(values("seasonal_trend", seed) - trend) == pytest.approx(0.18, rel=0.07)

    assert _rmse(values("noise", seed)) == pytest.approx(1.0, rel=0.07)

    walk = values("random_walk", seed)
    for horizon in (1, 4):
        naive_error = walk[horizon:] - walk[:-horizon]  # the naive forecast is the oracle
        assert _rmse(naive_error) == pytest.approx(math.sqrt(horizon), rel=0.1)


def test_the_oracle_forecast_is_the_signal_or_for_the_walk_the_last_value():
    dates = pd.date_range("2000-01-01", periods=1001, freq="D")
    origins, targets = dates[100:110], dates[102:112]  # two steps ahead
    t = np.arange(102, 112) / 10
    np.testing.assert_allclose(oracle_forecast("noisy_sine", 0, origins, targets), np.sin(t))
    walk = values("random_walk", 6)
    np.testing.assert_array_equal(
        oracle_forecast("random_walk", 6, origins, targets), walk[100:110]
    )
    np.testing.assert_array_equal(oracle_forecast("noise", 1, origins, targets), np.zeros(10))
    sine = values("sine")
    np.testing.assert_array_equal(oracle_forecast("sine", 0, origins, targets), sine[102:112])


def test_sine_is_predicted_exactly_by_its_two_term_recurrence():
    """A noiseless sine obeys x[k+1] = 2 cos(w) x[k] - x[k-1]: the floor 0 is reachable."""
    v = values("sine")
    w = 2 * np.pi / 40
    assert _rmse(v[2:] - (2 * np.cos(w) * v[1:-1] - v[:-2])) < 1e-12


def test_synthetic_source_through_load_raw():
    data = parse_params(
        {
            "data": {
                "source": "synthetic",
                "ticker": "random_walk",
                "target": "value",
                "synthetic": {"kind": "random_walk", "seed": 4},
            }
        }
    ).data
    raw = load_data(data)
    np.testing.assert_array_equal(raw.prices["value"], values("random_walk", 4))
    info = sources.source_info(data.source, raw)
    assert info == {
        "source": "synthetic",
        "kind": "random_walk",
        "seed": 4,
        "noise_floor": {
            "rmse_1_step": 1.0,
            "growth": "sqrt_horizon",
            "why": "steps are N(0, 1): the naive forecast is optimal, with one step of noise "
            "per step ahead",
        },
        "tickers": {"random_walk": {"rows": 1000, "start": "2000-01-01", "end": "2002-09-26"}},
    }
