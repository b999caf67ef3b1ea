"""Determinism: the train stage run twice with the same seed writes the same bytes; the
settings that make PyTorch deterministic (CUDA's included) are applied by training."""

import os

import pytest
import torch
from repo_helpers import ROOT, prepare_windows, train

from seqcast import determinism
from seqcast.data.sources import load_sample

CELLS = ["rnn", "lstm", "gru"]


def _params(seed: int) -> dict:
    return {
        "data": {"ticker": "MSFT"},
        "window": {"length": 10},
        "train": {"seed": seed, "max_epochs": 4, "batch_size": 32},
        "models": {cell: {"hidden_size": 8, "num_layers": 2, "dropout": 0.2} for cell in CELLS},
    }


@pytest.fixture(scope="module")
def prices():
    return load_sample(ROOT / "data/sample/stocks.csv", "MSFT").iloc[:400]


@pytest.mark.parametrize("cell", CELLS)
def test_same_seed_same_weights_bit_for_bit_other_seed_other_weights(prices, cell, tmp_path):
    # Two layers with dropout between them: the dropout masks must repeat too.
    prepare_windows(tmp_path, _params(seed=3), prices)
    first = train(tmp_path, cell, "first").joinpath("weights.pt").read_bytes()
    second = train(tmp_path, cell, "second").joinpath("weights.pt").read_bytes()
    assert first == second

    prepare_windows(tmp_path, _params(seed=4), prices)
    assert train(tmp_path, cell, "other").joinpath("weights.pt").read_bytes() != first


def test_training_applies_the_deterministic_settings(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    threads = torch.get_num_threads()
    try:
        determinism.configure(threads=1)
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


def test_a_cublas_workspace_set_by_the_user_is_kept(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # the smaller documented choice
    threads = torch.get_num_threads()
    try:
        determinism.configure(threads=threads)
    finally:
        torch.set_num_threads(threads)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
