"""Sweeps: the units of sweep.*, their ids, the cache, retries and the summary against naive.

The executors themselves, the Ray cluster and the MLflow server: tests/test_sweep_cluster.py.
"""

import json
import sys

import numpy as np
import pandas as pd
import pytest
from sweep_helpers import TICKERS, InProcess, kaggle_csv, sweep_params, sweep_raw

from seqcast.errors import SeqcastError
from seqcast.jobs.sweep import grid_units, run_sweep
from seqcast.jobs.sweep_units import run_task, unit_id, unit_params
from seqcast.ops.sweeps import executors, space, summary
from seqcast.ops.sweeps.units import Unit
from seqcast.params import parse_params


@pytest.fixture
def csv(tmp_path):
    return kaggle_csv(tmp_path / "all_stocks_5yr.csv")


def sweep(params, tmp_path, **options):
    options.setdefault("executor", InProcess())
    return run_sweep(params, cache=tmp_path / "units", track=False, progress=lambda _: None,
                     **options)  # fmt: skip


def test_a_grid_is_every_combination_in_the_order_written():
    assert space.grid({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert space.grid({}) == [{}]


def test_the_units_are_tickers_x_models_x_configs_x_seeds_x_folds(csv):
    # a space of a model left out of sweep.models is checked, not run
    units = grid_units(
        sweep_params(csv, space={"linear": {"alpha": [0.1, 10.0]}, "rnn": {"hidden_size": [3]}}),
        list(TICKERS),
    )
    # naive 1 + linear 2 configs + gru 1, each with 2 seeds and 2 folds, on 2 tickers
    assert len(units) == 2 * (1 + 2 + 1) * 2 * 2
    assert len(set(units)) == len(units) and "rnn" not in {u.model for u in units}


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"space": {"gru": {"hiden": [8]}}}, "sweep.space.gru.hiden: gru has no key 'hiden'"),
        ({"space": {"gru": {"hidden_size": ["x"]}}}, "sweep.space.gru.hidden_size"),
        ({"space": {"lstn": {"hidden_size": [8]}}}, "sweep.space has 'lstn': not a known model"),
        ({"space": {"lstm": {"hidden_size": [0]}}}, "sweep.space.lstm.hidden_size"),
        (
            {"space": {"gru": {"train.learning_rate": {"low": 0.1, "high": 1}}}},
            "needs sweep.search: tpe",
        ),
        ({"models": ["naive", "prophet"]}, "sweep.models contains 'prophet'"),
        ({"seeds": [1, 1]}, "sweep.seeds = [1, 1]"),
        ({"space": {"linear": {"train.max_epochs": [3]}}}, "linear is not trained by epochs"),
    ],
)  # fmt: skip
def test_a_bad_sweep_section_names_the_key(csv, sweep, message):
    with pytest.raises(SeqcastError, match=message.replace("[", r"\[").replace("]", r"\]")):
        sweep_params(csv, **sweep)


def test_a_ticker_the_source_does_not_hold_is_named(csv, tmp_path):
    with pytest.raises(SeqcastError, match=r"loading sweep.tickers = \['AAA', 'CCC'\]: .*'CCC'"):
        sweep(sweep_params(csv, tickers=["AAA", "CCC"]), tmp_path)


def test_a_unit_id_changes_with_its_inputs_and_only_with_them(csv):
    params = sweep_params(csv)
    unit = Unit("AAA", "gru", "{}", 1, "1")
    base = unit_id(unit, unit_params(params, unit), "data", "code")
    assert base == unit_id(unit, unit_params(params, unit), "data", "code")
    others = [
        unit_id(unit, unit_params(params, unit), "other data", "code"),
        unit_id(unit, unit_params(params, unit), "data", "other code"),
        unit_id(Unit("AAA", "gru", "{}", 2, "1"), unit_params(params, unit), "data", "code"),
        unit_id(Unit("AAA", "gru", "{}", 1, "2"), unit_params(params, unit), "data", "code"),
    ]
    wider = unit_params(parse_params(sweep_raw(csv) | {"window": {"length": 12}}), unit)
    others.append(unit_id(unit, wider, "data", "code"))
    assert base not in others and len(set(others)) == len(others)
    # what changes no result changes no id: the gate, the tracking, the sweep's other keys
    raw = sweep_raw(csv, seeds=[1, 2, 3], tickers=["AAA"])
    raw["gate"]["alpha"] = 0.01
    raw["tracking"]["experiment"] = "elsewhere"
    assert unit_id(unit, unit_params(parse_params(raw), unit), "data", "code") == base


