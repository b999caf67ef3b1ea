"""The config of the PyTorch recurrent forecasters: their params block models.rnn / lstm /
gru, and the shapes a network learns in fit from the data (`NetShape`). Light: the params
read it without loading PyTorch."""

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from seqcast.config import PositiveInt, Section
from seqcast.models.train_config import TrainOverrides


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


@dataclass(frozen=True)
class NetShape:
    """What a network's size takes from the data, learnt in fit: its cell, the input
    columns, the outputs (1, or the steps of a direct multi-step target) and the window
    length (which the skip connection reads)."""

    cell: str  # rnn | lstm | gru
    input_size: int
    outputs: int = 1
    window: int = 0


def saved_net(shape: NetShape, options: RecurrentConfig) -> dict[str, Any]:
    """The network as config.json saves it."""
    return {
        "cell": shape.cell,
        "input_size": shape.input_size,
        "hidden_size": options.hidden_size,
        "num_layers": options.num_layers,
        "dropout": options.dropout,
        "nonlinearity": options.nonlinearity,
        "outputs": shape.outputs,
        "skip": options.skip == "linear",
        "window": shape.window,
    }


def read_net(saved: dict[str, Any]) -> tuple[NetShape, RecurrentConfig]:
    """`saved_net` read back."""
    shape = NetShape(saved["cell"], saved["input_size"], saved["outputs"], saved["window"])
    options = RecurrentConfig(
        hidden_size=saved["hidden_size"],
        num_layers=saved["num_layers"],
        dropout=saved["dropout"],
        nonlinearity=saved["nonlinearity"],
        skip="linear" if saved["skip"] else "none",
    )
    return shape, options
