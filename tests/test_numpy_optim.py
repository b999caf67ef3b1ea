"""NumPy optimisers, clipping and plateau schedule against their PyTorch counterparts."""

import numpy as np
import pytest
import torch
from torch import nn

from seqcast.models.numpy_net import NumpyNetConfig, NumpyRecurrentNet
from seqcast.models.numpy_optim import SGD, Adam, ReduceOnPlateau, clip_grad_norm
from seqcast.models.recurrent_config import NetShape, RecurrentConfig
from seqcast.models.recurrent_net import RecurrentNet


def _gradient_sequence(seed, steps, shapes):
    rng = np.random.default_rng(seed)
    return [{name: rng.normal(size=shape) for name, shape in shapes.items()} for _ in range(steps)]


@pytest.mark.parametrize(
    ("make_numpy", "make_torch"),
    [
        (
            lambda p: Adam(p, lr=0.01),
            lambda p: torch.optim.Adam(p, lr=0.01),
        ),
        (
            lambda p: Adam(p, lr=0.003, weight_decay=0.1),
            lambda p: torch.optim.Adam(p, lr=0.003, weight_decay=0.1),
        ),
        (
            lambda p: SGD(p, lr=0.05),
            lambda p: torch.optim.SGD(p, lr=0.05),
        ),
        (
            lambda p: SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
            lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
        ),
    ],
    ids=["adam", "adam-weight-decay", "sgd", "sgd-momentum-weight-decay"],
)
def test_optimiser_steps_match_torch(make_numpy, make_torch):
    shapes = {"w": (3, 4), "b": (3,)}
    rng = np.random.default_rng(0)
    start = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    params = {name: value.copy() for name, value in start.items()}
    tensors = {name: torch.tensor(value, requires_grad=True) for name, value in start.items()}
    optimizer, reference = make_numpy(params), make_torch(list(tensors.values()))
    for grads in _gradient_sequence(1, 25, shapes):
        optimizer.step({name: g.copy() for name, g in grads.items()})
        for name, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[name])
        reference.step()
    for name, tensor in tensors.items():
        assert not np.allclose(params[name], start[name]), "setup: the parameters must move"
        np.testing.assert_allclose(params[name], tensor.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("max_norm", [0.5, 100.0], ids=["clips", "leaves-alone"])
def test_clip_grad_norm_matches_torch(max_norm):
    grads = _gradient_sequence(2, 1, {"a": (4, 3), "b": (5,)})[0]
    tensors = [torch.zeros(g.shape, dtype=torch.float64) for g in grads.values()]
    for tensor, g in zip(tensors, grads.values(), strict=True):
        tensor.grad = torch.tensor(g)
    expected_norm = nn.utils.clip_grad_norm_(tensors, max_norm).item()
    original = {name: g.copy() for name, g in grads.items()}

    norm = clip_grad_norm(grads, max_norm)

    assert norm == pytest.approx(expected_norm, rel=1e-14)
    for tensor, (name, g) in zip(tensors, grads.items(), strict=True):
        np.testing.assert_allclose(g, tensor.grad.numpy(), rtol=1e-14)
        if max_norm > norm:
            assert np.array_equal(g, original[name])
    joint = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    assert joint == pytest.approx(min(max_norm, norm), rel=1e-5)


def test_plateau_schedule_follows_torch_on_a_loss_sequence():
    losses = [1.0, 0.9, 0.9, 0.95, 0.9, 0.89999, 0.91, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    optimizer = SGD({"w": np.zeros(1)}, lr=0.1)
    schedule = ReduceOnPlateau(optimizer, factor=0.5, patience=2)
    tensor = torch.zeros(1, requires_grad=True)
    reference_optimizer = torch.optim.SGD([tensor], lr=0.1)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(
        reference_optimizer, mode="min", factor=0.5, patience=2
    )
    rates, expected = [], []
    for loss in losses:
        schedule.step(loss)
        reference.step(loss)
        rates.append(optimizer.lr)
        expected.append(reference_optimizer.param_groups[0]["lr"])
    assert rates == expected
    # Halved on the third epoch in a row without improvement (patience 2): at the second
    # 0.9 (epoch 5), at the third 0.6 (epoch 11) and three epochs later (epoch 14);
    # 0.89999 does not improve on 0.9 by the relative threshold of 1e-4.
    assert rates == [0.1] * 4 + [0.05] * 6 + [0.025] * 3 + [0.0125] * 2


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_training_steps_match_a_torch_loop_step_for_step(cell):
    """Ten Adam steps with clipping on the same batches: NumPy and PyTorch stay together."""
    torch.manual_seed(0)
    net = RecurrentNet(NetShape(cell, 3), RecurrentConfig(hidden_size=5, skip="none")).double()
    start = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    numpy_net = NumpyRecurrentNet(
        NumpyNetConfig(cell, 3, 5), {k: v.copy() for k, v in start.items()}
    )
    torch_optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    numpy_optimizer = Adam(numpy_net.params, lr=0.01)
    rng = np.random.default_rng(1)
    for _ in range(10):
        x, y = rng.normal(size=(8, 7, 3)), rng.normal(size=8) * 3
        torch_optimizer.zero_grad()
        nn.functional.mse_loss(net(torch.tensor(x)), torch.tensor(y)).backward()
        nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        torch_optimizer.step()
        _, grads = numpy_net.loss_and_grads(x, y)
        clip_grad_norm(grads, 0.5)
        numpy_optimizer.step(grads)
    for name, tensor in net.state_dict().items():
        assert not np.allclose(numpy_net.params[name], start[name]), name
        np.testing.assert_allclose(
            numpy_net.params[name], tensor.numpy(), rtol=1e-9, atol=1e-12, err_msg=name
        )
