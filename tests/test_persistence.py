"""Saved models are safe to load: a tampered pickle payload is refused before it runs.

Each test first shows that its payload is live (plain unpickling would run it and create
a marker directory), then that `load_model` refuses the file with one clear message and
the marker never appears.
"""

import json
import os

import numpy as np
import pytest
import torch
from building import build

from seqcast.errors import SeqcastError
from seqcast.models import load_model
from seqcast.params import parse_params
from seqcast.prep.windows import Windows


class Payload:
    """Unpickling this calls os.mkdir(marker): the stand-in for an attacker's code."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _windows(seed: int, n: int) -> Windows:
    rng = np.random.default_rng(seed)
    dates = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Windows(
        x=rng.normal(size=(n, 4, 2)),
        y=rng.normal(size=n),
        target_dates=dates + np.timedelta64(1, "D"),
        origin_dates=dates,
        feature_names=np.array(["f0", "f1"]),
        target_index=0,
    )


def _saved(name: str, directory):
    params = parse_params(
        {"train": {"max_epochs": 1, "batch_size": 8}, "models": {name: {"hidden_size": 3}}}
    )
    model = build(name, params)
    model.fit(_windows(0, 16), _windows(1, 8))
    model.save(directory)
    return model


def test_tampered_torch_weights_are_refused(tmp_path):
    model = _saved("lstm", tmp_path / "model")
    weights = tmp_path / "model" / "weights.pt"
    marker = tmp_path / "payload-ran"
    state = dict(model.net.state_dict())
    state["head.bias"] = Payload(marker)
    torch.save(state, weights)

    torch.load(weights, weights_only=False)  # what an unsafe loader would do
    assert marker.is_dir(), "setup: the payload should run under plain unpickling"
    marker.rmdir()

    with pytest.raises(SeqcastError) as info:
        load_model(tmp_path / "model")
    assert str(info.value) == (
        f"{weights}: refused to load, not a plain state dict of tensors: Trying to load "
        "unsupported GLOBAL posix.mkdir whose module posix is blocked; retrain the model "
        "rather than trusting this file"
    )
    assert not marker.exists()


def test_tampered_numpy_weights_are_refused(tmp_path):
    model = _saved("numpy_gru", tmp_path / "model")
    weights = tmp_path / "model" / "weights.npz"
    marker = tmp_path / "payload-ran"
    params = dict(model.net.params)
    params["head.bias"] = np.array([Payload(marker)], dtype=object)
    with weights.open("wb") as handle:
        np.savez(handle, **params)

    with np.load(weights, allow_pickle=True) as archive:  # what an unsafe loader would do
        archive["head.bias"]
    assert marker.is_dir(), "setup: the payload should run under plain unpickling"
    marker.rmdir()

    with pytest.raises(SeqcastError) as info:
        load_model(tmp_path / "model")
    assert str(info.value) == (
        f"{weights}: refused to load, not plain numeric arrays: "
        "Object arrays cannot be loaded when allow_pickle=False"
    )
    assert not marker.exists()


def test_numpy_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    _saved("numpy_lstm", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["net"]["hidden_size"] = 4
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(SeqcastError, match="lstm network parameters do not match its config"):
        load_model(tmp_path)


def test_unknown_model_name_is_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model": "pickle"}))
    with pytest.raises(SeqcastError) as info:
        load_model(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'config.json'}: unknown model 'pickle'; choose from naive, linear, rnn, "
        "lstm, gru, numpy_rnn, numpy_lstm, numpy_gru (the key 'model' names the model that "
        "saved it)"
    )
