"""The MLflow model registry: each pipeline run registers the model selected on validation
as a candidate version of the registered model named after the experiment and the ticker,
tagged with its run's lineage, its DVC experiment and commit. The alias `champion` moves
only by a deliberate act, `seqcast promote` (promote below), which runs the metric gate
against a named git ref first: no pipeline run, and no experiment, moves it.

    forecaster, version = load_forecaster("models:/seqcast-AAPL@champion", "sqlite:///mlflow.db")
    forecaster.predict(prices, 20)  # date -> step, forecast, lower_80, ..., upper_95
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqcast.errors import SeqcastError

if TYPE_CHECKING:
    from seqcast.forecasting.forecaster import PriceForecaster

CHAMPION = "champion"
# The run tags a version carries: where the model came from, exactly.
LINEAGE_TAGS = ("model", "dvc_stages", "git_commit", "git_dirty", "git_dirty_paths", "data_md5")
PROMOTED_TAG = "seqcast.promoted"  # on a version `seqcast promote` made champion: the gate's line


def registered_name(experiment: str, ticker: str, file: str = "") -> str:
    """seqcast-AAPL for experiment seqcast and ticker AAPL; seqcast-AAPL-aapl_2019 for a
    CSV file aapl_2019.csv (only letters, digits, . _ -)."""
    name = "-".join(part for part in (experiment, ticker, file) if part)
    return re.sub(r"[^A-Za-z0-9_.]+", "-", name).strip("-")


def series_name(experiment: str, ticker: str, source: Path) -> str:
    """The registered model of the series that the download stage's `source` (its
    source.json) describes: a market ticker of the sample or yfinance is the series
    (seqcast-AAPL); a CSV's series is its ticker in that file, so that another file's AAPL
    gets a model of its own (seqcast-AAPL-aapl_2019)."""
    try:
        origin = json.loads(source.read_text())
    except (OSError, ValueError) as exc:
        raise SeqcastError(
            f"{source}: cannot read the data's source ({exc}); run `dvc repro`"
        ) from None
    file = Path(origin["path"]).stem if origin.get("source") == "csv" else ""
    return registered_name(experiment, ticker, file)


@dataclass(frozen=True)
class Registration:
    name: str  # the registered model
    version: str
    model: str  # seqcast's model name: lstm, linear, ...
    champion: str | None  # the version the alias names (unchanged by a registration)

    def describe(self) -> str:
        alias = (
            f"champion stays at version {self.champion}"
            if self.champion
            else ("champion names no version yet")
        )
        return (
            f"{self.model} as candidate {self.name} version {self.version}; {alias} "
            "(`seqcast promote` moves it, after the gate)"
        )


def lineage_tags(run_tags: dict[str, str]) -> dict[str, str]:
    """The run's tags of LINEAGE_TAGS and its dvc_dep.* md5s."""
    from seqcast.ops.lineage import DEP_TAG

    return {
        key: value
        for key, value in run_tags.items()
        if key in LINEAGE_TAGS or key.startswith(DEP_TAG)
    }


def champion_version(client, name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def client_of(uri: str):
    """A client of the store at `uri`, which MLflow's own lookups use too: the registry
    resolves a version's `models:/m-...` source with the process-wide tracking URI, which
    inside a queued experiment's temporary clone is not the repository's store."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.tracking.MlflowClient(tracking_uri=uri, registry_uri=uri)


def register(uri: str, name: str, model: str, run_id: str, tags: dict[str, str]) -> Registration:
    """Register the pyfunc `model` that run `run_id` logged as a new version of `name`,
    tagged with the run's lineage and `tags`. The alias `champion` stays where it is."""
    from mlflow.exceptions import MlflowException

    client = client_of(uri)
    run = client.get_run(run_id)
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name,
            description=(
                "Registered by seqcast's register stage: each version is the model selected "
                "on validation by one pipeline run (a candidate); the alias champion names "
                "the version that `seqcast promote` last promoted, after the metric gate."
            ),
        )
    logged = client.search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id = '{run_id}' AND name = '{model}'"
    )
    if not logged:
        raise SeqcastError(f"run {run_id} logged no MLflow model named {model}")
    version = client.create_model_version(
        name,
        source=logged[0].model_uri,
        run_id=run_id,
        tags={**lineage_tags(run.data.tags), **tags},
        description=f"{model}, selected on validation: a candidate until promoted",
        await_creation_for=0,
        model_id=logged[0].model_id,
    ).version
    return Registration(name, str(version), model, champion_version(client, name))


