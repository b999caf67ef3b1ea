"""Every stage computes with the thread count of train.threads, whatever the machine."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from seqcast import threads

ROOT = Path(__file__).resolve().parents[1]


def test_a_stage_pins_torch_blas_and_the_environment_to_train_threads(tmp_path):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    script = textwrap.dedent(
        """
        import json, os, torch
        from threadpoolctl import threadpool_info
        from seqcast import stage

        def main():
            print(json.dumps({
                "torch": torch.get_num_threads(),
                "pools": sorted({p["num_threads"] for p in threadpool_info()}),
                "omp": os.environ["OMP_NUM_THREADS"],
            }))

        stage.run(main, "probe")
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == '{"torch": 1, "pools": [1], "omp": "1"}'


def _machine(monkeypatch, cores: int, load: float) -> None:
    monkeypatch.setattr(threads, "available_cores", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))


def test_one_thread_never_oversubscribes(monkeypatch):
    _machine(monkeypatch, cores=2, load=7.5)
    assert threads.oversubscription(1) is None


def test_more_threads_than_cores_is_named(monkeypatch):
    _machine(monkeypatch, cores=2, load=0.0)
    assert "more than the 2 cores" in threads.oversubscription(3)


def test_two_threads_on_a_busy_two_core_machine_are_named_on_an_idle_one_not(monkeypatch):
    _machine(monkeypatch, cores=2, load=1.0)  # this process alone
    assert threads.oversubscription(2) is None
    _machine(monkeypatch, cores=2, load=2.0)  # and one more busy core
    assert "load average of 2.0" in threads.oversubscription(2)


def test_an_oversubscribed_training_run_warns_and_keeps_its_thread_count(monkeypatch, caplog):
    import torch

    from seqcast.models.runtime import configure_torch
    from seqcast.models.train_config import TrainConfig

    _machine(monkeypatch, cores=2, load=3.0)
    before = torch.get_num_threads()
    try:
        with caplog.at_level("WARNING", logger="seqcast.threads"):
            configure_torch(TrainConfig(threads=2, device="cpu"))
        assert torch.get_num_threads() == 2  # digits depend on it: warned, never changed
        assert "train.threads: 1 (the default) is faster on a busy machine" in caplog.text
    finally:
        torch.set_num_threads(before)
