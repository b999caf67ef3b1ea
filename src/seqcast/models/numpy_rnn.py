"""From-scratch NumPy recurrent forecasters: a stack of RNN / LSTM / GRU layers and a head.

The teaching and verification twin of `recurrent.RecurrentNet`: the same architecture
(layers read at the last time step, then a linear head), the same parameter names and
shapes (`rnn.weight_ih_l0`, ..., `head.weight`, `head.bias`), the same initialisation
law, and gradients by backpropagation through time written out by hand in
`numpy_cells`. The test suite copies weights between the two and checks that outputs
and gradients agree with PyTorch autograd.

Saved as JSON config plus an `.npz` of plain arrays loaded with `allow_pickle=False`.
"""

import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from seqcast.config import PositiveInt, Section
from seqcast.errors import SeqcastError
from seqcast.models import numpy_cells
from seqcast.models.anchoring import anchor, anchor_windows, anchored_columns
from seqcast.models.base import Forecaster, History
from seqcast.models.catalog import register, retrain
from seqcast.models.numpy_cells import GATES, LayerCache, LayerWeights
from seqcast.models.numpy_training import train_numpy_network
from seqcast.models.train_config import TrainConfig, TrainOverrides
from seqcast.prep.windows import Windows
from seqcast.unreadable import unreadable

WEIGHTS_FILE = "weights.npz"
PREDICT_BATCH = 1024  # windows per forward pass when predicting; bounds the cache's memory


class NumpyGatedConfig(Section):
    """models.numpy_lstm and models.numpy_gru (no dropout)."""

    hidden_size: PositiveInt = 32
    num_layers: PositiveInt = 1
    inputs: Literal["relative", "absolute"] = "relative"  # as for the PyTorch networks
    train: TrainOverrides = TrainOverrides()


class NumpyRNNConfig(NumpyGatedConfig):
    """models.numpy_rnn: the gated networks' keys, and the activation."""

    nonlinearity: Literal["tanh", "relu"] = "tanh"


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


class NumpyForecaster(Forecaster):
    """A `NumpyRecurrentNet` trained with `numpy_training`: the pipeline's numpy_* models."""

    cell: ClassVar[str]  # rnn | lstm | gru
    Config = NumpyGatedConfig
    trained_by_epochs = True

    def __init__(self, options: NumpyGatedConfig, train: TrainConfig | None = None) -> None:
        self.options = options
        self.train_params = train or TrainConfig()
        self.net: NumpyRecurrentNet | None = None
        self.anchored: tuple[int, ...] = ()  # input columns read relative to the last day

    @classmethod
    def build(cls, config: NumpyGatedConfig, train: TrainConfig) -> "NumpyForecaster":
        return cls(options=config, train=train)

    def fit(self, train: Windows, val: Windows) -> History:
        config = NumpyNetConfig(
            cell=self.cell,
            input_size=train.x.shape[-1],
            **self.options.model_dump(exclude={"train", "inputs"}),
        )
        self.anchored = anchored_columns(train, self.options.inputs)
        train, val = anchor_windows(train, self.anchored), anchor_windows(val, self.anchored)
        init_seed, shuffle_seed = np.random.SeedSequence(self.train_params.seed).spawn(2)
        self.net = NumpyRecurrentNet.initialized(config, np.random.default_rng(init_seed))
        return train_numpy_network(
            self.net,
            train,
            val,
            self.train_params,
            rng=np.random.default_rng(shuffle_seed),
            label=self.name,
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.net is None:
            raise RuntimeError("NumpyForecaster is not fitted; call fit first")
        return self.net.predict(self.net_inputs(np.asarray(x, dtype=np.float64)))

    def net_inputs(self, x: np.ndarray) -> np.ndarray:
        """What the network reads for scaled windows `x`: anchored as in training."""
        return anchor(x, self.anchored)

    def learned_parameters(self) -> dict[str, np.ndarray]:
        return dict(self.net.params)

    def config(self) -> dict[str, Any]:
        return {"net": asdict(self.net.config), "anchored": list(self.anchored)}

    def _save_state(self, directory: Path) -> None:
        with (directory / WEIGHTS_FILE).open("wb") as handle:
            np.savez(handle, **self.net.params)

    @classmethod
    def _load(cls, config: dict[str, Any], directory: Path) -> "NumpyForecaster":
        net_config = NumpyNetConfig(**config["net"])
        path = directory / WEIGHTS_FILE
        try:
            # Plain numeric arrays only: an object array (a pickle inside) is refused.
            with np.load(path, allow_pickle=False) as archive:
                params = {name: archive[name] for name in archive.files}
        except ValueError as exc:
            raise SeqcastError(
                f"{path}: refused to load, not plain numeric arrays: {exc}"
            ) from None
        # What a truncated, emptied or garbled archive raises (zipfile takes a flipped flag
        # bit for a feature it lacks).
        except (OSError, EOFError, KeyError, zipfile.BadZipFile, NotImplementedError) as exc:
            raise unreadable(path, exc, retrain(directory)) from None
        if net_config.cell != cls.cell:
            raise SeqcastError(
                f"{directory / 'config.json'}: a {net_config.cell} network saved as model "
                f"{cls.name!r}; retrain the model"
            )
        options = cls.Config(
            **{k: v for k, v in asdict(net_config).items() if k in cls.Config.model_fields}
        )
        model = cls(options=options)
        model.net = NumpyRecurrentNet(net_config, params)
        model.anchored = tuple(config.get("anchored", ()))
        return model


@register
class NumpyRNNForecaster(NumpyForecaster):
    name = "numpy_rnn"
    cell = "rnn"
    Config = NumpyRNNConfig


@register
class NumpyLSTMForecaster(NumpyForecaster):
    name = "numpy_lstm"
    cell = "lstm"


@register
class NumpyGRUForecaster(NumpyForecaster):
    name = "numpy_gru"
    cell = "gru"
