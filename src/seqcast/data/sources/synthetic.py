"""Teaching series with a known answer: each is deterministic from its seed and comes with
its noise floor, the best RMSE any forecaster can expect, so a report can say how close a
model gets.

N(0, s) means a normal draw with standard deviation s (numpy's `scale`). Every series
is one `value` per day from 2000-01-01, so the rest of the pipeline treats it like prices.

The floor is the RMSE of the best possible forecast, one that knows how the series was
made. For a known signal plus independent noise, that forecast is the signal, and its
error is the noise of the target alone: the floor is the noise's standard deviation at
every horizon. A random walk's best forecast is its last value (the naive forecast), and
its error sums one step of noise per step ahead, so the floor grows as sqrt(horizon).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from seqcast.config import Section
from seqcast.data.sources.raw import RawData
from seqcast.data.sources.source import Source

START = "2000-01-01"
CONSTANT, SQRT_HORIZON = "constant", "sqrt_horizon"


@dataclass(frozen=True)
class Made:
    values: np.ndarray  # the series
    signal: np.ndarray | None  # its noiseless part; None: no signal (the random walk)


def _sine(rng: np.random.Generator) -> Made:
    k = np.arange(800)
    wave = np.sin(2 * np.pi * k / 40)  # 40 points per cycle
    return Made(wave, wave)


def _noisy_sine(rng: np.random.Generator) -> Made:
    t = np.linspace(0, 100, 1001)  # 0, 0.1, ..., 100 without accumulated rounding
    signal = np.sin(t)
    return Made(signal + rng.normal(0, 0.1, t.size), signal)


def _noise(rng: np.random.Generator) -> Made:
    return Made(rng.normal(0, 1, 1000), np.zeros(1000))


def _damped(rng: np.random.Generator) -> Made:
    t = np.linspace(0, 200, 2001)
    s = np.sin
    wave = (
        s(t)
        + 0.5 * s(t / 10)
        + 0.25 * s(2 * t)
        + 0.1 * s(3 * t)
        + 0.5 * s(t / 20) * s(t / 15)
        + 0.1 * s(t / 5) ** 2
        + 0.15 * s(t / 8) * s(t / 12) * s(t / 20)
    )
    damped = np.exp(-t / 100) * wave
    return Made(damped, damped)


def _seasonal_trend(rng: np.random.Generator) -> Made:
    t = np.arange(900)
    seasonal = 1.2 * np.sin(2 * np.pi * t / 50) + 0.6 * np.sin(2 * np.pi * t / 17 + 0.8)
    signal = seasonal + 0.0025 * t
    return Made(signal + rng.normal(0, 0.18, t.size), signal)


def _random_walk(rng: np.random.Generator) -> Made:
    return Made(np.cumsum(rng.normal(0, 1, 1000)), None)


# kind: (generator, one-step floor, how the floor grows with the horizon, why)
SERIES: dict[str, tuple[Callable[[np.random.Generator], Made], float, str, str]] = {
    "sine": (_sine, 0.0, CONSTANT, "no noise: the past determines the future exactly"),
    "noisy_sine": (
        _noisy_sine,
        0.1,
        CONSTANT,
        "sin(t) is predictable; the N(0, 0.1) noise of the target is not",
    ),
    "noise": (_noise, 1.0, CONSTANT, "independent N(0, 1) draws: the best forecast is the mean 0"),
    "damped": (_damped, 0.0, CONSTANT, "no noise: the past determines the future exactly"),
    "seasonal_trend": (
        _seasonal_trend,
        0.18,
        CONSTANT,
        "seasons and trend are predictable; the N(0, 0.18) noise of the target is not",
    ),
    "random_walk": (
        _random_walk,
        1.0,
        SQRT_HORIZON,
        "steps are N(0, 1): the naive forecast is optimal, with one step of noise per step ahead",
    ),
}


def _make(kind: str, seed: int) -> Made:
    return SERIES[kind][0](np.random.default_rng(seed))


def _rows(dates: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    return np.asarray((pd.DatetimeIndex(dates) - pd.Timestamp(START)).days)


def oracle_forecast(
    kind: str,
    seed: int,
    origin_dates: pd.Series | pd.DatetimeIndex | np.ndarray,
    target_dates: pd.Series | pd.DatetimeIndex | np.ndarray,
) -> np.ndarray:
    """The best forecast of each target, by a forecaster that knows how the series was made:
    the signal at the target date, or for the random walk the value at the origin date."""
    made = _make(kind, seed)
    if made.signal is None:
        return made.values[_rows(origin_dates)]
    return made.signal[_rows(target_dates)]


def floor_at(noise_floor: dict[str, object], horizon: int) -> float:
    """The noise floor for forecasts `horizon` steps ahead, from the recorded one-step floor."""
    one_step = float(noise_floor["rmse_1_step"])
    return float(one_step * np.sqrt(horizon)) if noise_floor["growth"] == SQRT_HORIZON else one_step


def generate(kind: str, seed: int) -> RawData:
    """The series `kind` as a tidy raw table (date, ticker = kind, value) with its noise floor."""
    _, floor, growth, why = SERIES[kind]
    values = _make(kind, seed).values
    prices = pd.DataFrame(
        {
            "date": pd.date_range(START, periods=values.size, freq="D"),
            "ticker": kind,
            "value": values,
        }
    )
    noise_floor = {"rmse_1_step": floor, "growth": growth, "why": why}
    return RawData(prices=prices, info={"kind": kind, "seed": seed, "noise_floor": noise_floor})


KINDS = tuple(SERIES)


class SyntheticConfig(Section):
    """data.synthetic: which series, and the seed of its noise."""

    kind: Literal[KINDS] = "sine"
    seed: int = 0


def _named_after_kind(config: SyntheticConfig, ticker: str, tickers: Sequence[str]) -> list[str]:
    kind = config.kind
    if ticker != kind or list(tickers) not in ([], [kind]):
        return [
            f"data.ticker = {ticker!r}: with data.source = synthetic the one series is "
            f"named after data.synthetic.kind; set data.ticker: {kind} and leave "
            "data.tickers empty"
        ]
    return []


SOURCE = Source(
    name="synthetic",
    Config=SyntheticConfig,
    load=lambda config, ticker, others: generate(config.kind, config.seed),
    columns=lambda _: ("value",),
    check=_named_after_kind,
)
