"""Queued experiments, as a user runs them after `make repro`: three `dvc exp run --queue -S
...` + `dvc queue start -j 2` on a repository whose MLflow store the reproduction filled run
in temporary clones under .dvc/tmp/exps, two at a time, all succeed, log to the repository's
own store and register their candidates there without moving `champion`; `dvc exp show` and
MLflow agree on every number.

The same experiments read back from MLflow, over the REST API of a tracking server on
loopback and in its UI in headless Chromium: one parent run per experiment, finished; model
runs nested under it, named apart; every result-changing param, a model's own under its
name; the params each experiment changed; the raw data as dataset; an experiment that opens
in the model-training view."""

import json
import subprocess
import sys
import time
from pathlib import Path

import browser
import pytest
import yaml
from mlflow.tracking import MlflowClient
from repo_helpers import clone_repo, commit, run, subprocess_env
from test_ui import mlflow_ui, params, tags

from seqcast.ops import pipeline_run, tracking
from seqcast.ops.model_registry import CHAMPION

EXPERIMENTS = {"alpha-small": 0.01, "alpha-large": 100.0, "alpha-mid": 3.0}  # models.linear.alpha
RESULT_SECTIONS = {"data", "features", "split", "scale", "window", "target", "multistep"}
RESULT_SECTIONS |= {"forecast", "backtest", "seeds", "train", "models"}
UI_WAIT_S = 120  # the single-page app renders well after the page loads, on 2 busy cores
METRICS = "reports/metrics.json"
DEADLINE_S = 600
STATUS_EVERY_S = 15
# How many plots on a `dvc plots` page vega-embed has drawn
DRAWN = (
    "return [...document.querySelectorAll('.vega-embed')]"
    ".filter(e => e.querySelector('canvas, svg')).length"
)


def _finished(repo: Path) -> set[str]:
    """Experiments whose results DVC has committed (a git ref each): cheap to ask often."""
    refs = run(repo, "git", "for-each-ref", "--format=%(refname:lstrip=-1)", "refs/exps")
    return set(refs.stdout.split()) & set(EXPERIMENTS)


def _statuses(repo: Path) -> dict[str, str]:
    result = run(repo, "dvc", "queue", "status")
    assert result.returncode == 0, result.stderr
    statuses = {}
    for line in result.stdout.splitlines():
        cells = line.split()
        if len(cells) >= 2 and cells[1] in EXPERIMENTS:
            statuses[cells[1]] = cells[-1]
    return statuses


@pytest.fixture(scope="module")
def queued(pipeline_repo, tmp_path_factory) -> Path:
    """The tiny pipeline's repository with the MLflow store its reproduction filled, after
    three queued experiments ran two at a time."""
    repo = clone_repo(pipeline_repo, tmp_path_factory.mktemp("queued"))
    commit(repo, "baseline with its lock and reports")
    assert (repo / "mlflow.db").is_file()
    for name, alpha in EXPERIMENTS.items():
        setting = f"models.linear.alpha={alpha}"
        result = run(repo, "dvc", "exp", "run", "--queue", "--name", name, "-S", setting)
        assert result.returncode == 0, result.stderr
    # The workers it starts run on in the background: with its output captured, this call
    # would wait for them through the inherited pipes.
    started = subprocess.run(
        ["dvc", "queue", "start", "-j", "2"],
        cwd=repo,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )
    assert started.returncode == 0
    try:
        deadline = time.monotonic() + DEADLINE_S
        asked = time.monotonic()
        # Polling `dvc queue status` would take CPU from the experiments; the refs are cheap.
        while _finished(repo) != set(EXPERIMENTS):
            assert time.monotonic() < deadline, "queued experiments did not finish in time"
            if time.monotonic() - asked > STATUS_EVERY_S:
                if not set(_statuses(repo).values()) & {"Queued", "Running"}:
                    break  # one failed
                asked = time.monotonic()
            time.sleep(1)
        statuses = _statuses(repo)
        while set(statuses.values()) & {"Queued", "Running"}:  # the results are in already
            assert time.monotonic() < deadline, "queued experiments did not finish in time"
            time.sleep(1)
            statuses = _statuses(repo)
    except BaseException:
        run(repo, "dvc", "queue", "stop", "--kill")
        raise
    run(repo, "dvc", "queue", "stop")  # idle workers would otherwise linger for a minute or two
    if statuses != dict.fromkeys(EXPERIMENTS, "Success"):
        logs = {name: run(repo, "dvc", "queue", "logs", name).stdout for name in EXPERIMENTS}
        pytest.fail(f"queued experiments: {statuses}\n{logs}")
    return repo


