"""Stage train@model: fit one model on the training windows, early-stopping on validation."""

import argparse
import json
from pathlib import Path

from seqcast import atomic, stage
from seqcast.errors import SeqcastError
from seqcast.models import build_model
from seqcast.params import load_params
from seqcast.windows import Windows

HISTORY_FILE = "history.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="model name, one of models.enabled")
    parser.add_argument("windows", help="directory with train.npz and val.npz")
    parser.add_argument("out", help="directory for the saved model and its history")
    args = parser.parse_args()
    params = load_params()

    windows = Path(args.windows)
    train, val = Windows.load(windows / "train.npz"), Windows.load(windows / "val.npz")
    model = build_model(args.model, params)
    if train.y.ndim == 2 and not model.multi_output:
        raise SeqcastError(
            f"{args.model} has one output and cannot fit the {train.y.shape[1]} per-window "
            "targets of multistep.strategy = 'direct'; use 'recursive'"
        )
    history = model.fit(train, val)

    with atomic.atomic_dir(args.out) as tmp:
        model.save(tmp)
        (Path(tmp) / HISTORY_FILE).write_text(json.dumps(history.to_dict(), indent=2) + "\n")


if __name__ == "__main__":
    stage.run(main, "train")
