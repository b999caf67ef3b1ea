"""params.yaml: the committed file loads; bad input names the key, the value, what is allowed."""

from pathlib import Path

import pydantic
import pytest
import yaml

from seqcast.errors import SeqcastError
from seqcast.models import model_names
from seqcast.params import Params, load_params, parse_params

ROOT = Path(__file__).resolve().parents[1]

REPO = Path(__file__).resolve().parents[1]
PARAMS_FILE = REPO / "params.yaml"


def _leaves(mapping, prefix=()):
    """Every value the mapping sets; an empty mapping (`naive: {}`, `gate.metrics: {}`)
    sets none, its section keeping the code's defaults."""
    for key, value in mapping.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def test_committed_params_yaml_loads_with_every_value_it_sets():
    params = load_params(PARAMS_FILE)
    assert isinstance(params, Params)
    raw = yaml.safe_load(PARAMS_FILE.read_text())
    loaded = params.model_dump()
    for keys, value in _leaves(raw):
        actual = loaded
        for key in keys:
            actual = actual[key]
        assert actual == value, ".".join(keys)
    assert set(params.models.enabled) <= set(model_names())


def test_default_path_is_params_yaml_in_the_working_directory(monkeypatch):
    monkeypatch.chdir(REPO)
    assert load_params() == load_params(PARAMS_FILE)


def test_empty_file_gives_the_code_defaults(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("# nothing set\n")
    assert load_params(path) == parse_params({})


def test_params_are_frozen():
    params = parse_params({})
    with pytest.raises(pydantic.ValidationError):
        params.window.length = 3


def _error(raw) -> str:
    with pytest.raises(SeqcastError) as info:
        parse_params(raw)
    return str(info.value)


def _assert_names(message: str, key: str, value: str, allowed: str) -> None:
    assert message.startswith("params.yaml: "), message
    assert key in message, f"the key {key!r} is not named in: {message}"
    assert value in message, f"the value {value!r} is not named in: {message}"
    assert allowed in message, f"what is allowed ({allowed!r}) is not said in: {message}"


def test_unknown_model_name_in_enabled():
    message = _error({"models": {"enabled": ["naive", "transformer"]}})
    _assert_names(message, "models.enabled", "'transformer'", "naive, linear, rnn, lstm, gru")


def test_duplicate_or_empty_enabled_list():
    for enabled in (["naive", "naive"], []):
        message = _error({"models": {"enabled": enabled}})
        _assert_names(message, "models.enabled", str(enabled), "list each model once, at least one")


def test_negative_lags():
    message = _error({"features": {"lags": -1}})
    _assert_names(message, "features.lags", "-1", "greater than or equal to 0")


def test_rolling_window_below_two():
    message = _error({"features": {"rolling_windows": [10, 1]}})
    _assert_names(message, "features.rolling_windows.1", "= 1", "greater than or equal to 2")


@pytest.mark.parametrize(
    ("value", "allowed"), [(0, "greater than 0"), (1.5, "less than 1"), (1, "less than 1")]
)
def test_split_train_outside_the_open_unit_interval(value, allowed):
    message = _error({"split": {"train": value}})
    _assert_names(message, "split.train", f"= {value}", allowed)


def test_split_train_plus_val_must_leave_a_test_split():
    message = _error({"split": {"train": 0.7, "val": 0.3}})
    _assert_names(message, "split.train + split.val", "= 1", "must be below 1")
    message = _error({"split": {"train": 0.8, "val": 0.5}})
    _assert_names(message, "split.train + split.val", "= 1.3", "must be below 1")


NO_VALIDATION = {"split": {"train": 0.8, "val": 0.0}}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, ("forecast.model = best", "split.val = 0", "name the model to forecast with")),
        ({"forecast": {"model": "lstm"}}, ("split.val = 0", "rnn", "train.patience: null")),
        (
            {
                "forecast": {"model": "lstm"},
                "train": {"patience": None, "lr_schedule": "reduce_on_plateau"},
            },
            ("split.val = 0", "train.lr_schedule", "set train.lr_schedule: none"),
        ),
    ],
)
def test_no_validation_block_needs_a_named_model_and_fixed_epochs(extra, expected):
    _assert_names(_error({**NO_VALIDATION, **extra}), *expected)


def test_protocol_without_validation_or_clipping_or_backtest_is_expressible():
    params = parse_params(
        {
            "split": {"train": 0.8, "val": 0.0},
            "forecast": {"model": "lstm"},
            "train": {"patience": None, "max_epochs": 50, "grad_clip": None},
            "backtest": {"origins": []},
        }
    )
    assert params.train_for("lstm").patience is None
    assert params.train_for("gru").grad_clip is None
    assert params.backtest.origins == []


def test_wrong_type():
    message = _error({"window": {"length": "x"}})
    _assert_names(message, "window.length", "'x'", "valid integer")


def test_value_outside_a_literal():
    message = _error({"data": {"target": "price"}})
    _assert_names(message, "data.target", "'price'", "'open', 'high', 'low', 'close' or 'volume'")


def test_unknown_key_typo():
    """A typo names the key, its value and the keys that the section does accept."""
    message = _error({"data": {"tickr": "MSFT"}})
    assert "data.tickr" in message
    # params.py's docstring promises "a message naming the key, the value and what is allowed".
    assert "ticker" in message, f"the accepted keys of data are not listed in: {message}"
    assert "MSFT" in message, f"the value is not named in: {message}"


def test_unknown_top_level_section():
    message = _error({"trainig": {"seed": 1}})
    assert "trainig = {'seed': 1}: unknown key; allowed here: data, features" in message


def test_every_problem_is_reported_at_once():
    message = _error({"features": {"lags": -1}, "window": {"horizon": 0}})
    assert "features.lags = -1" in message
    assert "window.horizon = 0" in message
    assert "; " in message


def test_load_params_names_the_file_in_validation_errors(tmp_path):
    path = tmp_path / "custom.yaml"
    path.write_text("window:\n  length: x\n")
    with pytest.raises(SeqcastError) as info:
        load_params(path)
    assert str(info.value).startswith(f"{path}: window.length = 'x'")


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "params.yaml"
    with pytest.raises(SeqcastError) as info:
        load_params(path)
    assert str(path) in str(info.value)
    assert "not found" in str(info.value)


def test_invalid_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  ticker: [AAPL\n")
    with pytest.raises(SeqcastError) as info:
        load_params(path)
    assert str(info.value).startswith(f"{path}: not valid YAML")


def test_model_params_returns_each_models_section():
    params = parse_params({"models": {"lstm": {"hidden_size": 8}, "linear": {"alpha": 0.5}}})
    assert params.model_params("lstm").hidden_size == 8
    assert params.model_params("gru").hidden_size == 32
    assert params.model_params("linear").alpha == 0.5


def test_the_code_defaults_are_the_pipelines_written_once():
    """params.yaml shows the defaults that the code holds: a notebook's parse_params({}),
    Params' sections and every model's Config give the pipeline's values, key by key."""
    from seqcast.ops.lineage import flatten

    code = flatten("", parse_params({}).model_dump(mode="json"))
    pipeline = flatten("", load_params(ROOT / "params.yaml").model_dump(mode="json"))
    differ = {
        key: (code.get(key), pipeline.get(key))
        for key in sorted(code.keys() | pipeline.keys())
        if code.get(key) != pipeline.get(key)
    }
    assert not differ, f"the code's defaults and params.yaml disagree (code, file): {differ}"
