"""The contract of every registered model, checked over the registry (as scikit-learn's
check_estimator does): declared name, config and capabilities; fit, predict, save, load
and the same prediction bit for bit; multi-step targets where the model claims them."""

import json

import numpy as np
import pytest
from torch import nn

from seqcast.config import Section
from seqcast.errors import SeqcastError
from seqcast.models import build_model, load_model, model_class, model_names
from seqcast.models.train_config import TrainConfig, TrainOverrides
from seqcast.prep.windows import Windows

NAMES = model_names()
MULTI_OUTPUT = [n for n in NAMES if model_class(n).multi_output]
TINY_TRAIN = TrainConfig(max_epochs=2, batch_size=16, patience=2, device="cpu")


def _windows(seed: int, n: int, steps: int = 0, length: int = 5, features: int = 2) -> Windows:
    """Random windows whose target (feature 0) follows the last inputs; y (n,) or (n, steps)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, length, features))  # (n, length, features)
    one = 0.8 * x[:, -1, 0] - 0.3 * x[:, -2, 1] + rng.normal(0, 0.05, n)  # (n,)
    y = np.stack([one * 0.9**k for k in range(steps)], axis=1) if steps else one
    origins = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    offsets = np.arange(1, (steps or 1) + 1) * np.timedelta64(1, "D")
    targets = origins[:, None] + offsets if steps else origins + offsets[0]
    return Windows(
        x=x,
        y=y,
        target_dates=targets,
        origin_dates=origins,
        feature_names=np.array([f"f{i}" for i in range(features)]),
        target_index=0,
    )


def _tiny(name: str):
    """The model with its default config, hidden size 4 where it has one, and TINY_TRAIN."""
    cls = model_class(name)
    small = {"hidden_size": 4} if "hidden_size" in cls.Config.model_fields else {}
    return build_model(name, cls.Config(**small), TINY_TRAIN)


@pytest.mark.parametrize("name", NAMES)
def test_the_class_declares_its_name_config_and_capabilities(name):
    cls = model_class(name)
    assert cls.name == name
    assert issubclass(cls.Config, Section)
    cls.Config()  # every key has a default: the params block may be left out
    for flag in ("multi_output", "trained_by_epochs", "torch_module"):
        assert isinstance(getattr(cls, flag), bool), flag
    if cls.trained_by_epochs:
        assert cls.Config.model_fields["train"].annotation is TrainOverrides


@pytest.mark.parametrize("name", NAMES)
def test_fit_predict_save_load_gives_the_same_prediction(tmp_path, name):
    train, val, test = _windows(0, 48), _windows(1, 16), _windows(2, 12)
    model = _tiny(name)
    history = model.fit(train, val)
    predicted = model.predict(test.x)
    assert predicted.shape == (12,)
    assert np.isfinite(predicted).all()
    epochs = len(history.train_loss)
    assert 1 <= epochs == len(history.val_loss)
    assert epochs <= TINY_TRAIN.max_epochs if model.trained_by_epochs else epochs == 1

    model.save(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model"] == name
    loaded = load_model(tmp_path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(test.x), predicted)


@pytest.mark.parametrize("name", MULTI_OUTPUT)
def test_a_multi_output_model_fits_and_predicts_several_steps(tmp_path, name):
    train, val, test = _windows(0, 48, steps=3), _windows(1, 16, steps=3), _windows(2, 12, steps=3)
    model = _tiny(name)
    model.fit(train, val)
    predicted = model.predict(test.x)
    assert predicted.shape == (12, 3)
    model.save(tmp_path)
    np.testing.assert_array_equal(load_model(tmp_path).predict(test.x), predicted)


@pytest.mark.parametrize("name", [n for n in NAMES if model_class(n).torch_module])
def test_a_torch_model_exposes_its_module_and_what_it_reads(name):
    train, val, test = _windows(0, 32), _windows(1, 16), _windows(2, 4)
    model = _tiny(name)
    model.fit(train, val)
    assert isinstance(model.net, nn.Module)
    assert model.net_inputs(test.x).shape == test.x.shape


def test_the_built_in_models_are_registered_in_their_order():
    assert NAMES[:8] == (
        "naive",
        "linear",
        "rnn",
        "lstm",
        "gru",
        "numpy_rnn",
        "numpy_lstm",
        "numpy_gru",
    )


def test_an_unknown_name_in_a_saved_config_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model": "transformer", "net": {}}))
    with pytest.raises(SeqcastError, match=r"config.json: unknown model 'transformer'; choose"):
        load_model(tmp_path)


def test_a_network_saved_under_another_name_is_refused(tmp_path):
    model = _tiny("lstm")
    model.fit(_windows(0, 32), _windows(1, 16))
    model.save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config | {"model": "gru"}))
    with pytest.raises(SeqcastError, match=r"a lstm network saved as model 'gru'"):
        load_model(tmp_path)


def test_build_model_refuses_an_unknown_name_or_another_models_config():
    with pytest.raises(SeqcastError, match=r"unknown model 'transformer'; choose from naive"):
        build_model("transformer", model_class("naive").Config())
    with pytest.raises(TypeError, match=r"expected a LinearConfig"):
        build_model("linear", model_class("naive").Config())


@pytest.mark.parametrize("name", [n for n in NAMES if model_class(n).torch_module])
def test_the_skip_connection_adds_a_linear_map_of_the_window_and_survives_saving(tmp_path, name):
    """skip: linear is a linear autoregression on the whole window plus the recurrent part;
    it starts at zero, and fit, save and load keep it."""
    import torch

    cls = model_class(name)
    model = build_model(name, cls.Config(hidden_size=4, skip="linear"), TINY_TRAIN)
    train, val, test = _windows(0, 48), _windows(1, 16), _windows(2, 12)
    torch.manual_seed(0)
    net = model._build(input_size=2, window=5, outputs=1)
    assert not net.skip.weight.any() and not net.skip.bias.any()  # zero at the start
    x = torch.tensor(test.x, dtype=torch.float32)
    with torch.no_grad():
        net.skip.weight.copy_(torch.arange(10, dtype=torch.float32)[None] / 10)
        nn.init.zeros_(net.head.weight), nn.init.zeros_(net.head.bias)
        expected = x.flatten(1) @ (torch.arange(10, dtype=torch.float32) / 10)
        torch.testing.assert_close(net(x), expected)

    model.fit(train, val)
    assert model.net.options.skip == "linear" and model.net.shape.window == 5
    predicted = model.predict(test.x)
    model.save(tmp_path)
    loaded = load_model(tmp_path)
    assert loaded.net.options.skip == "linear"
    np.testing.assert_array_equal(loaded.predict(test.x), predicted)
