"""Stage register: the model the forecast stage selected on validation becomes a new
version of the MLflow registered model <tracking.experiment>-<data.ticker>, tagged with its
run's lineage; the alias champion moves to it only when the metric gate passes (the fresh
reports/metrics.json against the one committed at HEAD, by params' gate rules)."""

import argparse
from pathlib import Path

from seqcast import atomic, stage
from seqcast.ops import model_registry as registry
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--forecast", required=True, help="the forecast stage's forecast.json")
    parser.add_argument("--metrics", required=True, help="the compare stage's metrics.json")
    parser.add_argument("--out", required=True, help="JSON naming what was registered")
    args = parser.parse_args()
    params = load_params(models=(), with_source=False)
    experiment, ticker = params.tracking.experiment, params.data.ticker
    paths = Path(args.forecast), Path(args.metrics), Path.cwd()
    line, record = registry.register_selected(experiment, ticker, *paths)
    atomic.write_json(Path(args.out), record)
    print(f"register: {line}")


if __name__ == "__main__":
    stage.run(main, "register")
