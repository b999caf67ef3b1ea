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
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from seqcast.config import PositiveInt, Section
from seqcast.errors import SeqcastError
from seqcast.models.anchoring import anchor, anchor_windows, anchored_columns
from seqcast.models.base import Forecaster, History
from seqcast.models.catalog import register, retrain
from seqcast.models.numpy_net import NumpyNetConfig, NumpyRecurrentNet
from seqcast.models.numpy_training import train_numpy_network
from seqcast.models.train_config import TrainConfig, TrainOverrides
from seqcast.prep.windows import Windows
from seqcast.unreadable import unreadable

WEIGHTS_FILE = "weights.npz"


class NumpyGatedConfig(Section):
    """models.numpy_lstm and models.numpy_gru (no dropout)."""

    hidden_size: PositiveInt = 32
    num_layers: PositiveInt = 1
    inputs: Literal["relative", "absolute"] = "relative"  # as for the PyTorch networks
    train: TrainOverrides = TrainOverrides()


class NumpyRNNConfig(NumpyGatedConfig):
    """models.numpy_rnn: the gated networks' keys, and the activation."""

    nonlinearity: Literal["tanh", "relu"] = "tanh"


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

    def recurrent_layers(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return asdict(self.net.config), dict(self.net.params)

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
