"""Window-relative inputs: networks of a change target read prices relative to the origin."""

from dataclasses import replace

import numpy as np
import pytest
from building import build

from seqcast.models import load_model
from seqcast.models.anchoring import anchor, anchored_columns
from seqcast.params import parse_params
from seqcast.prep.windows import Windows

NAMES = np.array(["close", "close_lag_1", "close_rolling_mean_3", "close_return_1"])


def _windows(seed: int, n: int, transform: str = "difference", level: float = 0.0) -> Windows:
    rng = np.random.default_rng(seed)
    prices = level + np.cumsum(rng.normal(0, 0.1, size=(n, 8)), axis=1)  # (n, length)
    x = np.stack(
        [prices, prices - 0.05, prices + 0.02, rng.normal(0, 0.01, size=(n, 8))], axis=-1
    )  # (n, length, 4)
    dates = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Windows(
        x=x,
        y=0.5 * (x[:, -1, 0] - x[:, -2, 0]),
        target_dates=dates + np.timedelta64(1, "D"),
        origin_dates=dates,
        feature_names=NAMES,
        target_index=0,
        target_transform=transform,
    )


def _params(name: str, inputs: str = "relative"):
    return parse_params(
        {
            "train": {"max_epochs": 3, "batch_size": 16, "learning_rate": 0.01},
            "models": {name: {"hidden_size": 4, "inputs": inputs}},
        }
    )


def test_every_column_but_the_return_is_anchored_under_a_change_target():
    assert anchored_columns(_windows(0, 4), "relative") == (0, 1, 2)
    assert anchored_columns(_windows(0, 4, transform="log_return"), "relative") == (0, 1, 2)


def test_level_targets_and_absolute_inputs_are_left_as_they_are():
    assert anchored_columns(_windows(0, 4, transform="level"), "relative") == ()
    assert anchored_columns(_windows(0, 4), "absolute") == ()


def test_anchoring_subtracts_the_last_day_and_leaves_the_callers_windows_alone():
    x = _windows(0, 5).x
    before = x.copy()
    out = anchor(x, (0, 1, 2))
    assert np.array_equal(x, before)
    assert np.all(out[:, -1, :3] == 0)
    np.testing.assert_allclose(out[:, 0, :3], x[:, 0, :3] - x[:, -1, :3])
    assert np.array_equal(out[:, :, 3], x[:, :, 3])  # the return column


@pytest.mark.parametrize("name", ["gru", "numpy_gru"])
def test_a_relative_network_forecasts_the_same_change_at_any_price_level(name):
    model = build(name, _params(name))
    model.fit(_windows(1, 64), _windows(2, 16))
    low, high = _windows(3, 8), _windows(3, 8, level=5.0)  # the same shapes, 5 units higher
    np.testing.assert_allclose(model.predict(high.x), model.predict(low.x), atol=1e-6)
    absolute = build(name, _params(name, inputs="absolute"))
    absolute.fit(_windows(1, 64), _windows(2, 16))
    assert not np.allclose(absolute.predict(high.x), absolute.predict(low.x), atol=1e-3)


@pytest.mark.parametrize("name", ["lstm", "numpy_lstm"])
def test_saved_models_keep_their_anchoring(tmp_path, name):
    model = build(name, _params(name))
    model.fit(_windows(1, 64), _windows(2, 16))
    model.save(tmp_path)
    loaded = load_model(tmp_path)
    test = replace(_windows(3, 8), x=_windows(3, 8).x + 1.0)
    assert loaded.anchored == (0, 1, 2)
    assert np.array_equal(loaded.predict(test.x), model.predict(test.x))
