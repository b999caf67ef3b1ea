"""Optimisers, gradient clipping and a plateau schedule for the NumPy networks.

Each follows its PyTorch counterpart's arithmetic (`torch.optim.Adam`, `torch.optim.SGD`,
`nn.utils.clip_grad_norm_`, `ReduceLROnPlateau` in "min" mode), so that the NumPy and
PyTorch models train by the same rules; the tests step both side by side.
Parameters are updated in place.
"""

import numpy as np

Arrays = dict[str, np.ndarray]


def clip_grad_norm(grads: Arrays, max_norm: float) -> float:
    """Scale all gradients together so that their joint L2 norm is at most `max_norm`.

    Returns the norm before clipping, as `clip_grad_norm_` does.
    """
    total = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads.values():
            g *= coef
    return total


class Adam:
    def __init__(
        self,
        params: Arrays,
        lr: float,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params, self.lr, self.weight_decay = params, lr, weight_decay
        self.beta1, self.beta2, self.eps = betas[0], betas[1], eps
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.steps = 0

    def step(self, grads: Arrays) -> None:
        self.steps += 1
        correction1 = 1.0 - self.beta1**self.steps
        correction2 = 1.0 - self.beta2**self.steps
        for name, p in self.params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * p  # L2 penalty in the gradient, as torch's Adam
            m, v = self.m[name], self.v[name]
            m += (1.0 - self.beta1) * (g - m)  # torch's lerp form of beta1 * m + (1 - beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            denom = np.sqrt(v) / np.sqrt(correction2) + self.eps
            p -= (self.lr / correction1) * m / denom


class SGD:
    """Stochastic gradient descent with (PyTorch-style, undampened) momentum."""

    def __init__(
        self, params: Arrays, lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        self.params, self.lr = params, lr
        self.momentum, self.weight_decay = momentum, weight_decay
        self.buffers: Arrays = {}

    def step(self, grads: Arrays) -> None:
        for name, p in self.params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * p
            if self.momentum:
                if name in self.buffers:
                    buffer = self.buffers[name]
                    buffer *= self.momentum
                    buffer += g
                else:
                    buffer = self.buffers[name] = np.array(g, copy=True)
                g = buffer
            p -= self.lr * g


class ReduceOnPlateau:
    """Multiply the learning rate by `factor` after `patience` epochs without improvement.

    An epoch improves when its loss is below best * (1 - 1e-4), PyTorch's default
    relative threshold.
    """

    THRESHOLD = 1e-4
    MIN_CHANGE = 1e-8  # smaller reductions are skipped, as in PyTorch

    def __init__(self, optimizer: Adam | SGD, factor: float, patience: int) -> None:
        self.optimizer, self.factor, self.patience = optimizer, factor, patience
        self.best = np.inf
        self.bad_epochs = 0

    def step(self, loss: float) -> None:
        if loss < self.best * (1.0 - self.THRESHOLD):
            self.best, self.bad_epochs = loss, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            new_lr = self.optimizer.lr * self.factor
            if self.optimizer.lr - new_lr > self.MIN_CHANGE:
                self.optimizer.lr = new_lr
            self.bad_epochs = 0
