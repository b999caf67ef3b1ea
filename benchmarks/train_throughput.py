"""Training throughput in windows per second: seqcast's loops against a minimal PyTorch loop.

For each cell (rnn, lstm, gru) it trains, in this one process and on the same windows,
with the same model size, batch size, epochs, seed and threads:

- `seqcast` : `seqcast.models.training.train_network`, the pipeline's PyTorch loop;
- `reference`: the textbook loop written below from torch primitives (shuffled batches,
  MSE, gradient clipping, Adam, and the validation loss once per epoch, which early
  stopping needs and which both loops therefore pay for);
- `numpy`    : `seqcast.models.numpy_training.train_numpy_network`, the from-scratch
  NumPy network (float64), for its ratio to the PyTorch reference of the same cell.

Each loop runs `--repeats` times, interleaved so that load on the machine hits all of
them alike, and the median run counts. Early stopping is disabled (patience above the
epochs), so every loop trains exactly `--epochs` epochs. Throughput is training windows
per second of this process's CPU time (robust to other work on a shared machine; with
one thread it is the wall-clock rate of an idle machine) and, beside it, of wall time,
which is the one to read with `--device cuda`.

    python benchmarks/train_throughput.py                # windows made from params.yaml
    python benchmarks/train_throughput.py --epochs 5 --threads 2 --repeats 5
"""

import argparse
import contextlib
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seqcast import stage
from seqcast.models.numpy_rnn import NumpyNetConfig, NumpyRecurrentNet
from seqcast.models.numpy_training import train_numpy_network
from seqcast.models.recurrent_config import NetShape, RecurrentConfig
from seqcast.models.recurrent_net import RecurrentNet
from seqcast.models.train_config import TrainConfig
from seqcast.models.training import train_network
from seqcast.prep.windows import Windows

CELLS = ("rnn", "lstm", "gru")


def reference_loop(net: nn.Module, train: Windows, val: Windows, params: TrainConfig) -> None:
    torch.set_num_threads(params.threads)
    device = torch.device(params.device)
    net.to(device)
    generator = torch.Generator().manual_seed(params.seed)

    def tensor(values: np.ndarray) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32, device=device)

    x, y, xv, yv = tensor(train.x), tensor(train.y), tensor(val.x), tensor(val.y)
    optimizer = torch.optim.Adam(net.parameters(), lr=params.learning_rate)
    for _ in range(params.max_epochs):
        net.train()
        order = torch.randperm(len(x), generator=generator).to(device)
        for batch in order.split(params.batch_size):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(net(x[batch]), y[batch])
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), params.grad_clip)
            optimizer.step()
        net.eval()
        with torch.no_grad():
            nn.functional.mse_loss(net(xv), yv).item()


def _torch_net(cell: str, input_size: int, hidden: int, seed: int) -> RecurrentNet:
    torch.manual_seed(seed)
    return RecurrentNet(
        NetShape(cell, input_size), RecurrentConfig(hidden_size=hidden, skip="none")
    )


def _runners(
    cell: str, train: Windows, val: Windows, params: TrainConfig, hidden: int
) -> dict[str, Callable[[], None]]:
    features = train.x.shape[-1]

    def seqcast_loop() -> None:
        train_network(_torch_net(cell, features, hidden, params.seed), train, val, params, cell)

    def reference() -> None:
        reference_loop(_torch_net(cell, features, hidden, params.seed), train, val, params)

    def numpy_loop() -> None:
        config = NumpyNetConfig(cell=cell, input_size=features, hidden_size=hidden)
        net = NumpyRecurrentNet.initialized(config, np.random.default_rng(params.seed))
        rng = np.random.default_rng(params.seed + 1)
        train_numpy_network(net, train, val, params, rng=rng, label=f"numpy_{cell}")

    return {"seqcast": seqcast_loop, "reference": reference, "numpy": numpy_loop}


