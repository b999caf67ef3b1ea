"""The MLflow model registry: the model selected on validation becomes a new version of
the registered model named after the experiment and the ticker, with its run's lineage
tags, and the alias `champion` moves to it only when the metric gate passes.

    forecaster, version = load_forecaster("models:/seqcast-AAPL@champion", "sqlite:///mlflow.db")
    forecaster.predict(prices, 20)  # date -> step, forecast, lower_80, ..., upper_95
"""

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqcast.errors import SeqcastError

if TYPE_CHECKING:
    from seqcast.forecasting.forecaster import PriceForecaster

CHAMPION = "champion"
# The run tags a version carries: where the model came from, exactly.
LINEAGE_TAGS = ("model", "dvc_stages", "git_commit", "git_dirty", "git_dirty_paths", "data_md5")


def registered_name(experiment: str, ticker: str) -> str:
    """seqcast-AAPL for experiment seqcast and ticker AAPL (only letters, digits, . _ -)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", f"{experiment}-{ticker}").strip("-")


@dataclass(frozen=True)
class Registration:
    name: str  # the registered model
    version: str
    model: str  # seqcast's model name: lstm, linear, ...
    champion: bool  # whether the alias moved to this version
    previous_champion: str | None  # the version the alias named before, if any
    verdict: str = ""  # the gate's summary line, or why it gave none

    def describe(self) -> str:
        before = self.previous_champion
        if self.champion:
            alias = f"champion -> version {self.version} (was {before or 'none'})"
        else:
            stays = f"stays at version {before}" if before else "names no version yet"
            alias = f"champion {stays}: the gate did not pass ({self.verdict})"
        return f"{self.model} as {self.name} version {self.version}; {alias}"


def lineage_tags(run_tags: dict[str, str]) -> dict[str, str]:
    """The run's tags of LINEAGE_TAGS and its dvc_dep.* md5s."""
    from seqcast.ops.lineage import DEP_TAG

    return {
        key: value
        for key, value in run_tags.items()
        if key in LINEAGE_TAGS or key.startswith(DEP_TAG)
    }


def _champion_version(client, name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def register(
    uri: str, name: str, model: str, run_id: str, tags: dict[str, str], gate_passed: bool
) -> Registration:
    """Register the pyfunc `model` that run `run_id` logged as a new version of `name`,
    tagged with the run's lineage and `tags`; move `champion` to it if `gate_passed`."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name,
            description=(
                "Registered by seqcast's register stage: each version is the model selected "
                "on validation by one pipeline run; the alias champion names the last one "
                "whose metrics passed the gate."
            ),
        )
    previous = _champion_version(client, name)
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
        description=f"{model}, selected on validation; {tags.get('gate', '')}".strip("; "),
        await_creation_for=0,
        model_id=logged[0].model_id,
    ).version
    if gate_passed:
        client.set_registered_model_alias(name, CHAMPION, str(version))
    return Registration(name, str(version), model, gate_passed, previous)


def load_forecaster(model_uri: str, uri: str) -> tuple["PriceForecaster", str]:
    """The PriceForecaster inside a registered pyfunc (models:/<name>@<alias> or
    models:/<name>/<version>) of the store at `uri`, and the version it resolved to."""
    import mlflow
    from mlflow.exceptions import MlflowException

    match = re.fullmatch(r"models:/([^/@]+)(?:@([^/@]+)|/(\d+))", model_uri)
    if match is None:
        raise SeqcastError(f"{model_uri}: not models:/<name>@<alias> or models:/<name>/<version>")
    name, alias, number = match.groups()
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    try:
        if alias:
            version = str(client.get_model_version_by_alias(name, alias).version)
        else:
            version = str(client.get_model_version(name, number).version)
    except MlflowException as exc:
        raise SeqcastError(
            f"{model_uri}: not in the registry at {uri} ({exc.message}); a pipeline run "
            "registers one, and moves champion when the gate passes"
        ) from None
    mlflow.set_tracking_uri(uri)
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    forecaster = getattr(loaded.unwrap_python_model(), "forecaster", None)
    if forecaster is None:
        raise SeqcastError(f"{model_uri}: version {version} is not a seqcast forecaster")
    return forecaster, version


def gate_verdict(metrics: Path, root: Path) -> tuple[bool, str]:
    """Whether the metric gate passes for the fresh `metrics` against HEAD's, and its
    summary line (or why it could not judge: then it does not pass)."""
    from seqcast.jobs import gate

    try:
        report, failed = gate.run(root, metrics, ref="HEAD")
    except SeqcastError as exc:
        return False, f"no verdict: {exc}"
    return not failed, report.strip().splitlines()[-1]


def evaluation_run(uri: str, experiment: str, model: str, lock: Path) -> str | None:
    """The newest finished MLflow run of `model` whose lineage (its dvc_dep.* tags: the
    training code, data and params files, the saved model, windows, split and raw data)
    is what `lock` (dvc.lock) records now: the run that logged this exact model, whichever
    workspace or experiment ran it. None if the store holds none."""
    import mlflow

    from seqcast.ops.lineage import DEP_TAG, lock_hashes

    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"tags.model = '{model}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=100,
    )
    for run in runs:
        recorded = {
            key.removeprefix(DEP_TAG): value
            for key, value in run.data.tags.items()
            if key.startswith(DEP_TAG)
        }
        if recorded and lock_hashes(lock, f"train@{model}", recorded) == recorded:
            return run.info.run_id
    return None


def register_selected(
    experiment: str, ticker: str, forecast: Path, metrics: Path, workdir: Path
) -> tuple[str, dict[str, Any]]:
    """The register stage: the model that the forecast stage chose (its forecast.json) as
    a new version of <experiment>-<ticker>, champion if the gate passes. Returns a line for
    the log and the stage's record: the registered model's name, the model, and whether it
    registered."""
    from seqcast.ops import lineage, store_lock, tracking

    selected = json.loads(forecast.read_text())
    name = registered_name(experiment, ticker)
    model = selected["model"]
    record = {"registered_model": name, "model": model, "registered": False}
    if "registered_model" in selected:
        return f"the forecast used {selected['registered_model']}; nothing new to register", record
    uri = tracking.tracking_uri(lineage.repository_root(workdir))
    with tracking.store_errors(uri):
        run_id = evaluation_run(uri, experiment, model, workdir / "dvc.lock")
    if run_id is None:
        return (
            f"nothing registered: no finished run of {model} in {uri} logged the model "
            f"that dvc.lock records; `dvc repro -f evaluate@{model} register` logs and "
            "registers it"
        ), record
    passed, verdict = gate_verdict(metrics, workdir)
    tags = {
        "selected_by": selected["chosen_by"],
        # none without a validation block (split.val = 0)
        "validation_rmse": str(selected["validation_rmse"].get(model, "none")),
        "test_rmse": str(json.loads(metrics.read_text())[model]["rmse"]),
        "gate": verdict,  # "gate: passed against ...", "gate: FAILED ...", "no verdict: ..."
    }
    with tracking.store_errors(uri), store_lock.exclusive(uri):
        done = register(uri, name, model, run_id, tags, passed)
    return replace(done, verdict=verdict).describe(), {**record, "registered": True}
