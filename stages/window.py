"""Stage window: (X, y, target dates) per split from the scaled table (window.*)."""

import argparse
from pathlib import Path

import pandas as pd

from seqcast import atomic, stage
from seqcast.params import load_params
from seqcast.windows import make_windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scaled", help="scaled table (parquet)")
    parser.add_argument("out", help="directory for train.npz, val.npz, test.npz")
    args = parser.parse_args()
    params = load_params()
    w = params.window

    windows = make_windows(pd.read_parquet(args.scaled), params.data.target, w.length, w.horizon)

    with atomic.atomic_dir(args.out) as tmp:
        for split, split_windows in windows.items():
            split_windows.save(Path(tmp) / f"{split}.npz")
    shapes = ", ".join(f"{split} {tuple(v.x.shape)}" for split, v in windows.items())
    print(f"window: length {w.length}, horizon {w.horizon}: {shapes}")


if __name__ == "__main__":
    stage.run(main, "window")