def test_a_unit_runs_with_its_config_seed_and_fold(csv):
    params = sweep_params(csv, space={"gru": {"hidden_size": [3]}})
    unit = Unit("AAA", "gru", space.config_text({"hidden_size": 3}), 2, "1")
    applied = unit_params(params, unit)
    assert applied.model_params("gru").hidden_size == 3 and applied.train.seed == 2
    assert applied.backtest.origins == [1] and applied.backtest.models == ["gru"]


def test_a_sweep_writes_one_row_per_unit_and_its_summary(csv, tmp_path):
    run = sweep(sweep_params(csv), tmp_path)
    table = run.table
    assert len(table) == 32 and run.ran == 32 and table["unit_id"].is_unique
    assert list(table[["ticker", "model"]].drop_duplicates().itertuples(index=False)) == [
        (t, m) for t in TICKERS for m in ("gru", "linear", "naive")
    ]
    row = table.iloc[0]
    assert len(row["dates"]) == len(row["actual"]) == 30  # backtest.test_days
    # the fold's test days follow each other: fold 2 right before fold 1
    folds = table[(table.ticker == "AAA") & (table.model == "naive") & (table.seed == 1)]
    two, one = (folds[folds.origin == o].iloc[0] for o in ("2", "1"))
    assert two["dates"][-1] < one["dates"][0]
    # naive's forecast is the price of the day before: its errors are naive's own
    assert np.allclose(two["predicted"], two["naive"])
    s = run.summary["tickers"]["AAA"]
    assert s["naive"]["beats_naive"] is False and s["naive"]["p_adjusted"] is None
    linear = table[(table.ticker == "AAA") & (table.model == "linear")]
    means = linear.groupby("config")["rmse"].mean()
    assert s["linear"]["best"] == json.loads(means.idxmin())
    assert s["linear"]["rmse"]["mean"] == pytest.approx(means.min())
    assert [c["rmse"] for c in s["linear"]["configs"]] == sorted(means)


def test_finished_units_are_not_run_again_and_a_new_seed_runs_only_its_units(csv, tmp_path):
    first = sweep(sweep_params(csv), tmp_path)
    again = InProcess()
    second = sweep(sweep_params(csv), tmp_path, executor=again)
    assert second.ran == 0 and again.submitted == []
    pd.testing.assert_frame_equal(first.table, second.table)
    more = InProcess()
    third = sweep(sweep_params(csv, seeds=[1, 2, 3]), tmp_path, executor=more)
    assert third.ran == len(more.submitted) == 16  # 2 tickers x 4 configs x 2 folds, seed 3
    assert {t.unit.seed for t in more.submitted} == {3}
    old = third.table[third.table.seed != 3].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, first.table)


def test_identical_params_give_identical_tables(csv, tmp_path):
    one = sweep(sweep_params(csv), tmp_path / "a")
    two = sweep(sweep_params(csv), tmp_path / "b")
    pd.testing.assert_frame_equal(one.table, two.table)
    assert one.summary == two.summary


FAILED_ONCE: set[str] = set()


def fails_once(task):
    if task.unit_id not in FAILED_ONCE:
        FAILED_ONCE.add(task.unit_id)
        raise RuntimeError("the node went away")
    return run_task(task)


def always_fails_on_bbb(task):
    if task.unit.ticker == "BBB":
        raise RuntimeError("no memory left")
    return run_task(task)


