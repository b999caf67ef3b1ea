"""Where a training run computes: its device and its CPU threads, resolved from params.

`train.device: auto` picks CUDA when PyTorch sees a GPU and the CPU otherwise; the loop
then moves the network and the data there once, so that one code path serves both.
`train.threads: 0` divides the cores this process may use among `train.parallel_runs`
concurrent runs, so that parallel experiments do not oversubscribe the machine.
"""

import torch

from seqcast import determinism
from seqcast.errors import SeqcastError
from seqcast.models.train_config import TrainConfig
from seqcast.threads import resolve_threads


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
    determinism.configure(resolve_threads(params))
    return device
