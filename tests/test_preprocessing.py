"""The preprocessing bundle: one JSON file that makes the same windows and decodes to the
same prices after a round trip; fitted on the training rows and windows only."""

import json

import numpy as np
import pytest
from inmemory import Pipeline, sine

from seqcast.errors import SeqcastError
from seqcast.forecasting.multistep import forecasts_by_step
from seqcast.models.baselines import LinearForecaster
from seqcast.prep.preprocessing import Preprocessing


@pytest.mark.parametrize(("transform", "steps"), [("level", 1), ("difference", 3)])
def test_saved_bundle_makes_the_same_windows_and_prices(tmp_path, transform, steps):
    rng = np.random.default_rng(3)
    pipe = Pipeline(100 + np.cumsum(rng.normal(0, 1, 160)), transform=transform, steps=steps)
    pipe.prep.save(tmp_path / "preprocessing.json")
    loaded = Preprocessing.load(tmp_path / "preprocessing.json")
    assert loaded.to_dict() == pipe.prep.to_dict()

    scaled = pipe.table.drop(columns="split")
    scaled[:] = loaded.scaler.transform(scaled.to_numpy())
    scaled["split"] = pipe.table["split"]
    again = loaded.windows(scaled, pipe.table["close"])
    for split, w in (("train", pipe.train), ("val", pipe.val), ("test", pipe.test)):
        assert again[split].x.tobytes() == w.x.tobytes(), split
        assert again[split].y.tobytes() == w.y.tobytes(), split
        np.testing.assert_array_equal(again[split].target_dates, w.target_dates)

    model = LinearForecaster(alpha=0.1)
    model.fit(pipe.train, pipe.val)
    before = forecasts_by_step(model, pipe.test, pipe.table, pipe.prep, 4)
    after = forecasts_by_step(model, again["test"], pipe.table, loaded, 4)
    assert before["predicted"].to_numpy().tobytes() == after["predicted"].to_numpy().tobytes()


def test_bundle_state_is_plain_json(tmp_path):
    pipe = Pipeline(sine(120), transform="log_return")
    pipe.prep.save(tmp_path / "p.json")
    state = json.loads((tmp_path / "p.json").read_text())
    assert state["columns"] == [str(c) for c in pipe.test.feature_names]
    assert state["target"]["transform"] == "log_return"
    assert (state["length"], state["horizon"], state["outputs"]) == (6, 1, 1)


def test_the_scaler_and_coder_learn_from_the_training_rows_only():
    close = 100 + np.cumsum(np.random.default_rng(4).normal(0, 1, 160))
    pipe = Pipeline(close, transform="difference")
    last_train = np.flatnonzero(pipe.table["split"].to_numpy() == "train")[-1]
    changed = close.copy()
    changed[len(close) - len(pipe.table) + last_train + 2 :] *= 5  # after training targets
    other = Pipeline(changed, transform="difference")
    assert other.prep.scaler.to_dict() == pipe.prep.scaler.to_dict()
    assert other.prep.coder == pipe.prep.coder


@pytest.mark.parametrize("text", ["", "{}", '{"features": 1}'])
def test_a_broken_bundle_is_a_clear_error(tmp_path, text):
    path = tmp_path / "preprocessing.json"
    path.write_text(text)
    with pytest.raises(SeqcastError, match=r"not a preprocessing bundle.*rerun the window stage"):
        Preprocessing.load(path)
