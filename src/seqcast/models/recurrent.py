"""Recurrent forecasters in PyTorch: one module covers the vanilla RNN, the LSTM and the GRU.

Saved as a JSON config that rebuilds the module plus a state dict of plain tensors, which
is loaded with `weights_only=True`: a file carrying any other pickled object is refused.

PyTorch is imported when a network is built or loaded, not with this module: reading
params.yaml, which declares these models, does not pay for loading it.
"""

import pickle
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from seqcast.config import PositiveInt, Section
from seqcast.errors import SeqcastError
from seqcast.models.anchoring import anchor, anchor_windows, anchored_columns
from seqcast.models.base import Forecaster, History
from seqcast.models.catalog import register, retrain
from seqcast.models.train_config import TrainConfig, TrainOverrides
from seqcast.prep.windows import Windows
from seqcast.unreadable import unreadable

if TYPE_CHECKING:
    from seqcast.models.recurrent_net import RecurrentNet

WEIGHTS_FILE = "weights.pt"


class RecurrentConfig(Section):
    """models.rnn, models.lstm, models.gru."""

    hidden_size: PositiveInt = 32
    num_layers: PositiveInt = 1
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    nonlinearity: Literal["tanh", "relu"] = "tanh"
    # relative: price columns minus their value on the window's last day, under a change
    # target (seqcast.models.anchoring); absolute: the scaled values as they are
    inputs: Literal["relative", "absolute"] = "relative"
    # linear: add a linear map of the whole window to the output (seqcast.models.recurrent_net)
    skip: Literal["none", "linear"] = "linear"
    train: TrainOverrides = TrainOverrides()


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
        from seqcast.models.recurrent_net import NetConfig, RecurrentNet

        architecture = self.options.model_dump(exclude={"train", "inputs", "skip"})
        config = NetConfig(
            cell=self.cell,
            input_size=input_size,
            outputs=outputs,
            skip=self.options.skip == "linear",
            window=window,
            **architecture,
        )
        return RecurrentNet(config)

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
        c = self.net.config
        shape = {
            "cell": c.cell,
            "input_size": c.input_size,
            "hidden_size": c.hidden_size,
            "num_layers": c.num_layers,
            "nonlinearity": c.nonlinearity,
        }
        learned = self.learned_parameters().items()
        # a skip connection has no gates: left out
        return shape, {k: v.astype(np.float64) for k, v in learned if not k.startswith("skip.")}

    def config(self) -> dict[str, Any]:
        return {"net": asdict(self.net.config), "anchored": list(self.anchored)}

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

        from seqcast.models.recurrent_net import NetConfig, RecurrentNet

        net_config = NetConfig(**config["net"])
        if net_config.cell != cls.cell:
            raise SeqcastError(
                f"{directory / 'config.json'}: a {net_config.cell} network saved as model "
                f"{cls.name!r}; retrain the model"
            )
        options = RecurrentConfig(
            hidden_size=net_config.hidden_size,
            num_layers=net_config.num_layers,
            dropout=net_config.dropout,
            nonlinearity=net_config.nonlinearity,
            skip="linear" if net_config.skip else "none",
        )
        model = cls(options=options)
        model.net = RecurrentNet(net_config)
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
