"""End to end: `dvc repro` on a tiny params set in a temporary git copy of the repository.

Checks what a user relies on: every stage's outputs, one MLflow run per model with the
same numbers as the report, lineage tags that match dvc.lock, nothing rerun when
nothing changed, only one model's stages rerun when its params change, and one clear
error with no half-written output for each kind of bad input.

The session's reproduced pipeline (`pipeline_repo`) is read here; a test that changes
params or outputs works on its own copy (`pipeline_copy`), so no test depends on another.
"""

import io
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from browser import MISSING, binaries, headless_chromium, probe_report
from repo_helpers import BIN, run, write_params

MODELS = ["naive", "linear", "lstm", "numpy_gru"]  # repo_helpers.TINY
NETWORKS = MODELS[2:]
GATED = ["lstm", "numpy_gru"]


@pytest.fixture(scope="module")
def repo(pipeline_repo) -> Path:
    return pipeline_repo


def _ran(stdout: str) -> set[str]:
    return {line.split("'")[1] for line in stdout.splitlines() if "Running stage" in line}


def test_every_stage_writes_its_outputs(repo):
    for path in [
        "data/raw/prices.parquet",
        "data/features/features.parquet",
        "data/split/split.parquet",
        "data/scaled/scaler.json",
        "data/windows/test.npz",
        "reports/comparison.md",
        "reports/comparison.html",
        "reports/metrics.json",
        "reports/per_step.json",
        "reports/significance.json",
        "reports/predictions.csv",
        "reports/plots/error_by_step.csv",
        "reports/plots/loss.csv",
        "reports/figures/forecasts.png",
        "reports/figures/per_step.png",
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
    board = report.split("## Leaderboard")[1].split("\n## ")[0]
    rows = [line for line in board.splitlines() if line.startswith("| ") and "model" not in line]
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


def test_report_significance_and_html(repo, tmp_path):
    significance = json.loads((repo / "reports/significance.json").read_text())
    steps = yaml.safe_load((repo / "params.yaml").read_text())["multistep"]["steps"]
    assert sorted(significance) == sorted(m for m in MODELS if m != "naive")
    for tests in significance.values():
        assert [int(k) for k in tests] == list(range(1, steps + 1))
        assert all(t["horizon"] == int(k) for k, t in tests.items())
    report = (repo / "reports/comparison.md").read_text()
    assert "## Error by forecast step" in report and "figures/per_step.png" in report
    if binaries() is None:
        pytest.skip(MISSING)
    with headless_chromium(tmp_path) as browser:
        page = probe_report(browser, repo / "reports/comparison.html")
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert page["leaderboard"] == sorted(MODELS, key=lambda m: metrics[m]["rmse"])
    assert [image["alt"] for image in page["images"]] == [
        "Error by forecast step",
        "Forecast past the last observed date",
        "Forecasts against actual prices",
        "Training curves",
    ]
    assert all(i["complete"] and i["naturalWidth"] > 300 for i in page["images"])
    assert page["fetched"] == []


def test_forecast_past_the_last_date_by_the_best_model_on_validation(repo):
    summary = json.loads((repo / "reports/forecast/forecast.json").read_text())
    scores = summary["validation_rmse"]
    assert list(scores) == MODELS
    # The lowest validation RMSE among naive and the models that beat naive there with a
    # Holm-adjusted p < forecast.significance (0.05).
    p_holm = summary["validation_p_better_than_naive_holm"]
    assert set(p_holm) == set(MODELS) - {"naive"}
    eligible = {m: s for m, s in scores.items() if m == "naive" or p_holm[m] < 0.05}
    assert summary["model"] == min(eligible, key=eligible.get)
    assert "Holm" in summary["chosen_by"]
    assert summary["method"] == "recursive"
    forecast = pd.read_csv(repo / "reports/forecast/forecast.csv", parse_dates=["date"])
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert list(forecast.columns) == [
        "date", "step", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"
    ]  # fmt: skip
    assert (forecast["lower_95"] <= forecast["lower_80"]).all()
    assert (forecast["lower_80"] <= forecast["forecast"]).all()
    assert (forecast["forecast"] <= forecast["upper_80"]).all()
    assert (forecast["upper_80"] <= forecast["upper_95"]).all()
    assert len(forecast) == params["forecast"]["days"]
    last = pd.read_parquet(repo / "data/split/split.parquet").index[-1]
    assert summary["last_observed_date"] == last.strftime("%Y-%m-%d")
    expected = pd.bdate_range(last + pd.offsets.BDay(1), periods=len(forecast))
    assert forecast["date"].tolist() == expected.tolist()
    assert (repo / "reports/forecast/forecast.png").is_file()


def test_the_forecast_command_gives_the_forecast_stage_s_numbers_without_dvc(repo):
    stage_csv = (repo / "reports/forecast/forecast.csv").read_text()
    best = run(repo, str(BIN / "seqcast"), "forecast")
    assert best.returncode == 0, best.stderr
    assert best.stdout == stage_csv
    summary = json.loads((repo / "reports/forecast/forecast.json").read_text())
    assert f"forecast: {summary['model']} (best on validation, Holm-adjusted" in best.stderr

    naive = run(repo, str(BIN / "seqcast"), "forecast", "--model", "naive", "--days", "3")
    frame = pd.read_csv(io.StringIO(naive.stdout))
    assert frame["step"].tolist() == [1, 2, 3]
    # naive: no change from the last observed price (the CSV keeps six decimals)
    assert (
        frame["forecast"].tolist() == [pytest.approx(summary["last_observed_price"], abs=5e-7)] * 3
    )

    unknown = run(repo, str(BIN / "seqcast"), "forecast", "--model", "arima")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.strip().splitlines() == [
        f"seqcast forecast: error: --model arima: choose best, one of {', '.join(MODELS)} "
        "or models:/<name>@<alias>"
    ]


MODEL_RUNS = "tags.`seqcast.kind` = 'model'"  # the parent run of the execution aside


def test_mlflow_has_one_run_per_model_under_one_parent_with_lineage(repo):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("seqcast")
    runs = client.search_runs([experiment.experiment_id], MODEL_RUNS)
    assert sorted(r.data.tags["model"] for r in runs) == sorted(MODELS)
    [parent_id] = {r.data.tags["mlflow.parentRunId"] for r in runs}
    parent = client.get_run(parent_id)
    assert parent.data.tags["seqcast.kind"] == "pipeline"
    assert parent.info.status == "FINISHED"  # ended by the compare stage

    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    raw_md5 = next(
        out["md5"]
        for out in lock["stages"]["download"]["outs"]
        if out["path"] == "data/raw/prices.parquet"
    )
    head = run(repo, "git", "rev-parse", "HEAD").stdout.strip()
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    for r in runs:
        name = r.data.tags["model"]
        assert r.info.run_name.startswith(f"{name} · ")
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


def test_inspection_artifacts_in_reports_and_mlflow(repo):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("seqcast")
    runs = {
        r.data.tags["model"]: r for r in client.search_runs([experiment.experiment_id], MODEL_RUNS)
    }
    config = json.loads((repo / "data/models/lstm/config.json").read_text())
    n_features = config["net"]["input_size"]
    for name in MODELS:
        report = repo / f"reports/models/{name}"
        table = pd.read_csv(report / "parameters.csv")
        assert (report / "parameters.md").read_text().startswith(f"# {name}: learned parameters")
        assert (report / "gates.png").is_file() == (name in GATED), name
        artifacts = {a.path for a in client.list_artifacts(runs[name].info.run_id, "report")}
        assert "report/parameters.md" in artifacts and "report/parameters.csv" in artifacts
        assert ("report/gates.png" in artifacts) == (name in GATED), name
        if name in NETWORKS:
            rows = 4 if name.endswith("lstm") else 3 if name.endswith("gru") else 1
            shapes = dict(zip(table["name"], table["shape"], strict=True))
            assert shapes["rnn.weight_ih_l0"] == f"({rows * 8}, {n_features})", name
            assert shapes["rnn.weight_hh_l0"] == f"({rows * 8}, 8)", name
            assert runs[name].data.params["train.optimizer"] == "adam"
            assert runs[name].data.params["train.max_epochs"] == "3"


def test_second_repro_reruns_nothing(repo):
    result = run(repo, "dvc", "repro")
    assert result.returncode == 0
    assert "Running stage" not in result.stdout


@pytest.mark.parametrize(
    ("name", "change"),
    [("lstm", {"hidden_size": 16}), ("numpy_gru", {"train": {"learning_rate": 0.01}})],
    ids=["lstm-hidden-size", "numpy_gru-own-learning-rate"],
)
def test_changing_one_model_reruns_only_its_stages(pipeline_copy, name, change):
    repo = pipeline_copy
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["models"][name].update(change)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    result = run(repo, "dvc", "repro")
    assert result.returncode == 0, result.stderr
    # The forecast reruns too: the best model on validation may have changed; and the
    # registration of the model it chose. The sweep (of naive and linear here) does not:
    # each swept model has its own stage, which reads its own block alone.
    assert _ran(result.stdout) == {
        f"train@{name}", f"evaluate@{name}", "compare", "forecast", "register"
    }  # fmt: skip


def test_adding_a_backtest_origin_trains_only_the_new_folds(pipeline_copy):
    repo = pipeline_copy
    params = yaml.safe_load((repo / "params.yaml").read_text())
    origins = params["backtest"]["origins"]
    assert origins == [2, 1]
    write_params(repo, {"backtest": {"origins": [4, *origins, "2011-12-30"]}})
    result = run(repo, "dvc", "repro")
    assert result.returncode == 0, result.stderr
    new = {f"backtest@{o}-{m}" for o in (4, "2011-12-30") for m in params["backtest"]["models"]}
    assert _ran(result.stdout) == {*new, "check", "compare"}  # the check cuts every fold first
    summary = json.loads((repo / "reports/backtest.json").read_text())
    dates = list(summary["naive"]["folds"])
    assert len(dates) == len(origins) + 2 and dates == sorted(dates) and "2011-12-30" in dates


def test_backtest_folds_and_their_summary(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())["backtest"]
    summary = json.loads((repo / "reports/backtest.json").read_text())
    assert list(summary) == params["models"]
    test_start = json.loads((repo / "data/split/ranges.json").read_text())["test"]["start"]
    for model in params["models"]:
        rmse, ends = [], []
        for origin in params["origins"]:  # fold numbers: k blocks before the test split
            fold = repo / f"data/backtest/{origin}/{model}"
            blocks = json.loads((fold / "fold.json").read_text())
            day = blocks["origin"]
            assert blocks["val"]["end"] <= day < blocks["test"]["start"]
            assert blocks["test"]["rows"] == params["test_days"]
            assert blocks["test"]["end"] < test_start
            metrics = json.loads((fold / "metrics.json").read_text())
            assert summary[model]["folds"][day] == metrics
            rmse.append(metrics["rmse"])
            ends.append(blocks["test"]["end"])
        assert ends == sorted(ends)  # fold 3 first, fold 1 just before the test split
        assert summary[model]["mean"]["rmse"] == pytest.approx(sum(rmse) / len(rmse))
    assert "## Walk-forward backtest" in (repo / "reports/comparison.md").read_text()


def test_seeds_give_each_model_a_mean_and_spread(pipeline_copy):
    repo = pipeline_copy
    write_params(repo, {"models": {"enabled": ["naive", "gru"]}, "seeds": {"count": 2}})
    result = run(repo, "dvc", "repro")
    assert result.returncode == 0, result.stderr
    assert (repo / "data/models/gru/seeds/43/weights.pt").is_file()
    summary = json.loads((repo / "reports/seeds.json").read_text())
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    for name in ("naive", "gru"):
        assert list(summary[name]["seeds"]) == ["42", "43"]
        assert summary[name]["seeds"]["42"] == metrics[name]  # the leaderboard's model
    assert summary["naive"]["std"]["rmse"] == 0.0
    gru = [m["rmse"] for m in summary["gru"]["seeds"].values()]
    assert gru[0] != gru[1]
    assert summary["gru"]["mean"]["rmse"] == pytest.approx(sum(gru) / 2)
    assert "## Seed spread" in (repo / "reports/comparison.md").read_text()


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
            "data/raw/checked.json",  # the check stage catches it before anything trains
        ),
        (
            {"features": {"lags": -1}},
            "featurize",
            "features.lags = -1: Input should be greater than or equal to 0",
            "data/raw/checked.json",
        ),
        (
            {"split": {"train": 1.5}},
            "split",
            "split.train = 1.5: Input should be less than 1",
            "data/raw/checked.json",
        ),
    ],
    ids=["unknown-ticker", "window-too-long", "negative-lag", "split-fraction"],
)
def test_bad_input_fails_with_one_clear_message_and_no_output(
    pipeline_copy, update, stage, message, output
):
    repo = pipeline_copy
    write_params(repo, update)
    result = run(repo, "dvc", "repro", stage)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "seqcast" in line]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert "Traceback" not in result.stderr
    assert not (repo / output).exists()


