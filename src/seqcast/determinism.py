"""Settings that make PyTorch training repeat bit for bit, on CPU and on CUDA.

The seed alone is not enough. `configure` also:

- asks PyTorch for deterministic algorithms only (an op without one raises instead of
  silently varying);
- on CUDA, sets CUBLAS_WORKSPACE_CONFIG=:4096:8, which cuBLAS needs (CUDA >= 10.2) for
  reproducible matrix products, and which PyTorch's deterministic mode insists on; it
  must be in the environment before the first cuBLAS call, so it is set here, before
  any training, unless the user has set it already;
- on cuDNN (the recurrent layers on CUDA), pins deterministic kernels and turns off the
  autotuner, which could pick a different kernel from one run to the next;
- fixes the number of CPU threads, since a reduction split over another number of
  threads adds in another order.
"""

import os

import torch

CUBLAS_WORKSPACE_CONFIG = ":4096:8"


def configure(threads: int) -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(threads)
