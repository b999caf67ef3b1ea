"""Recurrent forecasters in PyTorch: one module covers the vanilla RNN, the LSTM and the GRU.

Saved as a JSON config that rebuilds the module plus a state dict of plain tensors, which
is loaded with `weights_only=True`: a file carrying any other pickled object is refused.

PyTorch is imported when a network is built or loaded, not with this module: reading
params.yaml, which declares these models, does not pay for loading it.
"""

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from seqcast.errors import SeqcastError
from seqcast.models.anchoring import anchor, anchor_windows, anchored_columns
from seqcast.models.base import Forecaster, History
from seqcast.models.catalog import register, retrain
from seqcast.models.recurrent_config import NetShape, RecurrentConfig, read_net, saved_net
from seqcast.models.train_config import TrainConfig
from seqcast.prep.windows import Windows
from seqcast.unreadable import unreadable

if TYPE_CHECKING:
    from seqcast.models.recurrent_net import RecurrentNet

WEIGHTS_FILE = "weights.pt"


def _unpickling_reason(exc: Exception) -> str:
    """The sentence of torch's weights_only error that names what was refused.

    The rest of the message suggests retrying with weights_only=False, which is exactly
    what must not be done with a file that failed this check.
    """
    paragraphs = [p.strip() for p in str(exc).split("\n\n") if p.strip()]
    named = [p for p in paragraphs if "GLOBAL" in p or "Unsupported" in p]
    return (named or paragraphs or ["unreadable"])[0].rstrip(".")


class RecurrentForecaster(Forecaster):
    """A `RecurrentNet` of one cell type; each cell is a model of its own below."""

    cell: ClassVar[str]  # rnn | lstm | gru
    Config = RecurrentConfig
    multi_output = True
    trained_by_epochs = True
    torch_module = True

    def __init__(self, options: RecurrentConfig, train: TrainConfig | None = None) -> None:
        self.options = options
        self.train_params = train or TrainConfig()
        self.net: RecurrentNet | None = None  # built by fit, from the data's shapes
        self.anchored: tuple[int, ...] = ()  # input columns read relative to the last day

    @classmethod
    def build(cls, config: RecurrentConfig, train: TrainConfig) -> "RecurrentForecaster":
        return cls(options=config, train=train)

    def _build(self, input_size: int, window: int, outputs: int) -> "RecurrentNet":
        from seqcast.models.recurrent_net import RecurrentNet

        return RecurrentNet(NetShape(self.cell, input_size, outputs, window), self.options)

    def fit(self, train: Windows, val: Windows) -> History:
        import torch

        from seqcast.models.training import train_network

        torch.manual_seed(self.train_params.seed)
        outputs = train.y.shape[1] if train.y.ndim == 2 else 1
        self.net = self._build(train.x.shape[-1], train.x.shape[1], outputs)
        self.anchored = anchored_columns(train, self.options.inputs)
        train, val = anchor_windows(train, self.anchored), anchor_windows(val, self.anchored)
        return train_network(self.net, train, val, self.train_params, label=self.cell)

    def net_inputs(self, x: np.ndarray) -> np.ndarray:
        """What the network reads for scaled windows `x`: anchored as in training."""
        return anchor(x, self.anchored)

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        from seqcast.models.runtime import float32_tensor

        self.net.eval()
        x = float32_tensor(self.net_inputs(x), next(self.net.parameters()).device)
        with torch.no_grad():
            return self.net(x).cpu().double().numpy()  # x: (n, window, features)

    def learned_parameters(self) -> dict[str, np.ndarray]:
        return {name: t.detach().cpu().numpy() for name, t in self.net.state_dict().items()}

    def recurrent_layers(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        shape, options = self.net.shape, self.net.options
        layers = {
            "cell": shape.cell,
            "input_size": shape.input_size,
            "hidden_size": options.hidden_size,
            "num_layers": options.num_layers,
            "nonlinearity": options.nonlinearity,
        }
        learned = self.learned_parameters().items()
        # a skip connection has no gates: left out
        return layers, {k: v.astype(np.float64) for k, v in learned if not k.startswith("skip.")}

    def config(self) -> dict[str, Any]:
        return {"net": saved_net(self.net.shape, self.net.options), "anchored": list(self.anchored)}

    def _save_state(self, directory: Path) -> None:
        import torch

        state = self.net.state_dict()
        # CPU tensors, so that a model trained on a GPU loads on any machine; replaced in
        # place so that the state dict keeps its version metadata.
        for name, tensor in state.items():
            state[name] = tensor.cpu()
        torch.save(state, directory / WEIGHTS_FILE)

    @classmethod
    def _load(cls, config: dict[str, Any], directory: Path) -> "RecurrentForecaster":
        import torch

        from seqcast.models.recurrent_net import RecurrentNet

        shape, options = read_net(config["net"])
        if shape.cell != cls.cell:
            raise SeqcastError(
                f"{directory / 'config.json'}: a {shape.cell} network saved as model "
                f"{cls.name!r}; retrain the model"
            )
        model = cls(options=options)
        model.net = RecurrentNet(shape, options)
        model.anchored = tuple(config.get("anchored", ()))
        path = directory / WEIGHTS_FILE
        try:
            state = torch.load(path, weights_only=True, map_location="cpu")
        except pickle.UnpicklingError as exc:
            raise SeqcastError(
                f"{path}: refused to load, not a plain state dict of tensors: "
                f"{_unpickling_reason(exc)}; retrain the model rather than trusting this file"
            ) from None
        # What torch.load raises for a truncated, emptied or garbled file; only the load
        # is guarded, so that a bug elsewhere still shows its traceback.
        except (OSError, EOFError, RuntimeError, KeyError, ValueError) as exc:
            raise unreadable(path, exc, retrain(directory)) from None
        model.net.load_state_dict(state)
        return model


@register
class RNNForecaster(RecurrentForecaster):
    name = "rnn"
    cell = "rnn"


@register
class LSTMForecaster(RecurrentForecaster):
    name = "lstm"
    cell = "lstm"


@register
class GRUForecaster(RecurrentForecaster):
    name = "gru"
    cell = "gru"
