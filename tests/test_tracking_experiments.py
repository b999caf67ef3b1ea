"""Two DVC experiments read back from MLflow, over the REST API of a tracking server on
loopback and in its UI in headless Chromium: one parent run per experiment, finished by the
compare stage; model runs nested under it, named apart; every result-changing param, a
model's own under its name; the params each experiment changed; the raw data as dataset;
an experiment that opens in the model-training view."""

import json
from pathlib import Path

import browser
import pytest
import yaml
from repo_helpers import clone_repo, commit, run
from test_ui import mlflow_ui, params, tags

from seqcast.ops import pipeline_run

EXPERIMENTS = {"alpha-small": 0.01, "alpha-large": 100.0}  # models.linear.alpha
RESULT_SECTIONS = {"data", "features", "split", "scale", "window", "target", "multistep"}
RESULT_SECTIONS |= {"forecast", "backtest", "seeds", "train", "models"}
UI_WAIT_S = 120  # the single-page app renders well after the page loads, on 2 busy cores


@pytest.fixture(scope="module")
def experiments(pipeline_repo, tmp_path_factory) -> Path:
    """The tiny pipeline's repository, with a fresh MLflow store, after two `dvc exp run`s
    up to the report that change linear's alpha: linear's stages, its backtests and the
    report rerun."""
    # An empty store, so that the served runs are the two experiments' alone.
    repo = clone_repo(pipeline_repo, tmp_path_factory.mktemp("experiments"), store=False)
    commit(repo, "baseline with its lock and reports")
    for name, alpha in EXPERIMENTS.items():
        setting = f"models.linear.alpha={alpha}"
        result = run(repo, "dvc", "exp", "run", "compare", "--name", name, "-S", setting)
        assert result.returncode == 0, result.stdout + result.stderr
    return repo


@pytest.fixture(scope="module")
def ui(experiments, tmp_path_factory):
    with mlflow_ui(experiments, tmp_path_factory.mktemp("ui") / "server.log") as served:
        yield served


@pytest.fixture(scope="module")
def served(ui) -> dict:
    """The experiment, and per DVC experiment its parent run and the runs nested under it."""
    experiment = ui.experiment("seqcast")
    runs = ui.runs(experiment["experiment_id"])
    by_experiment = {}
    for name in EXPERIMENTS:
        parents = [
            r
            for r in runs
            if tags(r).get("dvc_exp_name") == name
            and tags(r).get(pipeline_run.KIND_TAG) == pipeline_run.PIPELINE
        ]
        assert len(parents) == 1, f"{name}: {len(parents)} parent runs"
        parent_id = parents[0]["info"]["run_id"]
        children = [r for r in runs if tags(r).get("mlflow.parentRunId") == parent_id]
        by_experiment[name] = {"parent": parents[0], "children": children}
    assert len(runs) == sum(1 + len(e["children"]) for e in by_experiment.values())
    return {"experiment": experiment, "runs": by_experiment}


def _raw_md5(repo: Path) -> str:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["download"]["outs"]
    return next(out["md5"] for out in lock if out["path"] == "data/raw/prices.parquet")


def _dataset(run: dict) -> dict:
    (given,) = run["inputs"]["dataset_inputs"]
    assert given["tags"] == [{"key": "mlflow.data.context", "value": "training"}]
    return given["dataset"]


def test_the_experiment_opens_in_the_model_training_view(served):
    experiment_tags = {t["key"]: t["value"] for t in served["experiment"]["tags"]}
    assert experiment_tags["mlflow.experimentKind"] == "custom_model_development"


def test_each_dvc_experiment_is_one_parent_run_that_compare_finished(served, experiments, ui):
    head = run(experiments, "git", "rev-parse", "HEAD").stdout.strip()
    enabled = yaml.safe_load((experiments / "params.yaml").read_text())["models"]["enabled"]
    for name, alpha in EXPERIMENTS.items():
        parent = served["runs"][name]["parent"]
        parent_tags, logged = tags(parent), params(parent)
        assert parent["info"]["run_name"] == f"pipeline · {name}"
        assert parent["info"]["status"] == "FINISHED"
        assert "seqcast.ended" not in parent_tags  # by compare, not by a later execution
        # What this experiment changed from its baseline commit, in the list and the note.
        assert parent_tags["seqcast.changed_params"] == f"models.linear.alpha={alpha}"
        assert f"`models.linear.alpha={alpha}`" in parent_tags["mlflow.note.content"]
        assert parent_tags["dvc_exp_baseline"] == parent_tags["git_commit"] == head
        # Every enabled model's own section, under its name; shared sections as they are.
        assert logged["linear.alpha"] == str(alpha)
        assert logged["lstm.hidden_size"] == logged["numpy_gru.hidden_size"] == "8"
        assert {key.split(".")[0] for key in logged} == RESULT_SECTIONS | set(enabled) - {"naive"}
        # The report and each model's headline metrics, from compare.
        metrics = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
        assert {key.split(".")[0] for key in metrics} == set(enabled)
        (linear,) = served["runs"][name]["children"]
        child_metrics = {m["key"]: m["value"] for m in linear["data"]["metrics"]}
        # As reports/metrics.json has them: 6 significant digits.
        assert metrics["linear.rmse"] == float(f"{child_metrics['rmse']:.6g}")
        listed = ui.rest(f"artifacts/list?run_id={parent['info']['run_id']}&path=report")
        assert "report/comparison.md" in {f["path"] for f in listed["files"]}
        assert _dataset(parent)["digest"] == _raw_md5(experiments)


