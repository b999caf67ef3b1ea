"""The metric gate: verdicts against hand-computed tolerances, the table, the exit codes,
and, on the real pipeline, failing on a worsened model and passing on an unchanged one."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from repo_helpers import ROOT, clone_repo, commit, run, write_params

from seqcast import gate
from seqcast.errors import SeqcastError
from seqcast.params import GateParams, MetricRule, SkillFloor, parse_params

LOWER = MetricRule(better="lower", rel_tol=0.01)
HIGHER = MetricRule(better="higher", abs_tol=0.005)
BOTH = MetricRule(better="lower", abs_tol=0.5, rel_tol=0.01)


@pytest.mark.parametrize(
    ("before", "after", "rule", "verdict"),
    [
        (100.0, 100.0, LOWER, gate.SAME),
        (100.0, 100.9, LOWER, gate.WITHIN),  # worse by 0.9 <= 1% of 100
        (100.0, 101.5, LOWER, gate.WORSE),  # worse by 1.5 > 1
        (100.0, 98.0, LOWER, gate.BETTER),
        (100.0, 99.5, LOWER, gate.WITHIN),  # better, but within tolerance
        (10.0, 10.4, BOTH, gate.WITHIN),  # tolerance max(0.5, 0.1) = 0.5
        (10.0, 10.6, BOTH, gate.WORSE),
        (1000.0, 1009.0, BOTH, gate.WITHIN),  # tolerance max(0.5, 10) = 10
        (0.9, 0.896, HIGHER, gate.WITHIN),  # lower is worse here: by 0.004 <= 0.005
        (0.9, 0.894, HIGHER, gate.WORSE),  # by 0.006
        (0.9, 0.91, HIGHER, gate.BETTER),
        (-0.3, -0.3, MetricRule(better="higher"), gate.SAME),
        (-0.3, -0.3000001, MetricRule(better="higher"), gate.WORSE),  # zero tolerance
        (1.0, math.nan, LOWER, gate.NOT_A_NUMBER),
    ],
)
def test_judge_applies_direction_and_the_looser_tolerance(before, after, rule, verdict):
    assert gate.judge(before, after, rule) == verdict


def _gate(**rules) -> GateParams:
    return GateParams(metrics=rules or {"rmse": LOWER}, skill=SkillFloor(model="linear"))


def test_compare_lists_committed_rows_first_and_flags_missing_new_and_unruled():
    before = {"naive.rmse": 1.0, "linear.rmse": 2.0, "linear.mae": 1.5, "gru.rmse": 3.0}
    after = {"naive.rmse": 1.0, "linear.rmse": 2.1, "linear.mae": 9.0, "lstm.rmse": 4.0}
    rows = gate.compare(before, after, _gate(rmse=LOWER))
    assert [(r.metric, r.before, r.after, r.verdict) for r in rows] == [
        ("naive.rmse", 1.0, 1.0, gate.SAME),
        ("linear.rmse", 2.0, 2.1, gate.WORSE),  # 5% worse
        ("linear.mae", 1.5, 9.0, gate.NO_RULE),  # shown, not judged
        ("gru.rmse", 3.0, None, gate.MISSING),
        ("lstm.rmse", None, 4.0, gate.NEW),
    ]
    assert [r.failed for r in rows] == [False, True, False, True, False]


def test_a_rule_for_a_metric_nobody_reports_is_an_error():
    with pytest.raises(SeqcastError) as info:
        gate.compare({"naive.rmse": 1.0}, {"naive.rmse": 1.0}, _gate(rmse=LOWER, rsme=LOWER))
    assert str(info.value) == (
        "gate.metrics.rsme: no model reports a metric of that name; the metrics are rmse"
    )


@pytest.mark.parametrize(
    ("skill", "verdict"),
    [(-0.29, gate.ABOVE), (-0.5, gate.BELOW), (-0.51, gate.BELOW), (None, gate.MISSING)],
)
def test_skill_floor_is_strict(skill, verdict):
    after = {"naive.rmse": 1.0} if skill is None else {"linear.skill_vs_naive": skill}
    row = gate.skill_floor(after, SkillFloor(model="linear", above=-0.5))
    assert row.metric == "linear.skill_vs_naive > -0.5"
    assert (row.before, row.after, row.verdict) == (-0.5, skill, verdict)


def test_table_has_metric_before_after_change_verdict():
    rows = [
        gate.Row("linear.rmse", 1.5, 1.6, gate.WORSE),
        gate.Row("naive.skill_vs_naive", 0.0, 0.0, gate.SAME),
        gate.Row("gru.rmse", 3.0, None, gate.MISSING),
        gate.Row("linear.skill_vs_naive > -0.5", -0.5, -0.25, gate.ABOVE),
    ]
    assert gate.format_table(rows) == "\n".join(
        [
            "metric                        before  after         change  verdict",
            "----------------------------  ------  -----  -------------  -----------",
            "linear.rmse                      1.5    1.6  +0.1 (+6.67%)  WORSE",
            "naive.skill_vs_naive               0      0              0  same",
            "gru.rmse                           3      -                 MISSING",
            "linear.skill_vs_naive > -0.5    -0.5  -0.25                 above floor",
        ]
    )


def test_metrics_files_must_be_model_metric_numbers():
    assert gate.flatten({"a": {"rmse": 1, "r2": 0.5}}, "m.json") == {"a.rmse": 1.0, "a.r2": 0.5}
    for bad, where in [({"a": {"rmse": "x"}}, "a.rmse = 'x'"), ({"rmse": 1.0}, "rmse = 1.0")]:
        with pytest.raises(SeqcastError) as info:
            gate.flatten(bad, "m.json")
        assert str(info.value) == f"m.json: {where}: expected {{model: {{metric: number}}}}"


def test_profile_merges_over_params_and_names_a_bad_key(tmp_path):
    (tmp_path / "profile.yaml").write_text(
        "train: {max_epochs: 7}\nmodels: {enabled: [naive, linear]}\n"
    )
    merged = gate.profile_params(ROOT / "params.yaml", tmp_path / "profile.yaml")
    params = parse_params(merged)
    assert params.train.max_epochs == 7
    assert params.train.patience == 10  # kept from params.yaml
    assert params.models.enabled == ["naive", "linear"]  # lists replace

    (tmp_path / "bad.yaml").write_text("train: {epochs: 7}\n")
    with pytest.raises(SeqcastError) as info:
        gate.profile_params(ROOT / "params.yaml", tmp_path / "bad.yaml")
    assert str(info.value).startswith(
        f"{ROOT / 'params.yaml'} + {tmp_path / 'bad.yaml'}: train.epochs = 7: unknown key"
    )


def test_no_pipeline_stage_depends_on_the_gate_section():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        body = stage.get("do", stage)
        assert not [p for p in body.get("params", []) if str(p).split(".")[0] == "gate"], name


# The command line, on a small git repository of its own.


def _gate_cli(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "seqcast.gate", *args], cwd=repo, capture_output=True, text=True
    )


METRICS = {
    "naive": {"rmse": 1.0, "skill_vs_naive": 0.0},
    "linear": {"rmse": 1.2, "skill_vs_naive": -0.2},
}
RULES = {
    "metrics": {
        "rmse": {"better": "lower", "rel_tol": 0.01},
        "skill_vs_naive": {"better": "higher", "abs_tol": 0.01},
    },
    "skill": {"model": "linear", "above": -0.5},
}


@pytest.fixture
def small_repo(tmp_path) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"gate": RULES}))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/metrics.json").write_text(json.dumps(METRICS))
    commit(tmp_path, "baseline")
    return tmp_path


def _write(repo: Path, metrics: dict) -> None:
    (repo / "reports/metrics.json").write_text(json.dumps(metrics))


def test_cli_passes_on_unchanged_metrics(small_repo):
    result = _gate_cli(small_repo)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["metric", "before", "after", "change", "verdict"]
    assert lines[-1] == "gate: passed against HEAD:reports/metrics.json (5 checks)"


def test_cli_fails_on_a_regression_and_names_it(small_repo):
    _write(small_repo, {**METRICS, "linear": {"rmse": 1.8, "skill_vs_naive": -0.8}})
    result = _gate_cli(small_repo)
    assert result.returncode == 1
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:-2]}
    assert rows["naive.rmse"] == ["1", "1", "0", "same"]
    assert rows["linear.rmse"] == ["1.2", "1.8", "+0.6", "(+50.00%)", "WORSE"]
    assert rows["linear.skill_vs_naive"] == ["-0.2", "-0.8", "-0.6", "(-300.00%)", "WORSE"]
    assert result.stdout.splitlines()[-1] == (
        "gate: FAILED against HEAD:reports/metrics.json: 3 regression(s): linear.rmse, "
        "linear.skill_vs_naive, linear.skill_vs_naive > -0.5"
    )


def test_cli_compares_with_any_ref(small_repo):
    _write(small_repo, {**METRICS, "linear": {"rmse": 1.8, "skill_vs_naive": -0.2}})
    commit(small_repo, "worse")
    assert _gate_cli(small_repo).returncode == 0  # HEAD holds the worse numbers
    result = _gate_cli(small_repo, "--ref", "HEAD~1")
    assert result.returncode == 1
    assert "FAILED against HEAD~1:reports/metrics.json: 1 regression(s): linear.rmse" in (
        result.stdout
    )


def test_cli_without_a_committed_baseline_fails_clearly(small_repo):
    result = _gate_cli(small_repo, "--metrics", "ci/metrics.json")
    assert result.returncode == 2
    assert result.stderr.startswith("seqcast gate: error: no committed ci/metrics.json at HEAD")
    assert "to make it the baseline, review the fresh ci/metrics.json and commit it" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


# The real pipeline, on a copy of the session's tiny pipeline repository.


@pytest.fixture(scope="module")
def gated_repo(pipeline_repo, tmp_path_factory) -> Path:
    """The tiny pipeline's repository with its fresh metrics committed as the baseline."""
    repo = clone_repo(pipeline_repo, tmp_path_factory.mktemp("gated"))
    commit(repo, "baseline metrics")
    return repo


