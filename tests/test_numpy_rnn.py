"""The NumPy RNN / LSTM / GRU against PyTorch: same outputs, same gradients, in float64.

Weights are copied from `nn.RNN` / `nn.LSTM` / `nn.GRU` (batch_first) and from the
pipeline's `RecurrentNet`; outputs must agree and the gradients of a loss w.r.t. every
parameter and the input must match autograd to 1e-6 relative, over window lengths up
to 40 steps (the gradient at the first step travels the whole hidden-to-hidden chain),
several batch and hidden sizes, and stacked layers.
"""

import numpy as np
import pytest
import torch
from torch import nn

from seqcast.errors import SeqcastError
from seqcast.models import numpy_cells
from seqcast.models.numpy_cells import LayerWeights
from seqcast.models.numpy_net import NumpyNetConfig, NumpyRecurrentNet, parameter_shapes
from seqcast.models.recurrent_config import NetShape, RecurrentConfig
from seqcast.models.recurrent_net import RecurrentNet

RTOL = 1e-6
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
CELL_IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]
# (window length, batch size, hidden size)
SHAPES = [(1, 1, 1), (3, 2, 5), (12, 5, 3), (40, 4, 8)]
TORCH_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def assert_relative(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    """|actual - expected| <= 1e-6 * max |expected|, and expected is not trivially zero."""
    assert actual.shape == expected.shape, what
    scale = np.max(np.abs(expected))
    assert scale > 0, f"{what}: the reference gradient is zero, so the check is empty"
    error = np.max(np.abs(actual - expected))
    assert error <= RTOL * scale, f"{what}: max error {error:.3g} vs scale {scale:.3g}"


def _torch_layer(cell, nonlinearity, inputs, hidden, seed):
    torch.manual_seed(seed)
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    layer = TORCH_LAYERS[cell](inputs, hidden, batch_first=True, **extra).double()
    with torch.no_grad():  # wider than the default init, so that long chains stay alive
        for p in layer.parameters():
            p.mul_(2.0 if cell == "rnn" else 3.0)
    return layer


def _weights(layer) -> LayerWeights:
    return LayerWeights(
        **{
            name: getattr(layer, f"{name}_l0").detach().numpy().copy()
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        }
    )


@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS, ids=CELL_IDS)
@pytest.mark.parametrize(("steps", "batch", "hidden"), SHAPES, ids=lambda s: str(s))
def test_one_layer_matches_torch_outputs_and_gradients(cell, nonlinearity, steps, batch, hidden):
    inputs = 3
    layer = _torch_layer(cell, nonlinearity, inputs, hidden, seed=steps + batch)
    rng = np.random.default_rng(steps * 100 + hidden)
    x = rng.normal(size=(batch, steps, inputs))
    # A loss that reads every step's output, so that gradients enter at every step.
    weights_out = rng.normal(size=(batch, steps, hidden))

    x_t = torch.tensor(x, requires_grad=True)
    out_t, _ = layer(x_t)  # (batch, steps, hidden)
    (out_t * torch.tensor(weights_out)).sum().backward()

    w = _weights(layer)
    out, cache = numpy_cells.forward(cell, w, x, nonlinearity)
    dx, grads = numpy_cells.backward(cell, w, cache, weights_out, nonlinearity)

    assert_relative(out, out_t.detach().numpy(), "outputs")
    assert_relative(dx, x_t.grad.numpy(), "d loss / d x")
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        expected = getattr(layer, f"{name}_l0").grad.numpy()
        if name == "weight_hh" and steps == 1:
            assert not expected.any()  # h_0 = 0: nothing flows to W_hh in one step
            assert not getattr(grads, name).any()
            continue
        assert_relative(getattr(grads, name), expected, name)


@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS, ids=CELL_IDS)
def test_gradient_through_forty_steps_of_hidden_to_hidden(cell, nonlinearity):
    """The input at the first of 40 steps reaches the loss only through h -> h 39 times."""
    steps, batch, hidden = 40, 3, 6
    layer = _torch_layer(cell, nonlinearity, 2, hidden, seed=5)
    x = np.random.default_rng(6).normal(size=(batch, steps, 2))
    x_t = torch.tensor(x, requires_grad=True)
    layer(x_t)[0][:, -1].sum().backward()

    w = _weights(layer)
    out, cache = numpy_cells.forward(cell, w, x, nonlinearity)
    d_out = np.zeros_like(out)
    d_out[:, -1] = 1.0  # only the last step's output is read
    dx, _ = numpy_cells.backward(cell, w, cache, d_out, nonlinearity)
    # Relative to the first step's own (small) gradient, not to the whole array's.
    assert_relative(dx[:, 0], x_t.grad.numpy()[:, 0], "d loss / d x at step 1 of 40")


