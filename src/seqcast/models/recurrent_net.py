"""The PyTorch module of the recurrent forecasters: recurrent layers, then a linear head,
plus, with `skip`, a linear map of the whole input window added to the output.

The skip connection makes the network a linear autoregression plus a recurrent correction:
it starts from what a linear model of the window can learn, and the recurrent layers only
have to learn what that misses. Without it a small network must rediscover a linear filter
through saturating cells, which it does slowly and roughly.
"""

import torch
from torch import nn

from seqcast.models.recurrent_config import NetShape, RecurrentConfig

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    """A stack of recurrent layers read at the last time step, then a linear head."""

    def __init__(self, shape: NetShape, options: RecurrentConfig | None = None) -> None:
        super().__init__()
        options = options or RecurrentConfig()
        self.shape, self.options = shape, options
        extra = {"nonlinearity": options.nonlinearity} if shape.cell == "rnn" else {}
        self.rnn = CELLS[shape.cell](
            input_size=shape.input_size,
            hidden_size=options.hidden_size,
            num_layers=options.num_layers,
            # PyTorch applies this dropout between stacked layers only.
            dropout=options.dropout if options.num_layers > 1 else 0.0,
            batch_first=True,
            **extra,
        )
        self.dropout = nn.Dropout(options.dropout)
        self.head = nn.Linear(options.hidden_size, shape.outputs)
        if options.skip == "linear":
            self.skip = nn.Linear(shape.window * shape.input_size, shape.outputs)
            # Zero at the start: the network starts as its recurrent part alone, and the
            # skip moves away from zero only as far as training asks.
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, window, features)
        outputs, _ = self.rnn(x)  # (batch, window, hidden)
        last = self.dropout(outputs[:, -1])  # (batch, hidden)
        out = self.head(last)  # (batch, outputs)
        if self.options.skip == "linear":
            out = out + self.skip(x.flatten(1))  # (batch, window * features) -> outputs
        return out.squeeze(-1) if self.shape.outputs == 1 else out  # (batch,) or (batch, k)
