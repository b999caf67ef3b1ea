"""Tracking, fast: which pipeline execution a stage belongs to, which params a run logs,
the parent run that an execution's model runs share, the dataset, the experiment's kind."""

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import mlflow
import psutil
import pytest
import yaml
from mlflow.tracking import MlflowClient

from seqcast.jobs import run_params
from seqcast.ops import lineage, pipeline_run, tracking
from seqcast.params import parse_params

HOST = "testhost"


# Which execution a stage belongs to.


@pytest.mark.parametrize(
    ("cmdline", "command"),
    [
        (["/venv/bin/python", "/venv/bin/dvc", "repro"], "dvc repro"),
        (["dvc", "repro", "evaluate@lstm", "-f"], "dvc repro"),
        (["/usr/bin/dvc", "exp", "run", "-S", "models.linear.alpha=2"], "dvc exp run"),
        (["python", "-m", "dvc", "experiments", "run"], "dvc experiments run"),
        (["/v/bin/python", "/v/bin/dvc", "exp", "exec-run", "--infofile", "x"], "dvc exp exec-run"),
        (["dvc", "--cd", "sub", "-q", "repro"], "dvc repro"),
        (["dvc", "exp", "queue-worker", "dvc-exp-worker-1"], None),  # starts exec-runs
        (["dvc", "exp", "show"], None),
        (["dvc", "status"], None),
        (["/bin/sh", "-c", "python stages/evaluate.py lstm"], None),
        (["python", "/repo/stages/dvc_helper.py", "repro"], None),
    ],
)
def test_the_dvc_commands_that_run_stages_are_recognised(cmdline, command):
    assert lineage.dvc_command(cmdline) == command


# A stand-in for DVC: runs two "stages" through a shell, as DVC runs stage commands.
FAKE_DVC = """\
#!{python}
import os, subprocess, sys
print(f"dvc={{os.getpid()}}", flush=True)
stage = "{python} -c 'from seqcast.ops import lineage; print(lineage.current_execution().key)'"
for _ in range(2):
    subprocess.run(["/bin/sh", "-c", stage], check=True)
"""