def _seconds(run: Callable[[], None]) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) that `run` takes."""
    with contextlib.redirect_stderr(io.StringIO()):  # the loops' one-line summaries
        cpu, wall = time.process_time(), time.perf_counter()
        run()
        return time.process_time() - cpu, time.perf_counter() - wall


def windows_from_params(path: Path) -> tuple[Windows, Windows]:
    """The train and val windows that `dvc repro` would make from these params, made here
    through the pipeline's own functions (not read from whatever data/windows holds)."""
    from seqcast.data.alignment import join_extra_columns, ticker_rows
    from seqcast.data.sources import load_raw
    from seqcast.params import load_params
    from seqcast.prep.preprocessing import pipeline_preprocessing
    from seqcast.prep.scaling import scale_split_table
    from seqcast.prep.splitting import split_table

    params = load_params(path)
    data, f, s = params.data, params.features, params.split
    raw = load_raw(data.source, data.source_config, data.ticker, data.other_tickers).prices
    features = params.feature_spec.make(ticker_rows(raw, data.ticker))
    features = join_extra_columns(features, raw, f.extra_inputs, f.join).table
    table = split_table(features, s)
    scaled, scaler = scale_split_table(table, params.scale.method)
    _, windows = pipeline_preprocessing(scaled, table[data.target], scaler, *params.prep_sections())
    return windows["train"], windows["val"]


def throughput_table(
    train: Windows,
    val: Windows,
    *,
    cells: list[str],
    repeats: int,
    epochs: int = 5,
    hidden: int = 32,
    batch_size: int = 64,
    threads: int = 1,
    device: str = "cpu",
) -> list[str]:
    """Markdown rows: windows per second of each loop, and its ratio to the reference."""
    params = TrainConfig(
        max_epochs=epochs,
        patience=epochs + 1,
        batch_size=batch_size,
        threads=threads,
        device=device,
    )
    lines = [
        f"{len(train)} training and {len(val)} validation windows of {train.x.shape[1]} steps "
        f"x {train.x.shape[2]} features; hidden {hidden}, batch {batch_size}, "
        f"{epochs} epochs, {threads} thread(s), {device}, median of {repeats}; "
        f"torch {torch.__version__}, numpy {np.__version__}",
        "",
        "| model | loop | windows/s (CPU) | vs reference | windows/s (wall) | vs reference |",
        "|:---|:---|---:|---:|---:|---:|",
    ]
    for cell in cells:
        runners = _runners(cell, train, val, params, hidden)
        warm = params.model_copy(update={"max_epochs": 1})
        for name in ("seqcast", "reference"):  # first-call costs of torch, not of the loop
            _seconds(_runners(cell, train, val, warm, hidden)[name])
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
        for _ in range(repeats):
            for name, run in runners.items():
                runs[name].append(_seconds(run))
        cpu = {name: statistics.median(c for c, _ in times) for name, times in runs.items()}
        wall = {name: statistics.median(w for _, w in times) for name, times in runs.items()}
        windows = len(train) * epochs
        for name, model, loop in [
            ("seqcast", cell, "seqcast train_network"),
            ("reference", cell, "reference PyTorch loop"),
            ("numpy", f"numpy_{cell}", "seqcast NumPy (float64)"),
        ]:
            lines.append(
                f"| {model} | {loop} | {windows / cpu[name]:,.0f} "
                f"| {cpu['reference'] / cpu[name]:.2f}x | {windows / wall[name]:,.0f} "
                f"| {wall['reference'] / wall[name]:.2f}x |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="windows made from these")
    parser.add_argument("--windows", help="or: read train.npz and val.npz from this directory")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="for both PyTorch loops"
    )
    args = parser.parse_args()

    if args.windows:
        directory = Path(args.windows)
        if not (directory / "train.npz").is_file():
            sys.exit(f"{directory / 'train.npz'}: not found")
        train, val = Windows.load(directory / "train.npz"), Windows.load(directory / "val.npz")
    else:
        train, val = windows_from_params(Path(args.params))
    lines = throughput_table(
        train,
        val,
        cells=args.cells,
        repeats=args.repeats,
        epochs=args.epochs,
        hidden=args.hidden,
        batch_size=args.batch_size,
        threads=args.threads,
        device=args.device,
    )
    print("\n".join(lines))


if __name__ == "__main__":
    stage.run(main, "benchmark")
