"""The CUDA path of the PyTorch models; skipped where PyTorch sees no GPU.

The same code path as on the CPU: `train.device` resolves once, the network and the data
move there, and a saved model holds CPU tensors that load anywhere.
"""

import numpy as np
import pytest
import torch
from building import build

from seqcast.models import load_model
from seqcast.models.runtime import resolve_device
from seqcast.params import parse_params
from seqcast.prep.windows import Windows

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def _windows(seed: int, n: int) -> Windows:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 3))
    dates = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Windows(
        x=x,
        y=0.5 * x[:, -1, 0] + rng.normal(0, 0.1, n),
        target_dates=dates + np.timedelta64(1, "D"),
        origin_dates=dates,
        feature_names=np.array(["f0", "f1", "f2"]),
        target_index=0,
    )


def _params(cell: str, device: str):
    return parse_params(
        {
            "train": {"max_epochs": 3, "batch_size": 16, "device": device},
            "models": {cell: {"hidden_size": 8, "num_layers": 2}},
        }
    )


def test_auto_picks_cuda():
    assert resolve_device("auto").type == "cuda"


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_training_on_cuda_is_bit_reproducible(cell):
    train, val = _windows(0, 96), _windows(1, 32)
    first, second = (
        build(cell, _params(cell, "auto")),
        build(cell, _params(cell, "cuda")),
    )
    assert first.fit(train, val) == second.fit(train, val)
    assert next(first.net.parameters()).device.type == "cuda"
    for (name, a), b in zip(
        first.net.state_dict().items(), second.net.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_cuda_model_saves_cpu_tensors_and_predicts_alike_on_the_cpu(tmp_path, cell):
    train, val, test = _windows(0, 96), _windows(1, 32), _windows(2, 24)
    model = build(cell, _params(cell, "cuda"))
    model.fit(train, val)
    on_gpu = model.predict(test.x)
    model.save(tmp_path)
    state = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert {t.device.type for t in state.values()} == {"cpu"}
    loaded = load_model(tmp_path)
    assert next(loaded.net.parameters()).device.type == "cpu"
    # Different kernels (cuDNN may use TF32): close, not identical.
    np.testing.assert_allclose(loaded.predict(test.x), on_gpu, rtol=1e-2, atol=1e-3)