def test_a_failed_unit_is_tried_again(csv, tmp_path):
    params = sweep_params(csv, models=["naive", "linear"])
    run = sweep(params, tmp_path, run_unit=fails_once)
    assert run.retried == 24 and run.ran == 24
    pd.testing.assert_frame_equal(run.table, sweep(params, tmp_path / "b").table)


def test_units_that_keep_failing_end_the_sweep_and_the_rest_is_kept(csv, tmp_path):
    params = sweep_params(csv, models=["naive", "linear"])
    with pytest.raises(SeqcastError, match=r"12 unit\(s\) failed after 2 tries, e.g. BBB .*"):
        sweep(params, tmp_path, run_unit=always_fails_on_bbb)
    assert len(list((tmp_path / "units").glob("*.json"))) == 12  # AAA's
    rerun = sweep(params, tmp_path)
    assert rerun.ran == 12 and len(rerun.table) == 24


def bad_input_on_bbb(task):
    if task.unit.ticker == "BBB":
        raise SeqcastError("backtest.origins: fold 2 would end before the data starts")
    return run_task(task)


def test_bad_input_in_a_unit_ends_the_sweep_with_its_message_untried_again(csv, tmp_path):
    executor = InProcess()
    params = sweep_params(csv, models=["naive"], seeds=[1])
    with pytest.raises(SeqcastError, match=r"^BBB naive defaults seed 1 fold 2: backtest\.origins"):
        sweep(params, tmp_path, executor=executor, run_unit=bad_input_on_bbb)
    assert len(executor.submitted) == 4  # each unit once


def test_tpe_proposes_the_same_configs_whoever_runs_them(csv, tmp_path):
    space_ = {"linear": {"alpha": {"low": 0.01, "high": 100.0, "log": True}}}
    params = sweep_params(csv, models=["naive", "linear"], search="tpe", trials=4, space=space_)
    one = sweep(params, tmp_path / "a")
    two = sweep(params, tmp_path / "b")
    pd.testing.assert_frame_equal(one.table, two.table)
    linear = one.table[one.table.model == "linear"]
    assert linear.groupby("ticker")["config"].nunique().tolist() == [4, 4]
    assert len(one.table[one.table.model == "naive"]) == 2 * 2 * 2  # one config, one round


def test_the_summary_tests_the_best_config_against_naive_with_bonferroni():
    rng = np.random.default_rng(0)
    actual = 100 + np.cumsum(rng.normal(0, 1, 101))
    naive = actual[:-1]
    rows = []
    for config, noise in (('{"a":1}', 0.3), ('{"a":2}', 0.9)):
        for seed in (1, 2):
            predicted = actual[1:] - 0.6 * (actual[1:] - naive) + rng.normal(0, noise, 100)
            err = predicted - actual[1:]
            rows.append({"ticker": "T", "model": "m", "config": config, "seed": seed,
                         "origin": "1", "dates": [f"d{i:03d}" for i in range(100)],
                         "actual": actual[1:].tolist(), "predicted": predicted.tolist(),
                         "naive": naive.tolist(), "rmse": float(np.sqrt(np.mean(err**2))),
                         "mae": 0.0, "skill_vs_naive": 0.0})  # fmt: skip
    s = summary.summarize(pd.DataFrame(rows), 0.05)["tickers"]["T"]["m"]
    assert s["best"] == {"a": 1} and len(s["configs"]) == 2
    assert s["p_adjusted"] == pytest.approx(min(1.0, 2 * s["p_better_than_naive"]))
    assert s["beats_naive"] is (s["p_adjusted"] < 0.05) and s["beats_naive"]


def test_the_executor_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(executors.RAY_ADDRESS, raising=False)
    monkeypatch.setenv(executors.WORKERS, "3")
    pool = executors.from_environment(1)
    assert pool.workers == 3 and "3 process" in pool.description
    pool.close()
    monkeypatch.setenv(executors.WORKERS, "none")
    with pytest.raises(SeqcastError, match="SEQCAST_WORKERS = 'none'"):
        executors.from_environment(1)


