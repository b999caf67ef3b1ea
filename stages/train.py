"""Stage train@model: fit one model on the training windows, early-stopping on validation.

With seeds.count > 1 the model is also trained with each extra seed (train.seed + 1, ...)
into seeds/<seed>/ beside the main one, so that the report can tell a difference between
models from seed noise.
"""

import argparse
import json
from pathlib import Path

from seqcast import atomic, stage
from seqcast.errors import SeqcastError
from seqcast.models import model_class
from seqcast.params import load_params
from seqcast.seeding import fit_seeds
from seqcast.windows import Windows

HISTORY_FILE = "history.json"
SEEDS_DIR = "seeds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="model name, one of models.enabled")
    parser.add_argument("windows", help="directory with train.npz and val.npz")
    parser.add_argument("out", help="directory for the saved model and its history")
    args = parser.parse_args()
    params = load_params()

    windows = Path(args.windows)
    train, val = Windows.load(windows / "train.npz"), Windows.load(windows / "val.npz")
    if train.y.ndim == 2 and not model_class(args.model).multi_output:
        raise SeqcastError(
            f"{args.model} has one output and cannot fit the {train.y.shape[1]} per-window "
            "targets of multistep.strategy = 'direct'; use 'recursive'"
        )
    fitted = fit_seeds(args.model, params, train, val)

    with atomic.atomic_dir(args.out) as tmp:
        for seed, (model, fit_history) in fitted.items():
            # The first seed's model is the pipeline's; the others go to seeds/<seed>/.
            first = seed == params.train.seed
            directory = Path(tmp) if first else Path(tmp) / SEEDS_DIR / str(seed)
            model.save(directory)
            text = json.dumps(fit_history.to_dict(), indent=2) + "\n"
            (directory / HISTORY_FILE).write_text(text)


if __name__ == "__main__":
    stage.run(main, "train")
