"""CI's lock check: a committed input or report that dvc.lock does not describe fails."""

import subprocess
from pathlib import Path

import pytest

from seqcast import cli
from seqcast.ops import lock_check
from seqcast.ops.lock_check import _git_tracked, leftovers, removed_stages, stale_entries

LOCK = {
    "stages": {
        "download": {"outs": [{"path": "data/raw/prices.parquet"}]},
        "compare": {"outs": [{"path": "reports/metrics.json"}, {"path": "reports/figures"}]},
    }
}


def test_changed_code_params_and_committed_reports_are_stale(monkeypatch):
    monkeypatch.setattr(
        "seqcast.ops.lock_check._git_tracked", lambda paths: {p for p in paths if "reports" in p}
    )
    status = {
        "download": [
            {"changed deps": {"src/seqcast/data/sources": "modified"}},
            {"changed outs": {"data/raw/prices.parquet": "not in cache"}},
        ],
        "featurize": [{"changed deps": {"params.yaml": {"features.lags": "modified"}}}],
        "compare": [
            "changed command",
            {"changed deps": {"data/raw/prices.parquet": "deleted"}},
            {"changed outs": {"reports/metrics.json": "modified"}},
        ],
    }
    assert stale_entries(status, LOCK) == [
        "download: src/seqcast/data/sources (modified)",
        "featurize: params.yaml: features.lags (modified)",
        "compare: cmd (changed command)",
        "compare: reports/metrics.json (modified)",
    ]


def test_outputs_missing_from_a_fresh_clone_are_not_stale(monkeypatch):
    monkeypatch.setattr("seqcast.ops.lock_check._git_tracked", lambda paths: set())
    status = {
        "download": [{"changed outs": {"data/raw/prices.parquet": "not in cache"}}],
        "compare": [{"changed deps": {"data/raw/prices.parquet": "deleted"}}],
    }
    assert stale_entries(status, LOCK) == []


def test_a_folder_holding_outputs_is_partial_in_a_fresh_clone_and_not_stale(tmp_path, monkeypatch):
    """CI runs the check before anything is reproduced: data/models holds only the
    .gitignore DVC wrote beside the model folders, and its hash differs from dvc.lock's."""
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    for path in ("data/models/.gitignore", "reports/metrics.json"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("x")
    subprocess.run(["git", "add", "."], check=True)
    lock = {
        "stages": {
            "train@gru": {"outs": [{"path": "data/models/gru"}]},
            "compare": {"outs": [{"path": "reports/metrics.json"}]},
        }
    }
    status = {
        "forecast": [{"changed deps": {"data/models": "modified"}}],
        "compare": [{"changed outs": {"reports/metrics.json": "modified"}}],
    }
    assert _git_tracked({"data/models", "reports"}) == {"reports"}
    assert stale_entries(status, lock) == ["compare: reports/metrics.json (modified)"]


def test_lock_entries_of_stages_no_longer_in_dvc_yaml_are_found():
    lock = {"stages": {"train@gru": {}, "backtest@2011-09-30-naive": {}}}
    assert removed_stages(lock, ["train@gru", "backtest@3-naive"]) == [
        "backtest@2011-09-30-naive: in dvc.lock, not in dvc.yaml (delete its entry from dvc.lock)"
    ]


def test_leftovers_of_removed_stages_in_a_folder_dependency_are_found(tmp_path):
    lock = {
        "stages": {
            "backtest@1-naive": {"outs": [{"path": "data/backtest/1/naive"}]},
            "compare": {"deps": [{"path": "data/backtest", "nfiles": 3}, {"path": "src"}]},
        }
    }
    for path in (
        "data/backtest/1/naive/metrics.json",
        "data/backtest/1/.gitignore",  # DVC's, beside a current output
        "data/backtest/2011-09-30/naive/metrics.json",  # a fold no longer in params
        "data/backtest/2011-09-30/.gitignore",
        "src/module.py",  # not a folder of outputs
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    assert leftovers(lock, tmp_path) == [
        "data/backtest: data/backtest/2011-09-30/.gitignore (no stage writes it; delete it)",
        "data/backtest: data/backtest/2011-09-30/naive/metrics.json (no stage writes it; "
        "delete it)",
    ]


def test_the_command_prints_the_verdict_and_exits_1_on_a_difference(monkeypatch, capsys):
    monkeypatch.setattr(lock_check, "differences", lambda: [])
    assert cli.main(["check-lock"]) == 0
    assert capsys.readouterr() == (lock_check.MATCH + "\n", "")
    monkeypatch.setattr(lock_check, "differences", lambda: ["compare: reports/x.json (modified)"])
    assert cli.main(["check-lock"]) == 1
    stale = f"{lock_check.STALE}\n  compare: reports/x.json (modified)\n"
    assert capsys.readouterr() == ("", stale)


def test_outside_a_dvc_repository_the_command_gives_dvcs_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text("stages: {}\n")
    with pytest.raises(SystemExit) as info:
        cli.main(["check-lock"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("seqcast check-lock: error: dvc status --json failed (exit ")
    assert ": ERROR: you are not inside of a DVC repository" in err
    assert len(err.splitlines()) == 1
