"""Every stage computes with the thread count of train.threads, whatever the machine."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

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
