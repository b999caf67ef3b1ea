"""Stage register: the model the forecast stage selected on validation becomes a candidate
version of the series' MLflow registered model (<tracking.experiment>-<data.ticker>, and
the file's name for a CSV), tagged with its run's lineage and DVC experiment. The alias
champion stays: `seqcast promote` moves it, after the metric gate."""

import argparse
from pathlib import Path

from seqcast import atomic, stage
from seqcast.ops import model_registry as registry
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--forecast", required=True, help="the forecast stage's forecast.json")
    parser.add_argument("--metrics", required=True, help="the compare stage's metrics.json")
    parser.add_argument("--source", required=True, help="the download stage's source.json")
    parser.add_argument("--out", required=True, help="JSON naming what was registered")
    args = parser.parse_args()
    params = load_params(models=(), with_source=False)
    experiment, ticker = params.tracking.experiment, params.data.ticker
    name = registry.series_name(experiment, ticker, Path(args.source))
    paths = Path(args.forecast), Path(args.metrics), Path.cwd()
    line, record = registry.register_selected(name, experiment, *paths)
    atomic.write_json(Path(args.out), record)
    print(f"register: {line}")


if __name__ == "__main__":
    stage.run(main, "register")