def _csv_repo(repo: Path, frame: pd.DataFrame) -> None:
    """`frame` as the csv source, with the default's three backtest folds."""
    frame.to_csv(repo / "data" / "mine.csv", index=False)
    csv = {"source": "csv", "csv": {"path": "data/mine.csv"}}
    write_params(repo, {"data": csv, "backtest": {"origins": [3, 2, 1]}})


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            lambda aapl: aapl.tail(400),
            "backtest fold 3 does not fit this series of 399 rows: backtest.origins: ",
        ),
        (
            lambda aapl: aapl.tail(900).assign(open=5.0, high=5.0, low=5.0, close=5.0),
            "AAPL close is constant (5 on all 900 days): there is nothing to forecast",
        ),
    ],
    ids=["too-short-for-the-backtest", "constant"],
)
def test_the_check_stage_fails_before_anything_trains(pipeline_copy, rows, message):
    repo = pipeline_copy
    sample = pd.read_csv(repo / "data/sample/stocks.csv")
    _csv_repo(repo, rows(sample[sample["ticker"] == "AAPL"]))
    result = run(repo, "dvc", "repro")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "seqcast" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("seqcast check: error: ")
    assert message in errors[0]
    assert "Traceback" not in result.stderr
    assert "Running stage 'train@" not in result.stdout
    assert not (repo / "data/raw/checked.json").exists()


