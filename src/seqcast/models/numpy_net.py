"""The NumPy recurrent network: a stack of RNN / LSTM / GRU layers read at the last time
step, then a linear head, in PyTorch's parameter layout. The NumPy forecasters train it
(seqcast.models.numpy_rnn); the inspection of any recurrent model steps through it with
that model's weights (seqcast.models.inspection)."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqcast.errors import SeqcastError
from seqcast.models import numpy_cells
from seqcast.models.numpy_cells import GATES, LayerCache, LayerWeights

PREDICT_BATCH = 1024  # windows per forward pass when predicting; bounds the cache's memory


@dataclass(frozen=True)
class NumpyNetConfig:
    cell: str  # rnn | lstm | gru
    input_size: int
    hidden_size: int = 32
    num_layers: int = 1
    nonlinearity: str = "tanh"  # the vanilla RNN's activation; LSTM and GRU ignore it


def parameter_shapes(config: NumpyNetConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter, in the order of PyTorch's state dict."""
    rows = len(GATES[config.cell]) * config.hidden_size
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(config.num_layers):
        inputs = config.input_size if layer == 0 else config.hidden_size
        shapes[f"rnn.weight_ih_l{layer}"] = (rows, inputs)
        shapes[f"rnn.weight_hh_l{layer}"] = (rows, config.hidden_size)
        shapes[f"rnn.bias_ih_l{layer}"] = (rows,)
        shapes[f"rnn.bias_hh_l{layer}"] = (rows,)
    shapes["head.weight"] = (1, config.hidden_size)
    shapes["head.bias"] = (1,)
    return shapes


class NumpyRecurrentNet:
    """Forward pass, loss and gradients of the stacked network on NumPy arrays."""

    def __init__(self, config: NumpyNetConfig, params: dict[str, np.ndarray]) -> None:
        expected = parameter_shapes(config)
        actual = {name: tuple(np.shape(value)) for name, value in params.items()}
        if actual != expected:
            raise SeqcastError(
                f"{config.cell} network parameters do not match its config: expected "
                f"{expected}, got {actual}"
            )
        self.config = config
        self.params = {name: np.asarray(params[name]) for name in expected}

    @classmethod
    def initialized(
        cls, config: NumpyNetConfig, rng: np.random.Generator, dtype: Any = np.float64
    ) -> "NumpyRecurrentNet":
        # PyTorch's default law for both nn.RNNBase and nn.Linear(hidden, 1) here:
        # uniform on (-1/sqrt(hidden), 1/sqrt(hidden)).
        bound = 1.0 / np.sqrt(config.hidden_size)
        params = {
            name: rng.uniform(-bound, bound, size=shape).astype(dtype)
            for name, shape in parameter_shapes(config).items()
        }
        return cls(config, params)

    def _layer(self, layer: int) -> LayerWeights:
        p = self.params
        return LayerWeights(
            weight_ih=p[f"rnn.weight_ih_l{layer}"],
            weight_hh=p[f"rnn.weight_hh_l{layer}"],
            bias_ih=p[f"rnn.bias_ih_l{layer}"],
            bias_hh=p[f"rnn.bias_hh_l{layer}"],
        )

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[LayerCache]]:
        """(batch, window, features) -> predictions (batch,), and each layer's cache."""
        caches = []
        out = x
        for layer in range(self.config.num_layers):
            out, cache = numpy_cells.forward(
                self.config.cell, self._layer(layer), out, self.config.nonlinearity
            )  # (batch, window, hidden)
            caches.append(cache)
        last = out[:, -1]  # (batch, hidden)
        return (last @ self.params["head.weight"].T + self.params["head.bias"])[:, 0], caches

    def backward(
        self, d_pred: np.ndarray, caches: list[LayerCache]
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Gradients of the loss w.r.t. every parameter and w.r.t. the input windows.

        `d_pred` (batch,) is the loss gradient w.r.t. the predictions of `forward`.
        """
        top = caches[-1].h  # (window + 1, batch, hidden), time-major
        grads = {
            "head.weight": d_pred[None, :] @ top[-1],  # (1, hidden)
            "head.bias": np.array([d_pred.sum()]),
        }
        d_out = np.zeros_like(top[1:].transpose(1, 0, 2))  # (batch, window, hidden)
        d_out[:, -1] = d_pred[:, None] @ self.params["head.weight"]
        for layer in reversed(range(self.config.num_layers)):
            d_out, layer_grads = numpy_cells.backward(
                self.config.cell,
                self._layer(layer),
                caches[layer],
                d_out,
                self.config.nonlinearity,
            )
            for name, grad in vars(layer_grads).items():
                grads[f"rnn.{name}_l{layer}"] = grad
        return {name: grads[name] for name in self.params}, d_out

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean squared error on (x, y) and its gradient w.r.t. every parameter."""
        pred, caches = self.forward(x)
        error = pred - y  # (batch,)
        grads, _ = self.backward(2.0 * error / len(y), caches)
        return float(np.mean(error * error)), grads

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [self.forward(x[s : s + PREDICT_BATCH])[0] for s in range(0, len(x), PREDICT_BATCH)]
        )

    def gate_activations(self, window: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per layer, each gate's activations (window, hidden) over one input window."""
        _, caches = self.forward(window[None])
        return [
            {
                gate: values[0]
                for gate, values in numpy_cells.gate_activations(self.config.cell, c).items()
            }
            for c in caches
        ]