def _stage_keys(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    dvc = tmp_path / "bin" / "dvc"
    dvc.parent.mkdir(exist_ok=True)
    dvc.write_text(FAKE_DVC.format(python=sys.executable))
    dvc.chmod(0o755)
    process = subprocess.Popen(
        [str(dvc), *args], stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    return out.split()


def test_the_stages_of_one_execution_share_its_key(tmp_path):
    dvc, first, second = _stage_keys(tmp_path, "repro")
    assert first == second
    assert first.split(":")[:2] == [os.uname().nodename, dvc.removeprefix("dvc=")]
    # Another execution, even of the same command, has another key.
    assert _stage_keys(tmp_path, "repro")[1] != first
    _, *exp = _stage_keys(tmp_path, "exp", "exec-run", env={"DVC_EXP_NAME": "quiet-lamb's"})
    assert exp[0] == exp[1] and exp[0].endswith(":quiet-lamb_s")  # no quote in a filter


def test_a_stage_run_by_hand_is_its_own_execution(tmp_path):
    _, first, second = _stage_keys(tmp_path, "status")
    assert first != second
    mine = lineage.current_execution()
    assert (mine.pid, mine.host) == (os.getpid(), os.uname().nodename)
    assert mine.running()


def test_a_finished_process_or_a_reused_pid_is_not_running():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not lineage.process_running(child.pid, "0.00")
    mine = lineage.current_execution()
    assert lineage.process_running(os.getpid(), mine.started)
    assert not lineage.process_running(os.getpid(), "12.34")  # the pid, another process


# The params an execution changed.


def _git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
    result = subprocess.run(
        ["git", *identity, *args], cwd=repo, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


def test_changed_params_against_the_baseline_leave_out_gate_and_tracking(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)
    assert lineage.changed_params(tmp_path) is None  # not a git repository
    base = {
        "window": {"length": 20},
        "models": {"enabled": ["naive", "linear"], "linear": {"alpha": 1.0}},
        "gate": {"skill": {"above": -0.5}},
        "tracking": {"experiment": "seqcast"},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(base))
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    baseline = _git(tmp_path, "rev-parse", "HEAD")
    assert lineage.changed_params(tmp_path) == []

    changed = {
        "window": {"horizon": 2},
        "models": {"enabled": ["naive", "linear", "lstm"], "linear": {"alpha": 0.01}},
        "gate": {"skill": {"above": 0.0}},
        "tracking": {"experiment": "other"},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(changed))
    assert lineage.changed_params(tmp_path) == [
        'models.enabled=["naive", "linear", "lstm"]',
        "models.linear.alpha=0.01",
        "window.horizon=2",
        "window.length=(removed)",
    ]
    # Under `dvc exp run`, against the experiment's baseline, not a later HEAD.
    _git(tmp_path, "commit", "-qam", "later")
    assert lineage.changed_params(tmp_path) == []
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", baseline)
    assert "models.linear.alpha=0.01" in lineage.changed_params(tmp_path)


def test_run_names_tell_executions_apart():
    execution = lineage.Execution(HOST, 1, "1.00", "dvc repro")
    commit = "0123456789abcdef"
    assert tracking.execution_label(execution, commit, []) == "0123456"
    assert tracking.execution_label(execution, commit, None) == "0123456"
    assert (
        tracking.execution_label(execution, commit, ["models.lstm.hidden_size=64"])
        == "0123456 models.lstm.hidden_size=64"
    )
    many = [f"models.lstm.hidden_size={n}" for n in range(10)]
    assert tracking.execution_label(execution, commit, many).endswith("...")
    assert len(tracking.execution_label(execution, commit, many)) < 80
    experiment = lineage.Execution(HOST, 1, "1.00", "dvc exp run", experiment="bold-fern")
    assert tracking.execution_label(experiment, commit, many) == "bold-fern"


# The params a run logs.


def _params(**update) -> object:
    raw = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())
    raw["models"]["enabled"] = ["naive", "linear", "lstm"]
    raw["models"]["lstm"]["train"] = {"learning_rate": 0.003}
    raw["train"]["learning_rate"] = 0.001
    for section, values in update.items():
        raw[section] |= values
    return parse_params(raw)


def test_a_models_run_logs_every_result_changing_section_and_its_own_under_its_name():
    params = _params()
    lstm = run_params.logged_params(params, "lstm")
    sections = {key.split(".")[0] for key in lstm}
    assert {"data", "features", "split", "scale", "window", "target", "multistep"} <= sections
    assert {"seeds", "backtest", "forecast", "train", "models", "lstm"} <= sections
    assert not sections & {"gate", "tracking", "model", "linear", "rnn", "gru"}
    assert lstm["lstm.hidden_size"] == "32" and lstm["lstm.nonlinearity"] == "tanh"
    # train.* as lstm trained, its override also shown as such
    assert lstm["train.learning_rate"] == lstm["lstm.train.learning_rate"] == "0.003"
    assert lstm["models.enabled"] == '["naive", "linear", "lstm"]'
    assert lstm["multistep.steps"] == str(params.multistep.steps)
    assert lstm["target.transform"] == params.target.transform
    assert lstm["seeds.count"] == "1" and lstm["backtest.origins"] == "[3, 2, 1]"
    assert all(isinstance(v, str) for v in lstm.values())

    linear = run_params.logged_params(params, "linear")
    assert linear["linear.alpha"] == "1.0" and linear["train.learning_rate"] == "0.001"
    assert not any(key.startswith(("lstm.", "model.")) for key in linear)
    assert run_params.logged_params(params, "naive").keys() < linear.keys()


def test_the_pipelines_run_logs_every_enabled_models_section():
    logged = run_params.logged_params(_params())
    assert logged["linear.alpha"] == "1.0" and logged["lstm.hidden_size"] == "32"
    assert logged["train.learning_rate"] == "0.001"  # shared; lstm's own is lstm.train.*
    assert logged["lstm.train.learning_rate"] == "0.003"
    assert not any(
        key.startswith(("rnn.", "gru.", "numpy_", "gate.", "tracking.")) for key in logged
    )


# Runs in a store.


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture
def client(store, monkeypatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    return MlflowClient()


def test_the_experiment_opens_in_the_model_training_view(client, store):
    experiment = tracking.use_experiment("kind-new", store)
    assert client.get_experiment(experiment).tags["mlflow.experimentKind"] == (
        "custom_model_development"
    )
    older = client.create_experiment("kind-old")  # made before the tag existed
    assert "mlflow.experimentKind" not in client.get_experiment(older).tags
    assert tracking.use_experiment("kind-old", store) == older
    assert client.get_experiment(older).tags["mlflow.experimentKind"] == (
        "custom_model_development"
    )


def test_params_over_one_batch_and_over_mlflows_length_limit_are_logged(client, store):
    run = client.create_run(tracking.use_experiment("batches", store))
    params = {f"p{i:03d}": str(i) for i in range(250)} | {"long": "x" * 7000}
    pipeline_run.log_params(client, run.info.run_id, params)
    logged = client.get_run(run.info.run_id).data.params
    assert len(logged) == 251 and logged["p249"] == "249"
    assert len(logged["long"]) == 6000 and logged["long"].endswith("...")


def _dataset() -> object:
    return tracking.DatasetInput(
        tracking.Dataset("t", "d", "local", '{"uri": "x.csv"}'),
        tags=[tracking.InputTag("mlflow.data.context", "training")],
    )


def _parent(client, experiment: str, execution: lineage.Execution) -> str:
    return pipeline_run.find_or_create(
        client,
        experiment,
        execution,
        name=f"pipeline · {execution.pid}",
        tags={"git_commit": "abc"},
        dataset=_dataset(),
    )


def _gone() -> lineage.Execution:
    """The execution of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return lineage.Execution(os.uname().nodename, child.pid, "1.00", "dvc repro")


def test_the_model_runs_of_one_execution_share_one_parent(client, store):
    experiment = tracking.use_experiment("parents", store)
    one = lineage.Execution(HOST, 11, "5.00", "dvc repro")
    other = lineage.Execution(HOST, 11, "6.00", "dvc repro")  # the pid, reused
    parent = _parent(client, experiment, one)
    assert _parent(client, experiment, one) == parent
    assert _parent(client, experiment, other) != parent
    run = pipeline_run.find(client, experiment, one)
    assert run.info.run_id == parent and run.info.status == "RUNNING"
    assert run.data.tags["seqcast.execution"] == one.key
    assert run.data.params == {}  # the compare stage logs them, as it ends the run
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["t"]


def test_a_parent_left_running_by_a_gone_execution_is_ended_by_the_next(client, store):
    experiment = tracking.use_experiment("abandoned", store)
    finished, failed, childless = _gone(), _gone(), _gone()
    live = lineage.current_execution()
    ids = {e: _parent(client, experiment, e) for e in (finished, failed, childless, live)}
    for execution, status in ((finished, "FINISHED"), (failed, "FAILED")):
        child = client.create_run(experiment, tags={"mlflow.parentRunId": ids[execution]})
        client.set_terminated(child.info.run_id, status=status)

    ended = pipeline_run.close_abandoned(client, experiment, live.host)
    assert sorted(ended) == sorted(ids[e] for e in (finished, failed, childless))
    status = {e: client.get_run(i).info.status for e, i in ids.items()}
    assert status == {finished: "FINISHED", failed: "FAILED", childless: "FAILED", live: "RUNNING"}
    why = client.get_run(ids[failed]).data.tags["seqcast.ended"]
    assert why.startswith("its execution (dvc repro) ended before a stage closed it")


def test_the_compare_stage_finishes_its_executions_parent(client, store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    params = parse_params({"tracking": {"experiment": "finish"}})
    report = tmp_path / "comparison.md"
    report.write_text("# report\n")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "f.png").write_bytes(b"png")
    metrics = {"naive": {"rmse": 2.0}, "linear": {"rmse": 1.5, "mae": 1.0}}
    files = [report, tmp_path / "figures"]
    logged = run_params.logged_params(params)
    # No evaluation reran in this execution (compare alone reran): compare makes the parent.
    parent = tracking.finish_pipeline_run("finish", logged, files, metrics)
    experiment = client.get_experiment_by_name("finish").experiment_id
    assert parent == _parent(client, experiment, lineage.current_execution())
    # Again in the same execution: the same parent, nothing new.
    assert tracking.finish_pipeline_run("finish", logged, files, metrics) == parent
    assert len(client.search_runs([experiment])) == 1
    run = client.get_run(parent)
    assert run.info.status == "FINISHED"
    assert run.data.params == logged  # the params, logged as the run ends
    assert run.data.metrics == {"naive.rmse": 2.0, "linear.rmse": 1.5, "linear.mae": 1.0}
    # Each model's current run, by its lineage: none in this store.
    assert (
        run.data.tags["seqcast.run.naive"]
        == run.data.tags["seqcast.run.linear"]
        == ("none in this store")
    )
    assert run.data.tags["seqcast.models"] == "naive, linear"
    listed = {a.path for a in client.list_artifacts(parent, "report")}
    assert listed == {"report/comparison.md", "report/figures"}


def test_without_a_store_the_compare_stage_creates_none(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.finish_pipeline_run("seqcast", {}, [], {"naive": {"rmse": 1.0}}) is None
    assert list(tmp_path.iterdir()) == []


# The raw data as the runs' dataset.


def test_the_raw_data_is_a_dataset_with_its_source_and_dvc_md5(prices, tmp_path):
    raw = tmp_path / "prices.parquet"
    prices.to_parquet(raw, index=False)
    md5 = hashlib.md5(raw.read_bytes()).hexdigest()

    origin = {"source": "sample", "path": "data/sample/stocks.csv"}  # download's source.json
    sample = tracking.raw_dataset(raw, origin, "AAPL", ["AAPL"])
    assert sample.dataset.digest == md5
    assert sample.dataset.name == "AAPL prices (sample)"
    assert (sample.dataset.source_type, sample.dataset.source) == (
        "local",
        '{"uri": "data/sample/stocks.csv"}',
    )
    assert '"num_rows": 200' in sample.dataset.profile
    assert [(t.key, t.value) for t in sample.tags] == [("mlflow.data.context", "training")]

    data = {"source": "yfinance", "ticker": "MSFT", "tickers": ["MSFT", "IBM"]}
    origin = {"source": "yfinance", "request": {"start": "2020-01-02", "end": "2021-01-04"}}
    origin["request"]["interval"] = "1d"
    online = tracking.raw_dataset(raw, origin, "MSFT", ["MSFT", "IBM"]).dataset
    assert online.name == "MSFT, IBM prices (yfinance)" and online.source_type == "http"
    assert "https://finance.yahoo.com/quote/MSFT/history/" in online.source

    data = {"source": "synthetic", "ticker": "noise", "target": "value"}
    data["synthetic"] = {"kind": "noise", "seed": 3}
    origin = {"source": "synthetic", "kind": "noise", "seed": 3}
    made = tracking.raw_dataset(raw, origin, "noise", ["noise"]).dataset
    assert made.source_type == "code" and '"seed": 3' in made.source


def test_a_table_with_integer_columns_logs_no_warning(prices, tmp_path, recwarn):
    raw = tmp_path / "prices.parquet"
    prices.to_parquet(raw, index=False)
    tracking.raw_dataset(raw, {"source": "sample", "path": "x.csv"}, "AAPL", ["AAPL"])
    assert [str(w.message) for w in recwarn] == []


def test_a_run_of_any_model_whose_process_is_gone_is_ended_failed(client, store):
    experiment = tracking.use_experiment("abandoned-any", store)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    owner = {
        "seqcast.host": socket.gethostname(),
        "seqcast.pid": str(gone.pid),
        "seqcast.pid_started": "0",
        "seqcast.kind": "model",
    }
    killed = client.create_run(experiment, tags={**owner, "model": "gru"}).info.run_id
    alive = {**owner, "seqcast.pid": str(os.getpid())}
    alive["seqcast.pid_started"] = lineage.start_time(psutil.Process())
    running = client.create_run(experiment, tags={**alive, "model": "lstm"}).info.run_id
    # Whichever model runs next ends it: no model filter.
    assert tracking.end_abandoned_runs(experiment) == [killed]
    assert client.get_run(killed).info.status == "FAILED"
    assert client.get_run(running).info.status == "RUNNING"