def _exp_show(repo: Path) -> dict[str, dict]:
    result = run(repo, "dvc", "exp", "show", "--json")
    assert result.returncode == 0, result.stderr
    baseline = json.loads(result.stdout)[1]  # [workspace, HEAD]
    return {
        rev["name"]: rev["data"]
        for exp in baseline["experiments"] or []
        for rev in exp["revs"]
        if rev["name"] in EXPERIMENTS
    }


def test_queued_runs_land_in_the_repositorys_store_and_agree_with_exp_show(queued):
    shown = _exp_show(queued)
    assert set(shown) == set(EXPERIMENTS)
    head = run(queued, "git", "rev-parse", "HEAD").stdout.strip()

    client = MlflowClient(tracking_uri=tracking.default_uri(queued))
    experiment = client.get_experiment_by_name("seqcast")
    runs = client.search_runs([experiment.experiment_id], "tags.`seqcast.kind` = 'model'")
    runs = [r for r in runs if "dvc_exp_name" in r.data.tags]  # not the reproduction's
    assert sorted(r.data.tags["dvc_exp_name"] for r in runs) == sorted(EXPERIMENTS)

    for mlflow_run in runs:
        name, tags = mlflow_run.data.tags["dvc_exp_name"], mlflow_run.data.tags
        data = shown[name]
        # Only linear's params changed: its stages (and compare) reran, nothing else.
        assert tags["model"] == "linear"
        assert (
            data["params"]["params.yaml"]["data"]["models"]["linear"]["alpha"]
            == (EXPERIMENTS[name])
        )
        assert mlflow_run.data.params["linear.alpha"] == str(EXPERIMENTS[name])
        shown_metrics = data["metrics"][METRICS]["data"]["linear"]
        logged = {k: float(f"{v:.6g}") for k, v in mlflow_run.data.metrics.items()}
        assert {k: logged[k] for k in shown_metrics} == shown_metrics
        # The same model directory and inputs, by the hashes DVC recorded for the experiment.
        assert tags["dvc_dep.data/models/linear"] == data["outs"]["data/models/linear"]["hash"]
        assert tags["dvc_dep.data/windows"] == data["deps"]["data/windows"]["hash"]
        # The experiment's lineage: its baseline commit, and the params it changed.
        assert tags["dvc_exp_baseline"] == tags["git_commit"] == head
        assert (tags["git_dirty"], tags["git_dirty_paths"]) == ("true", "params.yaml")
        assert mlflow_run.info.artifact_uri.startswith((queued / "mlartifacts").as_uri())

    # The experiments did differ from each other.
    rmse = {
        name: data["metrics"][METRICS]["data"]["linear"]["rmse"] for name, data in shown.items()
    }
    assert len(set(rmse.values())) == len(EXPERIMENTS)
    assert not list((queued / ".dvc/tmp/exps").rglob("mlflow.db"))


def test_each_queued_experiment_registers_a_candidate_and_leaves_champion_alone(queued):
    head = run(queued, "git", "rev-parse", "HEAD").stdout.strip()
    uri = tracking.default_uri(queued)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions("name = 'seqcast-AAPL'")
    by_experiment = {v.tags.get("dvc_exp_name"): v for v in versions}
    assert set(EXPERIMENTS) <= set(by_experiment), [v.tags for v in versions]
    for name in EXPERIMENTS:
        # The candidate's experiment and its baseline commit (its run may be older).
        assert by_experiment[name].tags["dvc_exp_baseline"] == head
    with pytest.raises(Exception, match="alias"):
        client.get_model_version_by_alias("seqcast-AAPL", CHAMPION)