def load_forecaster(model_uri: str, uri: str) -> tuple["PriceForecaster", str]:
    """The PriceForecaster inside a registered pyfunc (models:/<name>@<alias> or
    models:/<name>/<version>) of the store at `uri`, and the version it resolved to."""
    import mlflow
    from mlflow.exceptions import MlflowException

    match = re.fullmatch(r"models:/([^/@]+)(?:@([^/@]+)|/(\d+))", model_uri)
    if match is None:
        raise SeqcastError(f"{model_uri}: not models:/<name>@<alias> or models:/<name>/<version>")
    name, alias, number = match.groups()
    client = client_of(uri)
    try:
        if alias:
            version = str(client.get_model_version_by_alias(name, alias).version)
        else:
            version = str(client.get_model_version(name, number).version)
    except MlflowException as exc:
        raise SeqcastError(
            f"{model_uri}: not in the registry at {uri} ({exc.message}); a pipeline run "
            "registers a candidate, and `seqcast promote` moves champion after the gate"
        ) from None
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    forecaster = getattr(loaded.unwrap_python_model(), "forecaster", None)
    if forecaster is None:
        raise SeqcastError(f"{model_uri}: version {version} is not a seqcast forecaster")
    return forecaster, version


def selected_run(
    uri: str, experiment: str, workdir: Path, forecast: Path
) -> tuple[str, str | None]:
    """The model the forecast stage chose (its forecast.json) and the run that logged it
    as `workdir`'s dvc.lock records it now (None if the store holds none)."""
    from seqcast.ops import tracking

    model = json.loads(forecast.read_text())["model"]
    with tracking.store_errors(uri):
        return model, tracking.evaluation_run(uri, experiment, model, workdir / "dvc.lock")


def workspace_version(client, name: str, run_id: str) -> str | None:
    """The newest version of `name` registered from run `run_id`, if any."""
    found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return str(max(int(v.version) for v in found)) if found else None


def register_selected(
    name: str, experiment: str, forecast: Path, metrics: Path, workdir: Path
) -> tuple[str, dict[str, Any]]:
    """The register stage: the model that the forecast stage chose (its forecast.json), as
    its run in `experiment` logged it, as a candidate version of the registered model
    `name` (series_name), tagged with its DVC experiment and commit. Returns a line for the
    log and the stage's record: the registered model's name, the model, and whether it
    registered."""
    from seqcast.ops import lineage, store_lock, tracking

    selected = json.loads(forecast.read_text())
    model = selected["model"]
    record = {"registered_model": name, "model": model, "registered": False}
    if "registered_model" in selected:
        return f"the forecast used {selected['registered_model']}; nothing new to register", record
    uri = tracking.tracking_uri(lineage.repository_root(workdir))
    model, run_id = selected_run(uri, experiment, workdir, forecast)
    if run_id is None:
        return (
            f"nothing registered: no finished run of {model} in {uri} logged the model "
            f"that dvc.lock records; `dvc repro -f evaluate@{model} register` logs and "
            "registers it"
        ), record
    tags = {
        "selected_by": selected["chosen_by"],
        # none without a validation block (split.val = 0)
        "validation_rmse": str(selected["validation_rmse"].get(model, "none")),
        "test_rmse": str(json.loads(metrics.read_text())[model]["rmse"]),
        **lineage.experiment_tags(),  # dvc_exp_name, under `dvc exp run`
    }
    with tracking.store_errors(uri), store_lock.exclusive(uri):
        done = register(uri, name, model, run_id, tags)
    return done.describe(), {**record, "registered": True}