def test_without_ray_a_cluster_address_says_how_to_install_it(monkeypatch):
    """`make repro` installs no Ray: asking for a cluster names the command that adds it."""
    monkeypatch.setitem(sys.modules, "ray", None)  # as in the runtime-only .venv
    monkeypatch.setenv(executors.RAY_ADDRESS, "127.0.0.1:6379")
    with pytest.raises(SeqcastError) as info:
        executors.from_environment(1)
    assert str(info.value) == (
        "SEQCAST_RAY_ADDRESS = 127.0.0.1:6379: Ray is not installed, and `make repro` does "
        "not install it: run `make ray` (or pip install -r requirements-ray.txt)"
    )


def test_with_the_local_store_the_driver_logs_a_parent_and_a_child_per_unit(
    csv, tmp_path, monkeypatch
):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)  # the local store: tmp_path/mlflow.db
    params = sweep_params(csv, models=["naive"], seeds=[1], experiment="sweeps")
    options = {"cache": tmp_path / "units", "progress": lambda _: None}
    first = run_sweep(params, executor=InProcess(), **options)
    second = run_sweep(params, executor=InProcess(), **options)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for run, ran_on in ((first, "not cache"), (second, "cache")):
        parent = client.get_run(run.parent_run_id)
        assert parent.info.status == "FINISHED" and parent.data.tags["seqcast.kind"] == "sweep"
        assert (
            parent.data.metrics["AAA.naive.rmse"]
            == run.summary["tickers"]["AAA"]["naive"]["rmse"]["mean"]
        )
        assert {a.path for a in client.list_artifacts(run.parent_run_id)} == {
            "results.parquet",
            "sweep.json",
        }
        kids = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{run.parent_run_id}'",
        )
        assert sorted(k.data.tags["seqcast.unit"] for k in kids) == sorted(run.table["unit_id"])
        assert {k.info.status for k in kids} == {"FINISHED"}
        tags = {k.data.tags["seqcast.ran_on"] for k in kids}
        assert (tags == {"cache"}) is (ran_on == "cache")
        assert {k.info.run_name for k in kids} >= {"AAA naive defaults seed 1 fold 2"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--set", "sweep.seeds"], "--set sweep.seeds: write KEY=VALUE"),
        (["--params", "nowhere.yaml"], "nowhere.yaml: not found"),
        (["--retries", "-1"], "--retries -1: use 0 (no retry) or more"),
        (["--workers", "0"], "--workers 0: use 1 or more"),
        (["--set", "sweep.seeds=[]"], "sweep.seeds = []: list each once, at least one"),
    ],
)
def test_the_sweep_command_names_bad_input(arguments, message, capsys):
    from seqcast.cli import main

    with pytest.raises(SystemExit) as ended:
        main(["sweep", *arguments])
    assert ended.value.code == 2
    assert message in capsys.readouterr().err


def test_the_report_s_sweep_section_says_which_best_configs_beat_naive():
    from seqcast.reporting.markdown import sweep_section

    def best(beats, p):
        return {"best": {"hidden_size": 32}, "configs": [{}, {}], "rmse": {"mean": 1.0, "std": 0.1},
                "naive_rmse": 1.1, "skill_vs_naive": {"mean": 0.09}, "p_adjusted": p,
                "beats_naive": beats}  # fmt: skip

    found = {"units": 16, "significance": 0.05, "folds": ["1", "2"], "seeds": [1, 2],
             "tickers": {"AAA": {"gru": best(True, 0.01), "naive": best(False, None)},
                         "BBB": {"gru": best(False, 0.4)}}}  # fmt: skip
    text = sweep_section(found)
    assert "| AAA | gru | hidden_size 32 | 2 | 1 ± 0.1 | 1.1 | 0.09 | 0.010 | yes |" in text
    assert "| AAA | naive | hidden_size 32 | 2 | 1 ± 0.1 | 1.1 | 0.09 |  | reference |" in text
    assert "| BBB | gru |" in text and text.rstrip().endswith("Beyond the noise: gru on AAA.")
    for model in found["tickers"]["AAA"].values():
        model["beats_naive"] = False
    assert "No best config beats naive beyond the noise" in sweep_section(found)
    assert "No sweep results" in sweep_section({})