def _network_pair(cell, nonlinearity, inputs, hidden, layers, seed):
    torch.manual_seed(seed)
    options = RecurrentConfig(
        hidden_size=hidden, num_layers=layers, nonlinearity=nonlinearity, skip="none"
    )
    net = RecurrentNet(NetShape(cell, inputs), options).double()
    params = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    numpy_net = NumpyRecurrentNet(
        NumpyNetConfig(cell, inputs, hidden, layers, nonlinearity), params
    )
    return net, numpy_net


@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS, ids=CELL_IDS)
@pytest.mark.parametrize(
    ("steps", "batch", "hidden", "layers"),
    [(2, 2, 3, 1), (20, 8, 5, 1), (33, 6, 4, 2), (10, 3, 3, 3)],
    ids=lambda s: str(s),
)
def test_network_matches_recurrent_net_loss_gradients(
    cell, nonlinearity, steps, batch, hidden, layers
):
    """The whole forecaster (stacked layers, last step, linear head, MSE) against autograd."""
    inputs = 4
    net, numpy_net = _network_pair(cell, nonlinearity, inputs, hidden, layers, seed=layers)
    rng = np.random.default_rng(steps)
    x, y = rng.normal(size=(batch, steps, inputs)), rng.normal(size=batch)

    x_t = torch.tensor(x, requires_grad=True)
    pred_t = net(x_t)
    loss_t = nn.functional.mse_loss(pred_t, torch.tensor(y))
    loss_t.backward()

    pred, caches = numpy_net.forward(x)
    grads, dx = numpy_net.backward(2.0 * (pred - y) / batch, caches)
    loss, grads_again = numpy_net.loss_and_grads(x, y)

    assert pred.shape == (batch,)
    assert_relative(pred, pred_t.detach().numpy(), "predictions")
    assert loss == pytest.approx(loss_t.item(), rel=RTOL)
    assert_relative(dx, x_t.grad.numpy(), "d loss / d x")
    assert list(grads) == [name for name, _ in net.named_parameters()]
    for name, p in net.named_parameters():
        assert_relative(grads[name], p.grad.numpy(), name)
        assert np.array_equal(grads_again[name], grads[name]), name


def test_gradients_match_finite_differences():
    """An independent check of the hand-written backward pass, without PyTorch."""
    config = NumpyNetConfig("gru", input_size=2, hidden_size=3, num_layers=2)
    net = NumpyRecurrentNet.initialized(config, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(4, 6, 2)), rng.normal(size=4)
    _, grads = net.loss_and_grads(x, y)
    eps = 1e-6
    for name, p in net.params.items():
        numeric = np.zeros_like(p)
        for index in np.ndindex(p.shape):
            saved = p[index]
            p[index] = saved + eps
            up, _ = net.loss_and_grads(x, y)
            p[index] = saved - eps
            down, _ = net.loss_and_grads(x, y)
            p[index] = saved
            numeric[index] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)


def test_parameter_names_and_shapes_are_pytorchs():
    for cell in ("rnn", "lstm", "gru"):
        options = RecurrentConfig(hidden_size=4, num_layers=2, skip="none")
        net = RecurrentNet(NetShape(cell, 3), options)
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        shapes = parameter_shapes(NumpyNetConfig(cell, 3, 4, 2))
        assert list(shapes.items()) == list(expected.items())
    assert parameter_shapes(NumpyNetConfig("lstm", 9, 32))["rnn.weight_ih_l0"] == (128, 9)


def test_initialisation_follows_pytorchs_law_and_seed():
    config = NumpyNetConfig("lstm", input_size=3, hidden_size=16)
    a = NumpyRecurrentNet.initialized(config, np.random.default_rng(3))
    b = NumpyRecurrentNet.initialized(config, np.random.default_rng(3))
    for name, p in a.params.items():
        assert p.dtype == np.float64
        assert np.array_equal(p, b.params[name])
        assert np.abs(p).max() <= 1 / 4  # 1 / sqrt(hidden)
    assert np.abs(a.params["rnn.weight_hh_l0"]).max() > 0.24


def test_mismatched_parameters_are_refused():
    config = NumpyNetConfig("gru", input_size=3, hidden_size=4)
    params = {name: np.zeros(shape) for name, shape in parameter_shapes(config).items()}
    params["rnn.weight_hh_l0"] = np.zeros((12, 5))
    with pytest.raises(SeqcastError, match=r"gru network parameters do not match its config"):
        NumpyRecurrentNet(config, params)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_saturated_gates_stay_finite_without_overflow(cell):
    """Inputs of 1e6 drive every gate to 0 or 1: no overflow, and PyTorch's outputs."""
    layer = _torch_layer(cell, "tanh", 3, 4, seed=0)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)) * 1e6
    with np.errstate(all="raise"):
        out, _ = numpy_cells.forward(cell, _weights(layer), x)
    expected = layer(torch.tensor(x))[0].detach().numpy()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