def test_model_runs_are_named_apart_and_log_every_result_changing_param(served, experiments):
    names = set()
    for name, alpha in EXPERIMENTS.items():
        # Only linear's params changed: only its evaluation ran, under the experiment's parent.
        (child,) = served["runs"][name]["children"]
        child_tags, logged = tags(child), params(child)
        assert child_tags["model"] == "linear"
        names.add(child["info"]["run_name"])
        assert child["info"]["run_name"] == f"linear · {name}"
        assert logged["linear.alpha"] == str(alpha)
        assert {key.split(".")[0] for key in logged} == RESULT_SECTIONS | {"linear"}
        for section in ("target", "multistep", "seeds", "backtest"):
            assert any(key.startswith(f"{section}.") for key in logged), section
        assert child_tags["seqcast.changed_params"] == f"models.linear.alpha={alpha}"
        dataset = _dataset(child)
        assert dataset["name"] == "AAPL prices (sample)"
        assert dataset["digest"] == child_tags["data_md5"] == _raw_md5(experiments)
        assert (dataset["source_type"], json.loads(dataset["source"])) == (
            "local",
            {"uri": "data/sample/stocks.csv"},
        )
        assert '"num_rows"' in dataset["profile"]
    assert len(names) == len(EXPERIMENTS)


def _shown(value: float) -> str:
    """A metric as the MLflow UI writes it (Utils.formatMetric, for 0.001 <= |value|)."""
    digits = 3 if abs(value) < 10 else 2 if abs(value) < 100 else 1
    return f"{round(value, digits):.{digits}f}".rstrip("0").rstrip(".")


def _text_with(*parts: str) -> str:
    """A script that returns the page's text once every one of `parts` is on it."""
    return (
        "const text = document.body.innerText;"
        f"return {json.dumps(list(parts))}.every(p => text.includes(p)) ? text : '';"
    )


@pytest.mark.skipif(browser.binaries() is None, reason=browser.MISSING)
def test_the_ui_lists_the_experiments_and_compares_their_model_runs(served, ui, tmp_path):
    experiment = served["experiment"]["experiment_id"]
    printed = ui.log.read_text().split("MLflow UI on ", 1)[1].split()[0]
    assert printed == f"{ui.base}/#/experiments/{experiment}/runs?workflowType=machine_learning"
    children = [served["runs"][name]["children"][0] for name in EXPERIMENTS]
    with browser.headless_chromium(tmp_path / "profile") as chromium:
        chromium.visit(printed)
        parents = [f"pipeline · {name}" for name in EXPERIMENTS]
        listed = chromium.wait_for(_text_with(*parents, "AAPL prices (sample)"), UI_WAIT_S)
        assert listed, chromium.run("return document.body.innerText")
        # The model-training view: its sidebar has the model registry, GenAI's has judges.
        sidebar = chromium.run("return document.querySelector('aside').innerText")
        assert "Model registry" in sidebar and "Judges" not in sidebar

        ids = json.dumps([c["info"]["run_id"] for c in children])
        chromium.visit(
            f"{ui.base}/#/compare-runs?runs={ids}&experiments={json.dumps([experiment])}"
        )
        alphas = "\t".join(str(alpha) for alpha in EXPERIMENTS.values())
        changed = "\t".join(f"models.linear.alpha={alpha}" for alpha in EXPERIMENTS.values())
        names = [c["info"]["run_name"] for c in children]
        shown = [
            _shown(m["value"])
            for c in children
            for m in c["data"]["metrics"]
            if m["key"] in ("rmse", "mae")
        ]
        compared = chromium.wait_for(
            _text_with(*names, f"linear.alpha\t{alphas}", "rmse", *shown), UI_WAIT_S
        )
        assert compared, chromium.run("return document.body.innerText")
        assert f"seqcast.changed_params\t{changed}" in compared
