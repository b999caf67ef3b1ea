"""The PyTorch module of the recurrent forecasters: recurrent layers, then a linear head,
plus, with `skip`, a linear map of the whole input window added to the output.

The skip connection makes the network a linear autoregression plus a recurrent correction:
it starts from what a linear model of the window can learn, and the recurrent layers only
have to learn what that misses. Without it a small network must rediscover a linear filter
through saturating cells, which it does slowly and roughly.
"""

from dataclasses import dataclass

import torch
from torch import nn

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass(frozen=True)
class NetConfig:
    cell: str  # rnn | lstm | gru
    input_size: int
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    nonlinearity: str = "tanh"  # the vanilla RNN's activation; LSTM and GRU ignore it
    outputs: int = 1  # 1: y (n,); k > 1: one output per step of a direct multi-step target
    skip: bool = False  # add a linear map of the flattened window to the output
    window: int = 0  # the window length, which the skip connection reads


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
        if config.skip:
            self.skip = nn.Linear(config.window * config.input_size, config.outputs)
            # Zero at the start: the network starts as its recurrent part alone, and the
            # skip moves away from zero only as far as training asks.
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, window, features)
        outputs, _ = self.rnn(x)  # (batch, window, hidden)
        last = self.dropout(outputs[:, -1])  # (batch, hidden)
        out = self.head(last)  # (batch, outputs)
        if self.config.skip:
            out = out + self.skip(x.flatten(1))  # (batch, window * features) -> outputs
        return out.squeeze(-1) if self.config.outputs == 1 else out  # (batch,) or (batch, k)
