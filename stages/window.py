"""Stage window: (X, y, target dates) per split from the scaled table (window.*, target.*).

y is encoded with the target transform (seqcast.transforms), learnt on the training
windows only; its state goes to target.json beside the windows. Train and val windows
have one target each, or one per step under multistep.strategy = direct; test.npz holds
one window per test origin, whose targets at every step the evaluation reads from the
price table.
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from seqcast import atomic, stage
from seqcast.params import load_params
from seqcast.scaling import scaler_from_dict
from seqcast.transforms import pipeline_windows

TARGET_FILE = "target.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scaled", help="scaled table (parquet)")
    parser.add_argument("split", help="unscaled table with split column (parquet)")
    parser.add_argument("scaler", help="fitted scaler state (JSON)")
    parser.add_argument("out", help="directory for train.npz, val.npz, test.npz, target.json")
    args = parser.parse_args()
    params = load_params()
    w, target = params.window, params.data.target

    scaled = pd.read_parquet(args.scaled)
    levels = pd.read_parquet(args.split)[target]
    scaler = scaler_from_dict(json.loads(Path(args.scaler).read_text()))
    windows, coder = pipeline_windows(scaled, levels, scaler, params)

    with atomic.atomic_dir(args.out) as tmp:
        for split, split_windows in windows.items():
            split_windows.save(Path(tmp) / f"{split}.npz")
        atomic.write_json(Path(tmp) / TARGET_FILE, coder.to_dict())
    shapes = ", ".join(f"{split} {tuple(v.x.shape)}" for split, v in windows.items())
    print(f"window: length {w.length}, horizon {w.horizon}, target {coder.transform}: {shapes}")


if __name__ == "__main__":
    stage.run(main, "window")
