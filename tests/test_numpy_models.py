"""The numpy_rnn / numpy_lstm / numpy_gru forecasters: the same contract as every model."""

import json

import numpy as np
import pytest
import torch
from building import build

from seqcast.errors import SeqcastError
from seqcast.models import load_model, model_class, model_names, numpy_training
from seqcast.models.numpy_rnn import NumpyForecaster
from seqcast.params import parse_params
from seqcast.prep.windows import Windows


def _windows(seed, n, length=6, features=2) -> Windows:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, length, features))
    y = 0.8 * x[:, -1, 0] - 0.5 * x[:, -3, 1]  # learnable from the window
    dates = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Windows(
        x=x,
        y=y,
        target_dates=dates + np.timedelta64(1, "D"),
        origin_dates=dates,
        feature_names=np.array(["f0", "f1"]),
        target_index=0,
    )


@pytest.fixture(scope="module")
def data():
    return _windows(1, 96), _windows(2, 32), _windows(3, 16)


# The from-scratch NumPy networks: trained by epochs, without a torch module.
NUMPY_MODELS = [
    n for n in model_names() if model_class(n).trained_by_epochs and not model_class(n).torch_module
]


def _params(name="numpy_lstm", model=None, **train):
    return parse_params(
        {
            "train": {"max_epochs": 4, "batch_size": 16, "patience": 10, "learning_rate": 0.01}
            | train,
            "models": {name: {"hidden_size": 6} | (model or {})},
        }
    )


@pytest.mark.parametrize("name", NUMPY_MODELS)
def test_build_model_gives_the_numpy_forecaster_with_its_params(name):
    model = build(name, _params(name, model={"num_layers": 2}, seed=9))
    assert isinstance(model, NumpyForecaster)
    assert model.cell == name.removeprefix("numpy_")
    assert model.options.hidden_size == 6 and model.options.num_layers == 2
    assert model.train_params.seed == 9


def test_numpy_lstm_has_no_nonlinearity_and_numpy_rnn_takes_relu():
    with pytest.raises(SeqcastError, match=r"models.numpy_lstm.nonlinearity = 'relu': unknown"):
        parse_params({"models": {"numpy_lstm": {"nonlinearity": "relu"}}})
    params = parse_params({"models": {"numpy_rnn": {"nonlinearity": "relu"}}})
    assert build("numpy_rnn", params).options.nonlinearity == "relu"


@pytest.mark.parametrize("name", NUMPY_MODELS)
def test_training_learns_and_is_bit_reproducible_for_a_seed(data, name):
    train, val, _ = data
    first = build(name, _params(name, max_epochs=15, seed=3, learning_rate=0.03))
    history = first.fit(train, val)
    second = build(name, _params(name, max_epochs=15, seed=3, learning_rate=0.03))
    assert second.fit(train, val) == history
    for key, value in first.net.params.items():
        assert np.array_equal(second.net.params[key], value), key
    # The target is a linear function of the window: fifteen epochs take the validation
    # loss well below the target's variance (the loss of predicting its mean).
    assert history.val_loss[history.best_epoch - 1] < 0.2 * np.var(val.y)

    other = build(name, _params(name, max_epochs=15, seed=4, learning_rate=0.03))
    other.fit(train, val)
    assert not np.array_equal(other.net.params["head.weight"], first.net.params["head.weight"])


def test_best_validation_epoch_is_restored_and_early_stopping_counts_patience(data):
    train, val, _ = data
    model = build("numpy_gru", _params("numpy_gru", max_epochs=60, patience=3, learning_rate=0.3))
    history = model.fit(train, val)
    assert len(history.val_loss) < 60, "setup: early stopping should end the run"
    assert len(history.val_loss) == history.best_epoch + 3
    assert history.best_epoch == int(np.argmin(history.val_loss)) + 1
    restored = float(np.mean((model.predict(val.x) - val.y) ** 2))
    assert restored == history.val_loss[history.best_epoch - 1]


def test_sgd_and_plateau_schedule_are_used(data, monkeypatch):
    train, val, _ = data
    made = []
    original = numpy_training.make_optimizer

    def spy(net, params):
        made.append(original(net, params))
        return made[-1]

    monkeypatch.setattr(numpy_training, "make_optimizer", spy)
    model = build(
        "numpy_rnn",
        _params(
            "numpy_rnn",
            optimizer="sgd",
            momentum=0.5,
            learning_rate=2.0,
            max_epochs=8,
            lr_schedule="reduce_on_plateau",
            lr_factor=0.1,
            lr_patience=0,
        ),
    )
    history = model.fit(train, val)
    (optimizer,) = made
    assert isinstance(optimizer, numpy_training.SGD) and optimizer.momentum == 0.5
    # lr_patience 0: every epoch without improvement divides the learning rate by ten,
    # as PyTorch's scheduler does when fed the same validation losses.
    reference = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=2.0)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(reference, factor=0.1, patience=0)
    for loss in history.val_loss:
        schedule.step(loss)
    assert reference.param_groups[0]["lr"] < 2.0, "setup: some epoch should fail to improve"
    assert optimizer.lr == reference.param_groups[0]["lr"]


def test_threads_are_limited_during_training(data, monkeypatch):
    train, val, _ = data
    limits = []

    class Recorder:
        def __init__(self, limits_arg):
            limits.append(limits_arg)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(numpy_training, "threadpool_limits", lambda limits: Recorder(limits))
    build("numpy_rnn", _params("numpy_rnn", max_epochs=1, threads=3)).fit(train, val)
    assert limits == [3]


def test_diverging_training_raises_one_clear_error():
    huge = _windows(4, 32)
    huge = Windows(**{**huge.__dict__, "y": huge.y * 1e300})
    model = build("numpy_rnn", _params("numpy_rnn", learning_rate=10.0))
    with pytest.raises(SeqcastError, match="numpy_rnn: training diverged at epoch 1"):
        model.fit(huge, huge)


@pytest.mark.parametrize("name", NUMPY_MODELS)
def test_save_load_round_trip_gives_identical_predictions(tmp_path, data, name):
    train, val, test = data
    model = build(name, _params(name, model={"num_layers": 2}, max_epochs=2))
    model.fit(train, val)
    model.save(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "weights.npz"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {
        "model": name,
        "net": {
            "cell": name.removeprefix("numpy_"),
            "input_size": 2,
            "hidden_size": 6,
            "num_layers": 2,
            "nonlinearity": "tanh",
        },
        "anchored": [],  # level windows: absolute inputs
    }
    with np.load(tmp_path / "weights.npz", allow_pickle=False) as archive:
        assert archive.files == list(model.net.params)

    loaded = load_model(tmp_path)
    assert isinstance(loaded, NumpyForecaster)
    expected = model.predict(test.x)
    assert expected.shape == (len(test),)
    assert np.array_equal(loaded.predict(test.x), expected)
