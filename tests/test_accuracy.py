"""The accuracy goals of docs/accuracy.md, held on the committed params.

Runs benchmarks/accuracy.py's own functions (the pipeline's features, split, scaler,
windows, training, scoring and selection) on the synthetic series with a known noise
floor: the best network near the floor where there is signal, and on a random walk the
model chosen on validation level with naive, and no network worse than naive on a
ticker. Fewer seeds and series than the benchmark's table, so that it takes a few
minutes; the table in the README has them all.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _benchmark():
    """benchmarks/accuracy.py, a script rather than a package module."""
    spec = importlib.util.spec_from_file_location("accuracy", REPO / "benchmarks" / "accuracy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


accuracy = _benchmark()


def _runs(series: str, models: list[str], seeds: list[int]) -> tuple[list[str], dict]:
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    raw = accuracy.series_params(base, series, [])
    table, info = accuracy.labelled_table(raw)
    runs = {}
    for model in models:
        r = runs[model] = accuracy.Runs()
        for seed in seeds[:1] if model in accuracy.DETERMINISTIC else seeds:
            for key, value in accuracy.run_model(table, info, raw, model, seed).items():
                getattr(r, key).append(value)
    forecast = accuracy.parse_params(raw).forecast
    return accuracy.series_rows(series, runs, seeds, forecast)


@pytest.mark.slow
@pytest.mark.parametrize(("series", "network"), [("noisy_sine", "lstm"), ("seasonal_trend", "rnn")])
def test_a_network_is_near_the_noise_floor_where_there_is_signal(series, network):
    """One network per series, the quickest to train of those that reach the goal in the
    benchmark's table; its mean over two seeds."""
    _, limit = accuracy.GOALS[series]
    rows, figures = _runs(series, ["naive", network], [42, 43])
    best = min(figures["networks"].values())
    assert best <= limit, "\n".join(rows)


@pytest.mark.slow
def test_on_a_random_walk_the_model_chosen_on_validation_is_level_with_naive():
    rows, figures = _runs("random_walk", list(accuracy.MODELS), [42, 43])
    assert figures["selected"] <= accuracy.RANDOM_WALK_GOAL, "\n".join(rows)


@pytest.mark.slow
def test_on_a_sample_ticker_no_network_is_significantly_worse_than_naive():
    rows, figures = _runs("AAPL", ["naive", *accuracy.NETWORKS], [42])
    assert figures["worse"] == [], "\n".join(rows)
    assert figures["selected"] == 1.0  # naive: no network beats it on validation either


def test_the_goals_are_judged_from_the_figures():
    """The benchmark's verdict lines follow the goals, met or not."""
    figures = {
        "noisy_sine": {"networks": {"lstm": 1.02, "gru": 1.05}, "selected": 1.02, "worse": []},
        "seasonal_trend": {"networks": {"rnn": 1.2}, "selected": 1.2, "worse": []},
        "random_walk": {"networks": {"rnn": 1.03}, "selected": 1.0, "worse": ["rnn"]},
        "AAPL": {"networks": {"gru": np.float64(1.0)}, "selected": 1.0, "worse": ["gru"]},
    }
    lines = accuracy.goals(figures)
    assert lines == [
        "- noisy_sine: best network lstm at 1.020 x floor (goal <= 1.03): met",
        "- seasonal_trend: best network rnn at 1.200 x floor (goal <= 1.10): NOT met",
        "- random_walk: selected model at 1.000 x naive (goal <= 1.01): met",
        "- AAPL: no network significantly worse than naive: NOT met (gru)",
    ]
