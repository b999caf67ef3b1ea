"""Stage window: (X, y, target dates) per split and the preprocessing bundle (window.*, target.*).

y is encoded with the target transform, learnt on the training windows only; the bundle
(seqcast.prep.preprocessing) is saved beside the windows. Train and val windows have one target
each, or one per step under multistep.strategy = direct; the test split has one window per
test origin, whose targets at every step the evaluation reads from the price table.
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from seqcast import artifacts, stage
from seqcast.params import load_params
from seqcast.prep.preprocessing import pipeline_preprocessing
from seqcast.prep.scaling import scaler_from_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scaled", help="scaled table (parquet)")
    parser.add_argument("split", help="unscaled table with split column (parquet)")
    parser.add_argument("scaler", help="fitted scaler state (JSON)")
    parser.add_argument("out", help="directory for the windows and the preprocessing bundle")
    args = parser.parse_args()
    params = load_params(models=(), with_source=False)
    levels = pd.read_parquet(args.split)[params.data.target]
    scaler = scaler_from_dict(json.loads(Path(args.scaler).read_text()))
    scaled = pd.read_parquet(args.scaled)
    prep, windows = pipeline_preprocessing(scaled, levels, scaler, *params.prep_sections())
    with artifacts.output_dir(args.out) as out:
        artifacts.write_windows(out, windows, prep)
    shapes = ", ".join(f"{split} {tuple(v.x.shape)}" for split, v in windows.items())
    print(f"window: length {prep.length}, horizon {prep.horizon}, {prep.coder.transform}: {shapes}")


if __name__ == "__main__":
    stage.run(main, "window")
