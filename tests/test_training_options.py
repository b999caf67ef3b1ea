"""PyTorch training options from params: optimiser, schedule, weight decay, device, threads.

The loop is checked against a plain reference loop written here from torch primitives:
with every option, both must end with bit-identical weights (on the CPU; the CUDA path
has its own tests in test_cuda.py).
"""

import copy
import os

import numpy as np
import pytest
import torch
from building import build
from torch import nn

from seqcast import threads as threads_module
from seqcast.errors import SeqcastError
from seqcast.models import runtime, training
from seqcast.models.recurrent_config import NetShape, RecurrentConfig
from seqcast.models.recurrent_net import RecurrentNet
from seqcast.models.train_config import TrainConfig
from seqcast.params import parse_params
from seqcast.prep.windows import Windows


def _windows(seed: int, n: int) -> Windows:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5, 2))
    dates = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Windows(
        x=x,
        y=0.5 * x[:, -1, 0] + rng.normal(0, 0.1, n),
        target_dates=dates + np.timedelta64(1, "D"),
        origin_dates=dates,
        feature_names=np.array(["f0", "f1"]),
        target_index=0,
    )


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def reference_loop(net, train, val, params: TrainConfig, optimizer, schedule=None):
    """The textbook loop: shuffled batches, MSE, clipping, a step; keep the best val epoch
    (with patience None: run every epoch and keep the last; `val` may then be empty).

    Returns the validation loss of every epoch.
    """
    generator = torch.Generator().manual_seed(params.seed)
    x, y = torch.tensor(train.x, dtype=torch.float32), torch.tensor(train.y, dtype=torch.float32)
    xv, yv = torch.tensor(val.x, dtype=torch.float32), torch.tensor(val.y, dtype=torch.float32)

    def val_loss_of(net):
        net.eval()
        with torch.no_grad():
            return sum(
                nn.functional.mse_loss(
                    net(xv[s : s + params.batch_size]),
                    yv[s : s + params.batch_size],
                    reduction="sum",
                ).item()
                for s in range(0, len(xv), params.batch_size)
            ) / len(xv)

    best, best_state, stale = float("inf"), copy.deepcopy(net.state_dict()), 0
    val_losses = []
    for _ in range(params.max_epochs):
        net.train()
        for batch in torch.randperm(len(x), generator=generator).split(params.batch_size):
            optimizer.zero_grad()
            nn.functional.mse_loss(net(x[batch]), y[batch]).backward()
            if params.grad_clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), params.grad_clip)
            optimizer.step()
        if params.patience is None:
            best_state = copy.deepcopy(net.state_dict())
            if not len(xv):
                continue
        val_loss = val_loss_of(net)
        val_losses.append(val_loss)
        if params.patience is not None:
            if val_loss < best:
                best, best_state, stale = val_loss, copy.deepcopy(net.state_dict()), 0
            else:
                stale += 1
        if schedule is not None:
            schedule.step(val_loss)
        if params.patience is not None and stale >= params.patience:
            break
    net.load_state_dict(best_state)
    return val_losses


def _pair(cell="lstm"):
    torch.manual_seed(11)
    net = RecurrentNet(NetShape(cell, 2), RecurrentConfig(hidden_size=4, skip="none"))
    return net, copy.deepcopy(net)


def _adam(p, t):
    return torch.optim.Adam(p, lr=t.learning_rate), None


OPTIONS = {
    "defaults": ({}, _adam),
    "sgd-momentum-weight-decay": (
        {"optimizer": "sgd", "momentum": 0.8, "weight_decay": 0.01, "learning_rate": 0.05},
        lambda p, t: (torch.optim.SGD(p, lr=0.05, momentum=0.8, weight_decay=0.01), None),
    ),
    "no-clipping": ({"grad_clip": None, "learning_rate": 0.05}, _adam),
    "fixed-epochs": ({"patience": None}, _adam),
    "adam-weight-decay-plateau": (
        {
            "weight_decay": 0.1,
            "learning_rate": 0.05,
            "lr_schedule": "reduce_on_plateau",
            "lr_factor": 0.2,
            "lr_patience": 0,
        },
        lambda p, t: (
            opt := torch.optim.Adam(p, lr=0.05, weight_decay=0.1),
            torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.2, patience=0),
        ),
    ),
}


@pytest.mark.parametrize("option", list(OPTIONS))
def test_loop_equals_the_reference_loop_bit_for_bit(option):
    update, make = OPTIONS[option]
    params = TrainConfig(**{"max_epochs": 6, "batch_size": 16, "patience": 3, **update})
    params = params.model_copy(update={"device": "cpu"})
    train, val = _windows(0, 64), _windows(1, 24)
    ours, theirs = _pair()
    history = training.train_network(ours, train, val, params, label="lstm")
    optimizer, schedule = make(list(theirs.parameters()), params)
    val_losses = reference_loop(theirs, train, val, params, optimizer, schedule)

    if schedule is not None:
        assert optimizer.param_groups[0]["lr"] < 0.05, "setup: the schedule should act"
    assert history.val_loss == val_losses
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_fixed_epochs_need_no_validation_windows():
    """train.patience null with split.val = 0: every epoch runs, the last one is kept."""
    params = TrainConfig(max_epochs=5, batch_size=16, patience=None, device="cpu")
    train, val = _windows(0, 64), _windows(1, 24)
    empty = Windows(
        x=val.x[:0],
        y=val.y[:0],
        target_dates=val.target_dates[:0],
        origin_dates=val.origin_dates[:0],
        feature_names=val.feature_names,
        target_index=0,
    )
    ours, theirs = _pair()
    history = training.train_network(ours, train, empty, params, label="lstm")
    reference_loop(theirs, train, empty, params, *_adam(list(theirs.parameters()), params))

    assert len(history.train_loss) == 5 and history.val_loss == [] and history.best_epoch == 5
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_options_change_the_result():
    train, val = _windows(0, 64), _windows(1, 24)
    results = []
    for update in ({}, {"optimizer": "sgd"}, {"weight_decay": 0.5}, {"grad_clip": 1e-3}):
        net, _ = _pair()
        params = TrainConfig(max_epochs=2, device="cpu", **update)
        training.train_network(net, train, val, params, "lstm")
        results.append(net.head.weight.detach().clone())
    assert not torch.equal(results[0], results[1])
    assert not torch.equal(results[0], results[2])
    assert not torch.equal(results[0], results[3])


