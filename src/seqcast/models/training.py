"""The training loop for PyTorch forecasters: mini-batches, gradient clipping, early stopping.

The optimiser (Adam or SGD with momentum, with weight decay), the learning-rate schedule
(none, or reduce on a validation plateau), the device and the threads come from
`train.*`. Deterministic on CPU for a fixed seed: the shuffling uses its own seeded CPU
generator, whatever the device, and PyTorch is asked for deterministic algorithms.
"""

import copy

import torch
from torch import nn

from seqcast.models.base import History
from seqcast.models.early_stopping import EarlyStopping
from seqcast.models.runtime import configure_torch, float32_tensor
from seqcast.models.train_config import TrainConfig
from seqcast.prep.windows import Windows


def _tensors(windows: Windows, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    x = float32_tensor(windows.x, device)  # (n, window, features)
    y = float32_tensor(windows.y, device)  # (n,) or (n, steps)
    return x, y


def make_optimizer(net: nn.Module, params: TrainConfig) -> torch.optim.Optimizer:
    if params.optimizer == "sgd":
        return torch.optim.SGD(
            net.parameters(),
            lr=params.learning_rate,
            momentum=params.momentum,
            weight_decay=params.weight_decay,
        )
    return torch.optim.Adam(
        net.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )


def make_schedule(
    optimizer: torch.optim.Optimizer, params: TrainConfig
) -> torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    if params.lr_schedule == "reduce_on_plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=params.lr_factor, patience=params.lr_patience
        )
    return None


@torch.no_grad()
def _mean_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    net.eval()
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, len(x), batch_size):
        pred = net(x[start : start + batch_size])
        total += nn.functional.mse_loss(pred, y[start : start + batch_size], reduction="sum")
    return total.item() / y.numel()  # per target value, also with several outputs per window


def train_network(
    net: nn.Module, train: Windows, val: Windows, params: TrainConfig, label: str
) -> History:
    """Train `net` in place and leave it holding the weights of its best validation epoch
    (with train.patience null: of its last epoch; `val` may then hold no windows).

    The network is moved to the device that `train.device` resolves to, and stays there.
    """
    device = configure_torch(params)
    net.to(device)
    generator = torch.Generator().manual_seed(params.seed)
    x_train, y_train = _tensors(train, device)
    x_val, y_val = _tensors(val, device)
    optimizer = make_optimizer(net, params)
    schedule = make_schedule(optimizer, params)

    stopping = EarlyStopping(label, params.max_epochs, params.patience)
    best_state = copy.deepcopy(net.state_dict())
    for epoch in stopping:
        net.train()
        # Summed on the device in float64, so that there is no host sync per batch; each
        # addend is exactly what loss.item() * len(batch) would give.
        total = torch.zeros((), dtype=torch.float64, device=device)
        order = torch.randperm(len(x_train), generator=generator).to(device)
        for batch in order.split(params.batch_size):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(net(x_train[batch]), y_train[batch])
            loss.backward()
            if params.grad_clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), params.grad_clip)
            optimizer.step()
            total += loss.detach().double() * len(batch)
        train_loss = total.item() / len(x_train)
        val_loss = _mean_loss(net, x_val, y_val, params.batch_size) if len(x_val) else None
        if stopping.end_epoch(epoch, train_loss, val_loss):
            best_state = copy.deepcopy(net.state_dict())
        if schedule is not None:
            schedule.step(val_loss)
    net.load_state_dict(best_state)
    return stopping.finish()
