"""Models: naive and ridge baselines, recurrent nets, the registry, save / load without pickle."""

import json
import zipfile

import numpy as np
import pytest
import torch
from building import build

from seqcast.errors import SeqcastError
from seqcast.models import load_model, training
from seqcast.models.baselines import LinearForecaster, NaiveForecaster
from seqcast.models.recurrent import RecurrentForecaster
from seqcast.params import parse_params
from seqcast.prep.windows import Windows

CELLS = ["rnn", "lstm", "gru"]


def _windows(x, y, target_index=0) -> Windows:
    n = len(y)
    dates = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Windows(
        x=np.asarray(x, dtype="float64"),
        y=np.asarray(y, dtype="float64"),
        target_dates=dates + np.timedelta64(1, "D"),
        origin_dates=dates,
        feature_names=np.array([f"f{i}" for i in range(np.shape(x)[-1])]),
        target_index=target_index,
    )


def _random_windows(seed, n, length=5, features=2, scale=1.0) -> Windows:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, length, features)) * scale
    y = 0.8 * x[:, -1, 0] - 0.3 * x[:, -2, 1] + rng.normal(0, 0.05, n) * scale
    return _windows(x, y)


def _params(**train):
    return parse_params(
        {
            # CPU even where CUDA is present: these tests compare results bit for bit.
            "train": {"max_epochs": 3, "batch_size": 16, "patience": 5, "device": "cpu", **train},
            "models": {
                "linear": {"alpha": 1e-9},
                **{cell: {"hidden_size": 4} for cell in CELLS},
            },
        }
    )


# x[window, time, feature]; the target is feature 1.
HAND_X = np.array(
    [
        [[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]],
        [[4.0, 40.0], [5.0, 50.0], [6.0, 60.0]],
        [[7.0, -1.0], [8.0, -2.0], [9.0, -3.0]],
    ]
)


def test_naive_predicts_last_target_value_of_each_window():
    assert NaiveForecaster(target_index=1).predict(HAND_X).tolist() == [30.0, 60.0, -3.0]
    assert NaiveForecaster(target_index=0).predict(HAND_X).tolist() == [3.0, 6.0, 9.0]


def test_naive_fit_takes_target_index_from_windows_and_reports_mse():
    train = _windows(HAND_X, [31.0, 58.0, -3.0], target_index=1)  # errors 1, -2, 0
    val = _windows(HAND_X[:1], [27.0], target_index=1)  # error -3
    model = NaiveForecaster()
    history = model.fit(train, val)
    assert model.target_index == 1
    assert history.train_loss == pytest.approx([5 / 3])
    assert history.val_loss == pytest.approx([9.0])


def test_linear_recovers_an_exact_linear_relation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3, 2))
    # Flattened time-major: (t0 f0, t0 f1, t1 f0, t1 f1, t2 f0, t2 f1).
    weights = np.array([1.0, -2.0, 0.5, 3.0, 0.0, -1.0])
    y = x.reshape(200, -1) @ weights + 0.5
    model = LinearForecaster(alpha=1e-10)
    history = model.fit(_windows(x[:150], y[:150]), _windows(x[150:], y[150:]))
    np.testing.assert_allclose(model.coef_, weights, atol=1e-8)
    assert model.intercept_ == pytest.approx(0.5, abs=1e-8)
    assert history.train_loss[0] < 1e-15
    assert history.val_loss[0] < 1e-15
    # 1 - 4 + 1.5 + 12 + 0 - 6 + 0.5 = 5
    new = np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    assert model.predict(new)[0] == pytest.approx(5.0, abs=1e-8)


def test_linear_forecast_on_hand_set_coefficients():
    model = LinearForecaster()
    model.coef_ = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 0.1])  # last step: f0 + f1 / 10
    model.intercept_ = -1.0
    # 3 + 3 - 1, 6 + 6 - 1, 9 - 0.3 - 1
    np.testing.assert_allclose(model.predict(HAND_X), [5.0, 11.0, 7.7])


def test_build_model_uses_params():
    params = _params()
    naive = build("naive", params)
    linear = build("linear", params)
    assert isinstance(naive, NaiveForecaster)
    assert isinstance(linear, LinearForecaster)
    assert linear.alpha == 1e-9
    for cell in CELLS:
        model = build(cell, params)
        assert isinstance(model, RecurrentForecaster)
        assert model.cell == cell
        assert model.options.hidden_size == 4
        assert model.train_params.max_epochs == 3
    with pytest.raises(SeqcastError, match=r"unknown model .transformer.; choose from naive"):
        build("transformer", params)


