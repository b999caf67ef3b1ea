"""`seqcast promote`: the one deliberate act that moves a registered model's `champion`.

A pipeline run (and so every `dvc exp run`) registers the model it selected as a candidate
version (seqcast.ops.model_registry); promote runs the metric gate on the workspace's
reports/metrics.json against a named git ref and, only if it passes, moves `champion` to
the version that holds the workspace's selected model, tagging it with the gate's verdict.
"""

from dataclasses import dataclass
from pathlib import Path

from seqcast.errors import SeqcastError
from seqcast.jobs import gate
from seqcast.ops import lineage, store_lock, tracking
from seqcast.ops import model_registry as registry


@dataclass(frozen=True)
class Promotion:
    name: str
    version: str
    previous: str | None  # the version champion named before
    promoted: bool
    report: str  # the gate's table and verdict

    def describe(self) -> str:
        if self.promoted:
            was = self.previous or "none"
            return f"{self.name}: champion -> version {self.version} (was {was})"
        stays = f"stays at version {self.previous}" if self.previous else "names no version"
        return f"{self.name}: version {self.version} not promoted; champion {stays}"


# The workspace's outputs that promote reads, relative to the repository root
FORECAST = Path("reports/forecast/forecast.json")  # the forecast stage's choice
METRICS = Path("reports/metrics.json")  # the compare stage's metrics
SOURCE = Path("data/raw/source.json")  # the download stage's: which series


def promote(
    root: Path, experiment: str, ticker: str, ref: str, version: str | None = None
) -> Promotion:
    """`seqcast promote`: move `champion` of the series' registered model (registry.
    series_name: <experiment>-<ticker> of the workspace's data) to `version` (default:
    the version registered from the workspace's selected model, as dvc.lock and
    reports/forecast/ describe it) if the metric gate passes for the workspace's
    reports/metrics.json against `ref`'s. The version is tagged with the gate's verdict."""
    from mlflow.exceptions import MlflowException

    uri = tracking.tracking_uri(lineage.repository_root(root))
    name = registry.series_name(experiment, ticker, root / SOURCE)
    with tracking.store_errors(uri):
        tracking.check_store(uri)
        client = registry.client_of(uri)
        try:
            client.get_registered_model(name)
        except MlflowException:
            raise SeqcastError(
                f"{name} is not in the registry at {uri}: `dvc repro` registers the model "
                "it selects as a candidate"
            ) from None
        if version is None:
            forecast = root / FORECAST
            if not forecast.is_file():
                raise SeqcastError(f"{forecast}: missing; run `dvc repro` first")
            model, run_id = registry.selected_run(uri, experiment, root, forecast)
            version = run_id and registry.workspace_version(client, name, run_id)
            if version is None:
                raise SeqcastError(
                    f"no version of {name} holds the workspace's {model} as dvc.lock records "
                    "it: run `dvc repro` (its register stage registers it), or name one "
                    "with --version"
                )
        else:
            try:
                client.get_model_version(name, version)
            except MlflowException:
                raise SeqcastError(f"{name} has no version {version}") from None
        previous = registry.champion_version(client, name)
    report, failed = gate.run(root, METRICS, ref=ref)  # paths relative to root, the cwd
    passed = not failed
    if passed:
        verdict = report.strip().splitlines()[-1]
        with tracking.store_errors(uri), store_lock.exclusive(uri):
            client.set_registered_model_alias(name, registry.CHAMPION, version)
            client.set_model_version_tag(name, version, registry.PROMOTED_TAG, verdict)
    return Promotion(name, version, previous, passed, report)