def test_gate_passes_when_an_unchanged_model_is_retrained_from_scratch(gated_repo):
    stages = ["train@lstm", "evaluate@lstm", "compare"]
    result = run(gated_repo, "dvc", "repro", "--force", "--single-item", *stages)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Running stage") == 3

    result = run(gated_repo, sys.executable, "-m", "seqcast.gate")
    assert result.returncode == 0, result.stdout + result.stderr
    verdicts = [line.split()[-1] for line in result.stdout.splitlines()[2:-2]]
    metrics = json.loads((gated_repo / "reports/metrics.json").read_text())
    # Every metric of every model, digit for digit.
    assert verdicts == [gate.SAME] * sum(len(m) for m in metrics.values())


def test_gate_fails_on_a_deliberately_worsened_model(gated_repo):
    # No ridge penalty: least squares on the flattened window overfits the training years.
    write_params(gated_repo, {"models": {"linear": {"alpha": 0.0}}})
    try:
        result = run(gated_repo, "dvc", "repro")
        assert result.returncode == 0, result.stderr
        result = run(gated_repo, sys.executable, "-m", "seqcast.gate")
        assert result.returncode == 1
        lines = result.stdout.splitlines()
        rows = {line.split()[0]: line for line in lines[2:-2]}
        for metric in ("rmse", "mae", "mape", "mase", "skill_vs_naive"):
            assert rows[f"linear.{metric}"].endswith("WORSE"), rows[f"linear.{metric}"]
        assert rows["naive.rmse"].endswith("same")
        assert lines[-2].startswith("linear.skill_vs_naive > -0.05")
        assert lines[-2].endswith("BELOW FLOOR")
        assert "gate: FAILED against HEAD:reports/metrics.json" in result.stdout
    finally:  # back to the committed params, lock and reports, and their outputs
        run(gated_repo, "git", "checkout", "--", ".")
        run(gated_repo, "dvc", "checkout", "-q")


def test_changing_the_gate_section_reruns_no_stage(gated_repo):
    params = yaml.safe_load((gated_repo / "params.yaml").read_text())
    params["gate"]["skill"]["above"] = 0.5
    params["gate"]["metrics"]["rmse"]["rel_tol"] = 0.2
    (gated_repo / "params.yaml").write_text(yaml.safe_dump(params))
    try:
        result = run(gated_repo, "dvc", "status", "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {}
    finally:
        run(gated_repo, "git", "checkout", "--", "params.yaml")