def _no_pickle(directory) -> None:
    """Every saved file is JSON or a torch zip archive that loads with weights_only=True."""
    for path in directory.iterdir():
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:
            assert path.name == "weights.pt"
            assert zipfile.is_zipfile(path)
            state = torch.load(path, weights_only=True)
            assert all(isinstance(value, torch.Tensor) for value in state.values())
        assert not path.read_bytes().startswith(b"\x80"), f"{path.name} is a raw pickle"


@pytest.fixture
def data():
    return _random_windows(1, 60), _random_windows(2, 20), _random_windows(3, 15)


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("naive", {"config.json"}),
        ("linear", {"config.json", "coefficients.json"}),
        *[(cell, {"config.json", "weights.pt"}) for cell in CELLS],
    ],
    ids=["naive", "linear", *CELLS],
)
def test_save_load_round_trip_gives_identical_predictions(tmp_path, data, name, files):
    train, val, test = data
    model = build(name, _params())
    model.fit(train, val)
    model.save(tmp_path / "model")

    assert {p.name for p in (tmp_path / "model").iterdir()} == files
    _no_pickle(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["model"] == model.name == name

    loaded = load_model(tmp_path / "model")
    assert type(loaded) is type(model)
    expected = model.predict(test.x)
    assert expected.shape == (len(test),)
    assert np.array_equal(loaded.predict(test.x), expected)


def test_recurrent_weights_are_loaded_with_weights_only(tmp_path, data, monkeypatch):
    train, val, _ = data
    model = build("lstm", _params(max_epochs=1))
    model.fit(train, val)
    model.save(tmp_path)

    calls = []
    original = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded = load_model(tmp_path)
    assert calls == [{"weights_only": True, "map_location": "cpu"}]
    for key, tensor in model.net.state_dict().items():
        assert torch.equal(loaded.net.state_dict()[key], tensor), key


@pytest.mark.parametrize("cell", CELLS)
def test_recurrent_training_is_bit_reproducible_for_a_seed(data, cell):
    train, val, _ = data
    first = build(cell, _params(seed=7))
    second = build(cell, _params(seed=7))
    history_a = first.fit(train, val)
    history_b = second.fit(train, val)
    assert history_a == history_b
    state_a, state_b = first.net.state_dict(), second.net.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key

    other = build(cell, _params(seed=8))
    other.fit(train, val)
    assert any(not torch.equal(state_a[key], other.net.state_dict()[key]) for key in state_a), (
        "a different seed should give different weights"
    )


def test_recurrent_history_and_best_epoch(data):
    train, val, _ = data
    history = build("gru", _params(max_epochs=4)).fit(train, val)
    assert len(history.train_loss) == len(history.val_loss) == 4
    assert history.best_epoch == int(np.argmin(history.val_loss)) + 1
    assert all(np.isfinite(history.train_loss))


def test_recurrent_keeps_the_best_validation_epoch(data):
    """After fit the net holds the weights of its best validation epoch, not the last."""
    train, val, _ = data
    model = build("rnn", _params(max_epochs=6, learning_rate=0.3, patience=6))
    history = model.fit(train, val)
    assert history.best_epoch < len(history.val_loss), "setup: the last epoch should not be best"
    predictions = model.predict(val.x)
    restored_loss = float(np.mean((predictions - val.y) ** 2))
    assert restored_loss == pytest.approx(history.val_loss[history.best_epoch - 1], rel=1e-5)
    assert restored_loss != pytest.approx(history.val_loss[-1], rel=1e-3)


def test_early_stopping_after_patience_epochs_without_improvement(data):
    train, val, _ = data
    history = build("rnn", _params(max_epochs=50, learning_rate=0.3, patience=2)).fit(train, val)
    assert len(history.val_loss) < 50
    assert len(history.val_loss) == history.best_epoch + 2
    assert min(history.val_loss[history.best_epoch :]) >= history.val_loss[history.best_epoch - 1]


def test_diverging_training_raises():
    """Huge values overflow the float32 loss at once; the error says it diverged."""
    huge = _random_windows(4, 32, scale=1e20)
    model = build("rnn", _params(learning_rate=1e6))
    with pytest.raises(SeqcastError, match="diverged") as info:
        model.fit(huge, huge)
    assert "rnn" in str(info.value)
    assert "train.learning_rate" in str(info.value)


def test_non_finite_validation_loss_mid_training_raises(data, monkeypatch):
    """A NaN loss at epoch 2 (patched in) stops training with the epoch in the message."""
    train, val, _ = data
    original = training._mean_loss
    epochs = []

    def nan_from_epoch_two(*args, **kwargs):
        epochs.append(1)
        return original(*args, **kwargs) if len(epochs) < 2 else float("nan")

    monkeypatch.setattr(training, "_mean_loss", nan_from_epoch_two)
    with pytest.raises(SeqcastError, match="gru: training diverged at epoch 2"):
        build("gru", _params(max_epochs=5)).fit(train, val)