def test_make_optimizer_reads_params():
    net, _ = _pair()
    sgd = training.make_optimizer(
        net, TrainConfig(optimizer="sgd", momentum=0.7, weight_decay=0.2, learning_rate=0.3)
    )
    assert isinstance(sgd, torch.optim.SGD)
    group = sgd.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.3, 0.7, 0.2)
    adam = training.make_optimizer(net, TrainConfig())
    assert isinstance(adam, torch.optim.Adam)
    assert (adam.param_groups[0]["lr"], adam.param_groups[0]["weight_decay"]) == (1e-3, 0.0)
    assert training.make_schedule(adam, TrainConfig()) is None


def test_auto_device_is_cuda_only_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.resolve_device("auto") == torch.device("cuda")
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    assert runtime.resolve_device("cuda") == torch.device("cuda")


def test_cuda_without_a_gpu_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SeqcastError) as info:
        runtime.resolve_device("cuda")
    assert str(info.value) == (
        f"train.device = 'cuda': PyTorch {torch.__version__} sees no CUDA device on this "
        "machine; use 'auto' (CUDA when available, else CPU) or 'cpu'"
    )


def test_cuda_path_fixes_the_cublas_workspace_for_determinism(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    # Recorded as unset first, so that the variable is removed again after the test.
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "unset")
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    assert runtime.configure_torch(TrainConfig(device="auto")) == torch.device("cuda")
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.are_deterministic_algorithms_enabled()


def test_auto_and_cpu_train_identically_here():
    """On a machine without CUDA, auto is the CPU path: the same weights, bit for bit."""
    if torch.cuda.is_available():
        pytest.skip("auto resolves to CUDA on this machine")
    train, val = _windows(0, 48), _windows(1, 16)
    nets = []
    for device in ("auto", "cpu"):
        net, _ = _pair("gru")
        training.train_network(net, train, val, TrainConfig(max_epochs=2, device=device), "gru")
        nets.append(net)
    for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("threads", "parallel_runs", "cores", "expected"),
    [(3, 1, 8, 3), (0, 1, 8, 8), (0, 2, 8, 4), (0, 3, 8, 2), (0, 2, 1, 1)],
)
def test_threads_from_params_or_cores(monkeypatch, threads, parallel_runs, cores, expected):
    monkeypatch.setattr(threads_module, "available_cores", lambda: cores)
    params = TrainConfig(threads=threads, parallel_runs=parallel_runs)
    assert threads_module.resolve_threads(params) == expected


def test_training_uses_the_resolved_thread_count():
    train, val = _windows(0, 16), _windows(1, 8)
    net, _ = _pair("rnn")
    torch.set_num_threads(1)
    training.train_network(net, train, val, TrainConfig(max_epochs=1, threads=2), "rnn")
    assert torch.get_num_threads() == 2


def test_one_model_overrides_shared_train_params():
    params = parse_params(
        {
            "train": {"learning_rate": 0.002, "batch_size": 32},
            "models": {"lstm": {"train": {"learning_rate": 0.01, "optimizer": "sgd"}}},
        }
    )
    lstm = params.train_for("lstm")
    assert (lstm.learning_rate, lstm.optimizer, lstm.batch_size) == (0.01, "sgd", 32)
    assert params.train_for("gru") == params.train
    assert build("lstm", params).train_params == lstm
    assert build("numpy_lstm", params).train_params == params.train


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"train": {"optimizer": "rmsprop"}},
            "train.optimizer = 'rmsprop': Input should be 'adam' or 'sgd'",
        ),
        (
            {"train": {"lr_schedule": "cosine"}},
            "train.lr_schedule = 'cosine': Input should be 'none' or 'reduce_on_plateau'",
        ),
        ({"train": {"device": "tpu"}}, "train.device = 'tpu': Input should be 'auto', 'cpu' or"),
        ({"train": {"threads": -1}}, "train.threads = -1: Input should be greater than or equal"),
        ({"train": {"momentum": 1.0}}, "train.momentum = 1.0: Input should be less than 1"),
        ({"train": {"lr_factor": 1.5}}, "train.lr_factor = 1.5: Input should be less than 1"),
        (
            {"models": {"gru": {"train": {"learning_rate": 0}}}},
            "models.gru.train.learning_rate = 0: Input should be greater than 0",
        ),
        (
            {"models": {"gru": {"train": {"lr": 0.1}}}},
            "models.gru.train.lr = 0.1: unknown key; allowed here: seed, batch_size",
        ),
    ],
    ids=lambda value: str(value)[:40],
)
def test_bad_training_options_name_key_value_and_what_is_allowed(raw, message):
    with pytest.raises(SeqcastError) as info:
        parse_params(raw)
    assert message in str(info.value)
