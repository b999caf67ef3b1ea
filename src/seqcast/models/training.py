"""The training loop for PyTorch forecasters: batched Adam, gradient clipping, early stopping.

Deterministic on CPU for a fixed seed: the shuffling uses its own seeded generator and
PyTorch is asked for deterministic algorithms.
"""

import copy
import math
import sys

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from seqcast.errors import SeqcastError
from seqcast.models.base import History
from seqcast.params import TrainParams
from seqcast.windows import Windows


def _tensors(windows: Windows) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(windows.x, dtype=torch.float32)  # (n, window, features)
    y = torch.as_tensor(windows.y, dtype=torch.float32)  # (n,) or (n, steps)
    return x, y


@torch.no_grad()
def _mean_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    net.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        pred = net(x[start : start + batch_size])
        total += nn.functional.mse_loss(pred, y[start : start + batch_size], reduction="sum").item()
    return total / y.numel()  # per target value, also with several outputs per window


def train_network(
    net: nn.Module, train: Windows, val: Windows, params: TrainParams, label: str
) -> History:
    """Train `net` in place and leave it holding the weights of its best validation epoch."""
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(params.threads)
    generator = torch.Generator().manual_seed(params.seed)
    x_train, y_train = _tensors(train)
    x_val, y_val = _tensors(val)
    optimizer = torch.optim.Adam(net.parameters(), lr=params.learning_rate)

    history = History()
    best_val, best_state, stale_epochs = math.inf, copy.deepcopy(net.state_dict()), 0
    interactive = sys.stderr.isatty()
    bar = tqdm(
        range(1, params.max_epochs + 1),
        desc=f"{label:>6}",
        unit="epoch",
        disable=not interactive,
        leave=True,
    )
    for epoch in bar:
        net.train()
        total = 0.0
        order = torch.randperm(len(x_train), generator=generator)
        for batch in order.split(params.batch_size):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(net(x_train[batch]), y_train[batch])
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), params.grad_clip)
            optimizer.step()
            total += loss.item() * len(batch)
        train_loss = total / len(x_train)
        val_loss = _mean_loss(net, x_val, y_val, params.batch_size)
        if not (np.isfinite(train_loss) and np.isfinite(val_loss)):
            raise SeqcastError(
                f"{label}: training diverged at epoch {epoch} (loss is {train_loss}); "
                "lower train.learning_rate or train.grad_clip"
            )
        history.train_loss.append(train_loss)
        history.val_loss.append(val_loss)
        if val_loss < best_val:
            best_val, best_state, stale_epochs = val_loss, copy.deepcopy(net.state_dict()), 0
            history.best_epoch = epoch
        else:
            stale_epochs += 1
        bar.set_postfix(train=f"{train_loss:.2e}", val=f"{val_loss:.2e}", best=history.best_epoch)
        if stale_epochs >= params.patience:
            break
    bar.close()
    net.load_state_dict(best_state)
    print(
        f"{label}: {len(history.train_loss)} epochs, best val loss {best_val:.3e} "
        f"at epoch {history.best_epoch}",
        file=sys.stderr,
    )
    return history
