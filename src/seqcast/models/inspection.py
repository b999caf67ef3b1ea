"""What a trained model holds: its parameter table, and its gates' activations over a window.

The table lists every learned array by name, shape and count (`rnn.weight_ih_l0`,
`head.bias`, ...), as CSV and markdown. For LSTMs and GRUs, PyTorch's or NumPy's, the
gate activations come from stepping the cell equations of `models.numpy_cells` through
one window with the trained weights (a PyTorch state dict copies across unchanged), so
every gate of every layer is visible, not only the hidden state PyTorch returns.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from seqcast import atomic
from seqcast.models.base import Forecaster
from seqcast.models.numpy_cells import GATE_NAMES
from seqcast.models.numpy_net import NumpyNetConfig, NumpyRecurrentNet
from seqcast.prep.windows import Windows
from seqcast.reporting import figures as plots

GATED_CELLS = ("lstm", "gru")


def parameter_table(model: Forecaster) -> pd.DataFrame:
    """One row per learned array: name, shape, count; in the model's own order."""
    rows = [
        {"name": name, "shape": str(tuple(np.shape(value))), "count": int(np.size(value))}
        for name, value in model.learned_parameters().items()
    ]
    return pd.DataFrame(rows, columns=["name", "shape", "count"])


def parameter_markdown(table: pd.DataFrame, title: str) -> str:
    lines = [f"# {title}: learned parameters", ""]
    if table.empty:
        return "\n".join([*lines, "This model learns no parameters.", ""])
    lines += ["| parameter | shape | count |", "|:---|:---|---:|"]
    lines += [f"| {r.name} | {r.shape} | {r.count:,} |" for r in table.itertuples()]
    lines += [f"| **total** | | **{table['count'].sum():,}** |", ""]
    return "\n".join(lines)


def numpy_twin(model: Forecaster) -> NumpyRecurrentNet | None:
    """The float64 NumPy network that computes what `model`'s recurrent layers and head
    compute, when it is recurrent (a skip connection, which has no gates, is left out)."""
    layers = model.recurrent_layers()
    if layers is None:
        return None
    shape, weights = layers
    return NumpyRecurrentNet(NumpyNetConfig(**shape), weights)


def gate_activations(model: Forecaster, window: np.ndarray) -> list[dict[str, np.ndarray]] | None:
    """Per layer, gate letter -> activations (window, hidden); None unless an LSTM or GRU.

    `window` is one scaled input window (window, features). Dropout is off, as in predict.
    """
    twin = numpy_twin(model)
    if twin is None or twin.config.cell not in GATED_CELLS:
        return None
    window = model.net_inputs(np.asarray(window, dtype=np.float64)[None])[0]
    return twin.gate_activations(window)


def write_artifacts(name: str, model: Forecaster, test: Windows, directory: Path) -> None:
    """parameters.csv and parameters.md, and gates.png for LSTMs and GRUs (last test window)."""
    table = parameter_table(model)
    atomic.write_with(directory / "parameters.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic.write_text(directory / "parameters.md", parameter_markdown(table, name))
    gates = gate_activations(model, test.x[-1])
    if gates is not None:
        end = np.datetime_as_string(test.origin_dates[-1], unit="D")
        plots.gate_figure(
            gates,
            GATE_NAMES,
            f"{name}: gate activations over the last test window (ending {end})",
            directory / "gates.png",
        )