def test_params_seen_before_still_log_one_finished_run(pipeline_copy):
    """Back to params an earlier run had: DVC runs evaluate again instead of restoring it
    from its run-cache (persist), so the MLflow store holds a finished run for each."""
    import mlflow

    repo = pipeline_copy
    client = mlflow.tracking.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")

    def finished_linear_runs() -> int:
        experiment = client.get_experiment_by_name("seqcast").experiment_id
        runs = client.search_runs([experiment], "tags.model = 'linear'", max_results=1000)
        return sum(run.info.status == "FINISHED" for run in runs)

    before = finished_linear_runs()
    assert before == 1  # the copied store holds the session pipeline's run
    for update in ({"models": {"linear": {"alpha": 2.0}}}, {}):
        write_params(repo, update)
        result = run(repo, "dvc", "repro", "evaluate@linear")
        assert result.returncode == 0, result.stderr
        assert "Running stage 'evaluate@linear'" in result.stdout
    assert finished_linear_runs() == before + 2


def _parents(client, experiment: str) -> list:
    return client.search_runs([experiment], "tags.`seqcast.kind` = 'pipeline'")


def test_every_execution_that_reruns_a_stage_ends_with_one_complete_finished_parent(
    pipeline_copy,
):
    """An evaluation alone (compare skipped, as on a fresh clone), then the report alone
    (no evaluation): each execution leaves one FINISHED parent whose metrics are every
    enabled model's and whose tags name each model's current run."""
    from mlflow.tracking import MlflowClient

    repo = pipeline_copy
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("seqcast").experiment_id
    reported = json.loads((repo / "reports/metrics.json").read_text())

    def new_parent(before: set[str]):
        (parent,) = [p for p in _parents(client, experiment) if p.info.run_id not in before]
        assert parent.info.status == "FINISHED"
        assert {key.split(".")[0] for key in parent.data.metrics} == set(MODELS)
        for model in MODELS:
            assert parent.data.metrics[f"{model}.rmse"] == reported[model]["rmse"]
            current = client.get_run(parent.data.tags[f"seqcast.run.{model}"])
            assert (current.data.tags["model"], current.info.status) == (model, "FINISHED")
            assert current.data.metrics["rmse"] == pytest.approx(reported[model]["rmse"], rel=1e-5)
        return parent

    before = {p.info.run_id for p in _parents(client, experiment)}
    result = run(repo, "dvc", "repro", "-f", "-s", "evaluate@linear")
    assert result.returncode == 0, result.stdout + result.stderr
    parent = new_parent(before)
    (child,) = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert parent.data.tags["seqcast.run.linear"] == child.info.run_id
    assert not client.list_artifacts(parent.info.run_id, "report")  # compare did not run

    before.add(parent.info.run_id)
    markdown = repo / "src/seqcast/reporting/markdown.py"
    markdown.write_text(markdown.read_text() + "# a comment\n")
    result = run(repo, "dvc", "repro")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _ran(result.stdout) == {"compare"}
    parent = new_parent(before)
    assert parent.data.params["models.enabled"]  # compare logs the params
    listed = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert "report/comparison.md" in listed
