"""Where a training run computes: its device and its CPU threads, resolved from params.

`train.device: auto` picks CUDA when PyTorch sees a GPU and the CPU otherwise; the loop
then moves the network and the data there once, so that one code path serves both.
`train.threads: 0` divides the cores this process may use among `train.parallel_runs`
concurrent runs, so that parallel experiments do not oversubscribe the machine.
"""

import numpy as np
import torch

from seqcast import determinism
from seqcast.errors import SeqcastError
from seqcast.models.train_config import TrainConfig
from seqcast.threads import resolve_threads, warn_if_oversubscribed


def resolve_device(requested: str) -> torch.device:
    cuda = torch.cuda.is_available()
    if requested == "auto":
        return torch.device("cuda" if cuda else "cpu")
    if requested == "cuda" and not cuda:
        raise SeqcastError(
            f"train.device = 'cuda': PyTorch {torch.__version__} sees no CUDA device on this "
            "machine; use 'auto' (CUDA when available, else CPU) or 'cpu'"
        )
    return torch.device(requested)


def configure_torch(params: TrainConfig) -> torch.device:
    """Threads and deterministic algorithms for this process; returns the device to use."""
    device = resolve_device(params.device)
    threads = resolve_threads(params)
    if device.type == "cpu":
        warn_if_oversubscribed(threads)
    determinism.configure(threads)
    return device


def float32_tensor(values: np.ndarray, device: torch.device) -> torch.Tensor:
    """A float32 copy of `values` on `device`. The windows are read-only strided views of
    the table's rows: this copies them into a contiguous array of PyTorch's own."""
    return torch.from_numpy(np.array(values, dtype=np.float32)).to(device)