def test_exp_show_and_metrics_diff_carry_the_headline_metrics_only(queued):
    result = run(queued, "dvc", "exp", "show", "--json")
    assert result.returncode == 0, result.stderr
    for data in _exp_show(queued).values():
        # per-step, per-seed, significance and fold detail stay in reports/, outside DVC's metrics
        assert set(data["metrics"]) == {METRICS}
        for model_metrics in data["metrics"][METRICS]["data"].values():
            assert len(model_metrics) <= 7
    diff = run(queued, "dvc", "metrics", "diff", "alpha-small", "alpha-large", "--json")
    assert diff.returncode == 0, diff.stderr
    changed = json.loads(diff.stdout)
    assert set(changed) == {METRICS}
    # Only linear's params differ: its numbers move, no other model's.
    assert {key.split(".")[0] for key, d in changed[METRICS].items() if d.get("diff")} == {"linear"}


def test_plots_diff_overlays_two_experiments_on_a_page_that_needs_no_network(queued, tmp_path):
    page = run(queued, sys.executable, "-m", "seqcast", "plot-page", ".dvc/plots/offline.html")
    assert page.returncode == 0, page.stderr
    out = tmp_path / "plots"
    result = run(queued, "dvc", "plots", "diff", *EXPERIMENTS, "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    plots = json.loads(result.stdout)["data"]
    assert set(plots) == {"forecasts", "error_by_step", "validation_loss", "training_loss"}
    for name, [plot] in plots.items():
        revisions = {row["rev"] for row in plot["content"]["data"]["values"]}
        assert revisions == set(EXPERIMENTS), name
    forecasts = plots["forecasts"][0]["content"]["data"]["values"]
    linear = {
        rev: [
            float(r["predicted"]) for r in forecasts if r["rev"] == rev and r["model"] == "linear"
        ]
        for rev in EXPERIMENTS
    }
    assert linear["alpha-small"] != linear["alpha-large"]

    html = run(queued, "dvc", "plots", "diff", *EXPERIMENTS, "-o", str(out))
    assert html.returncode == 0, html.stderr
    index = (out / "index.html").read_text()
    assert "cdn.jsdelivr" not in index and "<script src=" not in index
    binaries = browser.binaries()
    if binaries is None:
        pytest.skip("no Chromium here to render the page")
    with browser.headless_chromium(tmp_path / "profile") as chrome:
        chrome.open(out / "index.html")
        deadline = time.monotonic() + 30
        while (drawn := chrome.run(DRAWN)) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)  # vegaEmbed draws asynchronously
        fetched = chrome.run("return performance.getEntriesByType('resource').map(r => r.name)")
    assert drawn == 4
    assert fetched == []


@pytest.fixture(scope="module")
def ui(queued, tmp_path_factory):
    with mlflow_ui(queued, tmp_path_factory.mktemp("ui") / "server.log") as served:
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
    ours = [r for r in runs if tags(r).get("dvc_exp_name") in EXPERIMENTS]
    assert len(ours) == sum(1 + len(e["children"]) for e in by_experiment.values())
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


def test_each_dvc_experiment_is_one_parent_run_that_compare_finished(served, queued, ui):
    head = run(queued, "git", "rev-parse", "HEAD").stdout.strip()
    enabled = yaml.safe_load((queued / "params.yaml").read_text())["models"]["enabled"]
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
        assert _dataset(parent)["digest"] == _raw_md5(queued)


def test_model_runs_are_named_apart_and_log_every_result_changing_param(served, queued):
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
        assert dataset["digest"] == child_tags["data_md5"] == _raw_md5(queued)
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
