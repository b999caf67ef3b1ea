"""Inspection artifacts: the parameter table, and gate activations that reproduce PyTorch."""

import numpy as np
import pandas as pd
import pytest
import torch
from building import build

from seqcast.models import inspection, model_class
from seqcast.params import parse_params
from seqcast.prep.windows import Windows


def _windows(seed: int, n: int, length: int = 7) -> Windows:
    rng = np.random.default_rng(seed)
    dates = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Windows(
        x=rng.normal(size=(n, length, 2)),
        y=rng.normal(size=n),
        target_dates=dates + np.timedelta64(1, "D"),
        origin_dates=dates,
        feature_names=np.array(["f0", "f1"]),
        target_index=0,
    )


def _fitted(name: str, **model):
    if "skip" in model_class(name).Config.model_fields:
        model = {"skip": "none"} | model  # the recurrent layers and head alone
    params = parse_params(
        {
            "train": {"max_epochs": 2, "batch_size": 8, "learning_rate": 0.05, "device": "cpu"},
            "models": (
                {name: {"hidden_size": 4} | model} if model_class(name).trained_by_epochs else {}
            ),
        }
    )
    fitted = build(name, params)
    fitted.fit(_windows(0, 24), _windows(1, 8))
    return fitted


def test_parameter_table_of_an_lstm_names_shapes_and_counts():
    table = inspection.parameter_table(_fitted("lstm"))
    assert table.to_dict("records") == [
        {"name": "rnn.weight_ih_l0", "shape": "(16, 2)", "count": 32},
        {"name": "rnn.weight_hh_l0", "shape": "(16, 4)", "count": 64},
        {"name": "rnn.bias_ih_l0", "shape": "(16,)", "count": 16},
        {"name": "rnn.bias_hh_l0", "shape": "(16,)", "count": 16},
        {"name": "head.weight", "shape": "(1, 4)", "count": 4},
        {"name": "head.bias", "shape": "(1,)", "count": 1},
    ]
    assert inspection.parameter_markdown(table, "lstm").splitlines() == [
        "# lstm: learned parameters",
        "",
        "| parameter | shape | count |",
        "|:---|:---|---:|",
        "| rnn.weight_ih_l0 | (16, 2) | 32 |",
        "| rnn.weight_hh_l0 | (16, 4) | 64 |",
        "| rnn.bias_ih_l0 | (16,) | 16 |",
        "| rnn.bias_hh_l0 | (16,) | 16 |",
        "| head.weight | (1, 4) | 4 |",
        "| head.bias | (1,) | 1 |",
        "| **total** | | **133** |",
    ]


def test_numpy_twin_has_the_same_table_as_the_torch_model():
    torch_table = inspection.parameter_table(_fitted("gru", num_layers=2))
    numpy_table = inspection.parameter_table(_fitted("numpy_gru", num_layers=2))
    pd.testing.assert_frame_equal(torch_table, numpy_table)
    assert torch_table["count"].sum() == (
        (12 * 2 + 12 * 4 + 12 + 12) + (12 * 4 + 12 * 4 + 12 + 12) + 4 + 1
    )


def test_baselines_tables():
    linear = inspection.parameter_table(_fitted("linear"))
    assert linear.to_dict("records") == [
        {"name": "coef", "shape": "(14,)", "count": 14},
        {"name": "intercept", "shape": "()", "count": 1},
    ]
    naive = inspection.parameter_table(_fitted("naive"))
    assert naive.empty
    assert "This model learns no parameters." in inspection.parameter_markdown(naive, "naive")


def _torch_outputs(model, window):
    with torch.no_grad():
        outputs, _ = model.net.rnn(torch.tensor(window[None], dtype=torch.float32))
    return outputs[0].double().numpy()  # (window, hidden) of the top layer


def test_lstm_gates_stepped_by_hand_reproduce_torch_outputs():
    model = _fitted("lstm", num_layers=2)
    window = _windows(2, 1).x[0]
    layers = inspection.gate_activations(model, window)
    assert len(layers) == 2
    top = layers[-1]
    assert list(top) == ["i", "f", "g", "o"]
    c, h = np.zeros(4), []
    for t in range(len(window)):  # c' = f c + i g,  h' = o tanh(c')
        c = top["f"][t] * c + top["i"][t] * top["g"][t]
        h.append(top["o"][t] * np.tanh(c))
    np.testing.assert_allclose(np.array(h), _torch_outputs(model, window), atol=1e-6)
    for gate in "ifo":
        assert ((top[gate] > 0) & (top[gate] < 1)).all()


def test_gru_gates_stepped_by_hand_reproduce_torch_outputs():
    model = _fitted("gru")
    window = _windows(3, 1).x[0]
    (layer,) = inspection.gate_activations(model, window)
    assert list(layer) == ["r", "z", "n"]
    h, states = np.zeros(4), []
    for t in range(len(window)):  # h' = (1 - z) n + z h
        h = (1 - layer["z"][t]) * layer["n"][t] + layer["z"][t] * h
        states.append(h)
    np.testing.assert_allclose(np.array(states), _torch_outputs(model, window), atol=1e-6)


@pytest.mark.parametrize("name", ["rnn", "numpy_rnn", "linear", "naive"])
def test_no_gates_for_models_without_them(name):
    assert inspection.gate_activations(_fitted(name), _windows(2, 1).x[0]) is None


def test_write_artifacts(tmp_path):
    test = _windows(4, 5)
    for name in ("numpy_lstm", "rnn"):
        model = _fitted(name)
        out = tmp_path / name
        out.mkdir()
        inspection.write_artifacts(name, model, test, out)
        written = sorted(p.name for p in out.iterdir())
        gates = ["gates.png"] if name == "numpy_lstm" else []
        assert written == sorted(["parameters.csv", "parameters.md", *gates])
        pd.testing.assert_frame_equal(
            pd.read_csv(out / "parameters.csv"), inspection.parameter_table(model)
        )
        assert (out / "parameters.md").read_text().startswith(f"# {name}: learned parameters")
    assert (tmp_path / "numpy_lstm" / "gates.png").read_bytes().startswith(b"\x89PNG")
