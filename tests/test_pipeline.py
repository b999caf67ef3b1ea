"""End to end: `dvc repro` on a tiny params set in a temporary git copy of the repository.

Checks what a user relies on: every stage's outputs, one MLflow run per model with the
same numbers as the report, lineage tags that match dvc.lock, nothing rerun when
nothing changed, only one model's stages rerun when its params change, and one clear
error with no half-written output for each kind of bad input.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODELS = ["naive", "linear", "rnn", "lstm", "gru"]

TINY = {
    "window": {"length": 10, "horizon": 1},
    "train": {"max_epochs": 3, "patience": 2, "batch_size": 128},
    "models": {name: {"hidden_size": 8} for name in ("rnn", "lstm", "gru")},
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True)


def merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        nested = isinstance(value, dict) and key in base
        merged[key] = merge(base[key], value) if nested else value
    return merged


def write_params(repo: Path, update: dict) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump(merge(merge(params, TINY), update)))


def commit(repo: Path, message: str) -> None:
    for command in (["git", "add", "-A"], ["git", "commit", "-qm", message]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *command[1:]], cwd=repo, check=True
        )


def copy_repository(dest: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    for path in ("reports/comparison.md", "reports/metrics.json", "reports/figures", "dvc.lock"):
        target = dest / path
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    commit(dest, "copy")
    return dest


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_repository(tmp_path_factory.mktemp("repo"))
    write_params(repo, {})
    commit(repo, "tiny params")
    result = run(repo, "dvc", "repro")
    assert result.returncode == 0, result.stdout + result.stderr
    return repo


def test_every_stage_writes_its_outputs(repo):
    for path in [
        "data/raw/prices.parquet",
        "data/features/features.parquet",
        "data/split/split.parquet",
        "data/scaled/scaler.json",
        "data/windows/test.npz",
        "reports/comparison.md",
        "reports/metrics.json",
        "reports/figures/forecasts.png",
        "reports/figures/loss.png",
        *(f"data/models/{m}/config.json" for m in MODELS),
        *(f"reports/models/{m}/predictions.csv" for m in MODELS),
    ]:
        assert (repo / path).is_file(), path


def test_every_model_is_scored_on_the_same_test_targets(repo):
    ranges = json.loads((repo / "data/split/ranges.json").read_text())
    frames = {
        m: pd.read_csv(repo / f"reports/models/{m}/predictions.csv", parse_dates=["date"])
        for m in MODELS
    }
    # Step 1 (the leaderboard's): one target per test day.
    predictions = {m: f[f["step"] == 1].reset_index(drop=True) for m, f in frames.items()}
    reference = predictions["naive"]
    assert len(reference) == ranges["test"]["rows"]
    assert reference["date"].iloc[0].strftime("%Y-%m-%d") == ranges["test"]["start"]
    assert reference["date"].is_monotonic_increasing
    for frame in predictions.values():
        pd.testing.assert_series_equal(frame["date"], reference["date"])
        pd.testing.assert_series_equal(frame["actual"], reference["actual"])
    # The naive forecast is the actual value one business day earlier.
    assert (
        reference["naive"].iloc[1:].to_numpy() == reference["actual"].iloc[:-1].to_numpy()
    ).all()


def test_report_ranks_every_model_and_metrics_json_matches(repo):
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert list(metrics) == MODELS
    assert metrics["naive"]["skill_vs_naive"] == 0
    for name in MODELS:
        assert metrics[name] == json.loads(
            (repo / f"reports/models/{name}/metrics.json").read_text()
        )
        assert set(metrics[name]) == {
            "mae",
            "rmse",
            "mape",
            "r2",
            "mase",
            "skill_vs_naive",
            "directional_accuracy",
        }
    report = (repo / "reports/comparison.md").read_text()
    ranked = sorted(MODELS, key=lambda m: metrics[m]["rmse"])
    rows = [line for line in report.splitlines() if line.startswith("| ") and "model" not in line]
    assert [row.split("|")[2].strip() for row in rows] == ranked
    assert "figures/forecasts.png" in report
    shown = run(repo, "dvc", "metrics", "show", "--json")
    assert shown.returncode == 0 and "skill_vs_naive" in shown.stdout


def test_multi_step_forecasts_are_dated_and_scored_per_step(repo):
    table = pd.read_parquet(repo / "data/split/split.parquet")
    steps = yaml.safe_load((repo / "params.yaml").read_text())["multistep"]["steps"]
    for name in MODELS:
        frame = pd.read_csv(
            repo / f"reports/models/{name}/predictions.csv", parse_dates=["date", "origin_date"]
        )
        assert sorted(set(frame["step"])) == list(range(1, steps + 1))
        target_rows = table.index.get_indexer(frame["date"])
        assert (target_rows - table.index.get_indexer(frame["origin_date"]) == frame["step"]).all()
        per_step = json.loads((repo / f"reports/models/{name}/per_step.json").read_text())
        assert list(per_step) == [str(k) for k in range(1, steps + 1)]
        headline = json.loads((repo / f"reports/models/{name}/metrics.json").read_text())
        assert per_step["1"] == headline


def test_mlflow_has_one_run_per_model_with_lineage(repo):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("seqcast")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == sorted(MODELS)

    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    raw_md5 = next(
        out["md5"]
        for out in lock["stages"]["download"]["outs"]
        if out["path"] == "data/raw/prices.parquet"
    )
    head = run(repo, "git", "rev-parse", "HEAD").stdout.strip()
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    for r in runs:
        name = r.info.run_name
        assert r.data.tags["model"] == name
        assert r.data.tags["git_commit"] == head
        assert r.data.tags["git_dirty"] == "false"  # the pipeline's own writes do not count
        assert r.info.artifact_uri.startswith((repo / "mlartifacts").as_uri())
        assert r.data.tags["data_md5"] == raw_md5
        assert r.data.params["window.length"] == "10"
        assert float(f"{r.data.metrics['rmse']:.6g}") == metrics[name]["rmse"]
        history = json.loads((repo / f"data/models/{name}/history.json").read_text())
        logged = client.get_metric_history(r.info.run_id, "val_loss")
        assert [m.value for m in sorted(logged, key=lambda m: m.step)] == history["val_loss"]
        artifacts = {a.path for a in client.list_artifacts(r.info.run_id, "report")}
        assert {"report/predictions.csv", "report/forecast.png"} <= artifacts


def test_second_repro_reruns_nothing(repo):
    result = run(repo, "dvc", "repro")
    assert result.returncode == 0
    assert "Running stage" not in result.stdout


def test_changing_one_model_reruns_only_its_stages(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["models"]["lstm"]["hidden_size"] = 16
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    try:
        result = run(repo, "dvc", "repro")
        assert result.returncode == 0, result.stderr
        ran = {line.split("'")[1] for line in result.stdout.splitlines() if "Running stage" in line}
        assert ran == {"train@lstm", "evaluate@lstm", "compare"}
    finally:
        write_params(repo, {})
        run(repo, "dvc", "checkout", "-q")


@pytest.mark.parametrize(
    ("update", "stage", "message", "output"),
    [
        (
            {"data": {"ticker": "ZZZZ"}},
            "download",
            "data.ticker = 'ZZZZ': not in the sample snapshot",
            "data/raw/prices.parquet",
        ),
        (
            {"window": {"length": 5000}},
            "window",
            "window.length = 5000: too long for the training split",
            "data/windows",
        ),
        (
            {"features": {"lags": -1}},
            "featurize",
            "features.lags = -1: Input should be greater than or equal to 0",
            "data/features/features.parquet",
        ),
        (
            {"split": {"train": 1.5}},
            "split",
            "split.train = 1.5: Input should be less than 1",
            "data/split/split.parquet",
        ),
    ],
    ids=["unknown-ticker", "window-too-long", "negative-lag", "split-fraction"],
)
def test_bad_input_fails_with_one_clear_message_and_no_output(repo, update, stage, message, output):
    write_params(repo, update)
    try:
        result = run(repo, "dvc", "repro", stage)
        assert result.returncode != 0
        errors = [line for line in result.stderr.splitlines() if "seqcast" in line]
        assert len(errors) == 1, result.stderr
        assert message in errors[0]
        assert "Traceback" not in result.stderr
        assert not (repo / output).exists()
    finally:
        write_params(repo, {})
        run(repo, "dvc", "checkout", "-q")


def test_unknown_model_name_is_named_with_the_allowed_ones(repo):
    write_params(repo, {"models": {"enabled": ["naive", "transformer"]}})
    try:
        result = run(repo, sys.executable, "-m", "seqcast.params", "params.yaml")
        assert result.returncode == 2
        assert "models.enabled contains 'transformer'" in result.stderr
        assert "naive, linear, rnn, lstm, gru" in result.stderr
    finally:
        write_params(repo, {})
