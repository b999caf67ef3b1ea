"""Recurrent forecasters in PyTorch: one module covers the vanilla RNN, the LSTM and the GRU."""

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seqcast.models.base import Forecaster, History
from seqcast.models.training import train_network
from seqcast.params import RecurrentParams, TrainParams
from seqcast.windows import Windows

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
WEIGHTS_FILE = "weights.pt"


@dataclass(frozen=True)
class NetConfig:
    cell: str  # rnn | lstm | gru
    input_size: int
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    nonlinearity: str = "tanh"  # the vanilla RNN's activation; LSTM and GRU ignore it
    outputs: int = 1  # 1: y (n,); k > 1: one output per step of a direct multi-step target


class RecurrentNet(nn.Module):
    """A stack of recurrent layers read at the last time step, then a linear head."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        extra = {"nonlinearity": config.nonlinearity} if config.cell == "rnn" else {}
        self.rnn = CELLS[config.cell](
            input_size=config.input_size,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            # PyTorch applies this dropout between stacked layers only.
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
            **extra,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, window, features)
        outputs, _ = self.rnn(x)  # (batch, window, hidden)
        last = self.dropout(outputs[:, -1])  # (batch, hidden)
        out = self.head(last)  # (batch, outputs)
        return out.squeeze(-1) if self.config.outputs == 1 else out  # (batch,) or (batch, k)


class RecurrentForecaster(Forecaster):
    kind = "recurrent"
    multi_output = True

    def __init__(
        self, cell: str, options: RecurrentParams, train: TrainParams | None = None
    ) -> None:
        self.cell = cell
        self.options = options
        self.train_params = train or TrainParams()
        self.net: RecurrentNet | None = None

    def _build(self, input_size: int, outputs: int) -> RecurrentNet:
        config = NetConfig(
            cell=self.cell, input_size=input_size, outputs=outputs, **self.options.model_dump()
        )
        return RecurrentNet(config)

    def fit(self, train: Windows, val: Windows) -> History:
        torch.manual_seed(self.train_params.seed)
        outputs = train.y.shape[1] if train.y.ndim == 2 else 1
        self.net = self._build(input_size=train.x.shape[-1], outputs=outputs)
        return train_network(self.net, train, val, self.train_params, label=self.cell)

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> np.ndarray:
        self.net.eval()
        return self.net(torch.as_tensor(x, dtype=torch.float32)).double().numpy()

    def config(self) -> dict[str, Any]:
        return {"net": asdict(self.net.config)}

    def _save_state(self, directory: Path) -> None:
        torch.save(self.net.state_dict(), directory / WEIGHTS_FILE)

    @classmethod
    def _load(cls, config: dict[str, Any], directory: Path) -> "RecurrentForecaster":
        net_config = NetConfig(**config["net"])
        options = RecurrentParams(
            hidden_size=net_config.hidden_size,
            num_layers=net_config.num_layers,
            dropout=net_config.dropout,
            nonlinearity=net_config.nonlinearity,
        )
        model = cls(cell=net_config.cell, options=options)
        model.net = RecurrentNet(net_config)
        state = torch.load(directory / WEIGHTS_FILE, weights_only=True)
        model.net.load_state_dict(state)
        return model
