"""The training loop for the NumPy networks, by the same rules as the PyTorch loop.

Shuffled mini-batches, the mean squared error, gradients by backpropagation through
time, joint gradient-norm clipping, Adam or SGD with momentum (and weight decay), an
optional plateau schedule and early stopping on the validation loss, restoring the best
epoch's weights. Deterministic for a seeded generator; BLAS threads are limited as
`train.threads` says, like PyTorch's.
"""

from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from seqcast.models.base import History
from seqcast.models.early_stopping import EarlyStopping
from seqcast.models.numpy_optim import SGD, Adam, ReduceOnPlateau, clip_grad_norm
from seqcast.models.train_config import TrainConfig
from seqcast.prep.windows import Windows
from seqcast.threads import resolve_threads

if TYPE_CHECKING:  # numpy_rnn's forecaster calls this loop
    from seqcast.models.numpy_net import NumpyRecurrentNet


def make_optimizer(net: "NumpyRecurrentNet", params: TrainConfig) -> Adam | SGD:
    if params.optimizer == "sgd":
        return SGD(
            net.params,
            lr=params.learning_rate,
            momentum=params.momentum,
            weight_decay=params.weight_decay,
        )
    return Adam(net.params, lr=params.learning_rate, weight_decay=params.weight_decay)


def mean_loss(net: "NumpyRecurrentNet", x: np.ndarray, y: np.ndarray) -> float:
    error = net.predict(x) - y
    return float(np.mean(error * error))


def train_numpy_network(
    net: "NumpyRecurrentNet",
    train: Windows,
    val: Windows,
    params: TrainConfig,
    rng: np.random.Generator,
    label: str,
) -> History:
    """Train `net` in place and leave it holding the weights of its best validation epoch
    (with train.patience null: of its last epoch; `val` may then hold no windows)."""
    dtype = net.params["head.bias"].dtype
    x_train, y_train = train.x.astype(dtype), train.y.astype(dtype)
    x_val, y_val = val.x.astype(dtype), val.y.astype(dtype)
    optimizer = make_optimizer(net, params)
    schedule = (
        ReduceOnPlateau(optimizer, params.lr_factor, params.lr_patience)
        if params.lr_schedule == "reduce_on_plateau"
        else None
    )
    stopping = EarlyStopping(label, params.max_epochs, params.patience)
    best = {name: p.copy() for name, p in net.params.items()}
    # A diverging run overflows; it is stopped at the end of the epoch with one clear
    # message (non-finite loss), not a warning per overflowing product.
    with (
        threadpool_limits(limits=resolve_threads(params)),
        np.errstate(over="ignore", invalid="ignore"),
    ):
        for epoch in stopping:
            total = 0.0
            order = rng.permutation(len(x_train))
            for start in range(0, len(order), params.batch_size):
                batch = order[start : start + params.batch_size]
                loss, grads = net.loss_and_grads(x_train[batch], y_train[batch])
                if params.grad_clip is not None:
                    clip_grad_norm(grads, params.grad_clip)
                optimizer.step(grads)
                total += loss * len(batch)
            train_loss = total / len(x_train)
            val_loss = mean_loss(net, x_val, y_val) if len(x_val) else None
            if stopping.end_epoch(epoch, train_loss, val_loss):
                best = {name: p.copy() for name, p in net.params.items()}
            if schedule is not None:
                schedule.step(val_loss)
    for name, p in net.params.items():
        p[...] = best[name]
    return stopping.finish()
