"""Stage train@model: fit one model on the training windows, early-stopping on validation.

With seeds.count > 1 the model is also trained with each extra seed (train.seed + 1, ...)
beside the main one, so that the report can tell a difference between models from seed
noise.
"""

import argparse

from seqcast import artifacts, stage
from seqcast.jobs.train import fit_seeds
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="model name, one of models.enabled")
    parser.add_argument("windows", help="the window stage's output directory")
    parser.add_argument("out", help="directory for the saved model and its history")
    args = parser.parse_args()
    params = load_params(models=[args.model], with_source=False)
    train = artifacts.read_windows(args.windows, "train")
    fitted = fit_seeds(args.model, params, train, artifacts.read_windows(args.windows, "val"))
    with artifacts.output_dir(args.out) as out:
        artifacts.write_model_dir(out, fitted, params.train.seed)


if __name__ == "__main__":
    stage.run(main, "train")
