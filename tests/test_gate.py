"""The metric gate: the primary metric decides, beyond tolerance and beyond noise (the
Diebold-Mariano test on the committed and fresh predictions, the spread over seeds); the
other metrics are shown, never block; the table, the exit codes, and the command line on
a git repository of its own."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from repo_helpers import ROOT, TINY, commit, run, write_params

from seqcast.errors import SeqcastError
from seqcast.jobs import gate
from seqcast.params import PRIMARY_METRICS, GateParams, MetricRule, SkillFloor, parse_params
from seqcast.scoring import metrics
from seqcast.scoring.metrics import rounded

LOWER = MetricRule(better="lower", rel_tol=0.01)
HIGHER = MetricRule(better="higher", abs_tol=0.005)
BOTH = MetricRule(better="lower", abs_tol=0.5, rel_tol=0.01)
GATE = GateParams(
    metrics={
        "rmse": LOWER,
        "mae": LOWER,
        "r2": HIGHER,
        "skill_vs_naive": MetricRule(better="higher", abs_tol=0.01),
        "directional_accuracy": MetricRule(better="higher", abs_tol=0.01),
    },
    skill=SkillFloor(model="linear", above=-1.0),
)
MODELS = ["naive", "linear", "lstm"]


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
        (-0.3, -0.3000001, MetricRule(better="higher"), gate.WORSE),  # zero tolerance
        (1.0, math.nan, LOWER, gate.NOT_A_NUMBER),
    ],
)
def test_judge_applies_direction_and_the_looser_tolerance(before, after, rule, verdict):
    assert gate.judge(before, after, rule) == verdict


# Synthetic test targets and forecasts: 490 trading days of a random walk near 100.

N = 490
DATES = pd.bdate_range("2021-01-04", periods=N)
ACTUAL = 100 + np.cumsum(np.random.default_rng(0).normal(0, 1, N))
NAIVE = np.r_[ACTUAL[0] - 1, ACTUAL[:-1]]  # yesterday's price


def _errors(rmse: float, seed: int) -> np.ndarray:
    """Independent errors with exactly this root mean square."""
    z = np.random.default_rng(seed).normal(0, 1, N)
    return z * rmse / np.sqrt(np.mean(z**2))


LINEAR = NAIVE + _errors(0.1, 1)  # close to naive, as on daily prices
LSTM = ACTUAL + _errors(2.0, 2)


def _frame(predicted: dict[str, np.ndarray], dates: pd.DatetimeIndex = DATES) -> pd.DataFrame:
    frames = [
        pd.DataFrame({"model": model, "date": dates, "actual": ACTUAL, "predicted": values})
        for model, values in sorted(predicted.items())
    ]
    return pd.concat(frames, ignore_index=True)


def _csv(frame: pd.DataFrame) -> str:
    """As the compare stage writes predictions.csv."""
    return frame.to_csv(index=False, float_format="%.6f", date_format="%Y-%m-%d")


def _scores(predicted: np.ndarray, directional_accuracy: float) -> dict[str, float]:
    rmse = metrics.rmse(ACTUAL, predicted)
    return rounded(
        {
            "mae": metrics.mae(ACTUAL, predicted),
            "rmse": rmse,
            "r2": metrics.r2(ACTUAL, predicted),
            "skill_vs_naive": metrics.skill(rmse, metrics.rmse(ACTUAL, NAIVE)),
            "directional_accuracy": directional_accuracy,
        }
    )


COMMITTED = {"naive": NAIVE, "linear": LINEAR, "lstm": LSTM}
ACCURACY = {"naive": 0.0, "linear": 0.471, "lstm": 0.51}


def _metrics(predicted: dict[str, np.ndarray], accuracy: dict[str, float]) -> gate.Metrics:
    return {model: _scores(predicted[model], accuracy[model]) for model in predicted}


def _rows(
    fresh: dict[str, np.ndarray],
    accuracy: dict[str, float] = ACCURACY,
    *,
    committed: dict[str, np.ndarray] | str = COMMITTED,
    spreads: dict[str, tuple[int, float]] | None = None,
    enabled: list[str] = MODELS,
    fresh_dates: pd.DatetimeIndex = DATES,
) -> dict[str, gate.Row]:
    """The gate's rows by metric: fresh forecasts and accuracy against the committed ones,
    through the predictions.csv text as the gate reads it."""
    before = _metrics(COMMITTED, ACCURACY)
    after = _metrics(fresh, accuracy)
    fresh_frame = gate.parse_predictions(_csv(_frame(fresh, fresh_dates)), "fresh")
    if not isinstance(committed, str):
        committed = gate.parse_predictions(_csv(_frame(committed)), "HEAD:predictions.csv")
    noise = gate.noise_by_model(
        before, fresh_frame, committed, spreads or {}, gate.LOSSES["rmse"], horizon=1
    )
    rows = [*gate.compare(before, after, GATE, noise, enabled), gate.skill_floor(after, GATE.skill)]
    return {row.metric: row for row in rows}


def test_unchanged_forecasts_pass_with_every_verdict_same():
    rows = _rows(COMMITTED)
    assert {row.verdict for row in rows.values()} == {gate.SAME, gate.ABOVE}
    assert rows["lstm.rmse"].reason == "rmse unchanged"
    assert gate.summary(list(rows.values()), "HEAD", "reports/metrics.json", "rmse") == (
        "gate: passed against HEAD:reports/metrics.json (3 models judged on rmse)"
    )


def test_much_better_rmse_passes_though_directional_accuracy_drops():
    """hidden_size 64: LSTM RMSE 13.82 -> 3.40, directional accuracy 0.510 -> 0.465."""
    committed = {**COMMITTED, "lstm": ACTUAL + _errors(13.82, 2)}
    fresh = {**COMMITTED, "lstm": ACTUAL + _errors(3.40, 3)}
    before = _metrics(committed, {**ACCURACY, "lstm": 0.510})
    after = _metrics(fresh, {**ACCURACY, "lstm": 0.465})
    noise = gate.noise_by_model(
        before,
        gate.parse_predictions(_csv(_frame(fresh)), "fresh"),
        gate.parse_predictions(_csv(_frame(committed)), "committed"),
        {},
        gate.LOSSES["rmse"],
        horizon=1,
    )
    rows = gate.compare(before, after, GATE, noise, MODELS)
    by_metric = {row.metric: row for row in rows}

    lstm = by_metric["lstm.rmse"]
    assert (lstm.before, lstm.after, lstm.verdict) == (13.82, 3.4, gate.BETTER)
    assert lstm.reason == "rmse -75.4% beyond 1% tolerance: better"
    accuracy = by_metric["lstm.directional_accuracy"]
    assert (accuracy.verdict, accuracy.reason) == ("worse", "secondary: not gating")
    assert not any(row.failed for row in rows)
    assert gate.summary(rows, "HEAD", "reports/metrics.json", "rmse") == (
        "gate: passed against HEAD:reports/metrics.json (3 models judged on rmse; "
        "1 better: commit reports/metrics.json to raise the bar)"
    )


def test_a_worsened_model_fails_with_the_reason():
    # A much stronger ridge penalty pulls every forecast towards the training mean: a bias.
    rows = _rows({**COMMITTED, "linear": LINEAR + 1.5})
    row = rows["linear.rmse"]
    assert row.verdict == gate.WORSE and row.failed
    assert re.fullmatch(r"rmse \+\d+\.\d% > 1% tolerance, DM p=\S+ < 0\.05: worse", row.reason), (
        row.reason
    )
    p = float(re.search(r"p=(\S+)", row.reason).group(1))
    assert p < 1e-6
    assert rows["linear.mae"].verdict == "worse"  # secondary: shown, not counted
    assert not rows["linear.mae"].failed
    summary = gate.summary(list(rows.values()), "HEAD", "reports/metrics.json", "rmse")
    assert summary == "gate: FAILED against HEAD:reports/metrics.json: 1 regression(s): linear.rmse"


def test_worse_beyond_tolerance_but_not_significant_is_noise():
    # The same errors on other days, 3% larger: RMSE 3% worse, by luck of the draw.
    shuffled = np.random.default_rng(4).permutation(LSTM - ACTUAL) * 1.03
    rows = _rows({**COMMITTED, "lstm": ACTUAL + shuffled})
    row = rows["lstm.rmse"]
    assert row.verdict == gate.NOISE and not row.failed
    assert re.fullmatch(r"rmse \+3\.0% > 1% tolerance, DM p=\S+ >= 0\.05: noise", row.reason)
    assert float(re.search(r"p=(\S+)", row.reason).group(1)) > 0.05
    summary = gate.summary(list(rows.values()), "HEAD", "reports/metrics.json", "rmse")
    assert summary.endswith("(3 models judged on rmse; 1 worse within noise)")


@pytest.mark.parametrize(
    ("std", "verdict", "says"),
    [
        (0.05, gate.NOISE, "change <= 2 x std over 3 seeds (0.1): noise"),
        (0.01, gate.WORSE, "change > 2 x std over 3 seeds (0.02): worse"),
    ],
)
def test_with_several_seeds_the_change_must_exceed_their_spread(std, verdict, says):
    fresh = {**COMMITTED, "linear": LINEAR + 0.3}  # rmse +4%: significant, but small
    rows = _rows(fresh, spreads={"linear": (3, std), "lstm": (3, 0.5)})
    row = rows["linear.rmse"]
    assert row.verdict == verdict
    assert "< 0.05, " + says in row.reason, row.reason
    assert rows["lstm.rmse"].verdict == gate.SAME


def test_one_seed_is_no_spread():
    rows = _rows({**COMMITTED, "linear": LINEAR + 0.3}, spreads={"linear": (1, 0.0)})
    assert rows["linear.rmse"].verdict == gate.WORSE
    assert "seeds" not in rows["linear.rmse"].reason


def test_a_model_removed_from_models_enabled_is_a_visible_notice():
    fresh = {"naive": NAIVE, "linear": LINEAR}
    rows = _rows(fresh, enabled=["naive", "linear"])
    row = rows["lstm.rmse"]
    assert (row.before, row.after, row.verdict) == (2.0, None, gate.REMOVED)
    assert row.reason == "removed from models.enabled: no longer gated"
    assert not row.failed
    assert gate.summary(list(rows.values()), "HEAD", "reports/metrics.json", "rmse") == (
        "gate: passed against HEAD:reports/metrics.json (2 models judged on rmse); "
        "NOTICE: 1 model(s) removed from models.enabled, no longer gated: lstm"
    )


def test_an_enabled_model_without_fresh_metrics_fails():
    rows = _rows({"naive": NAIVE, "linear": LINEAR}, enabled=MODELS)
    row = rows["lstm.rmse"]
    assert (row.verdict, row.reason) == (
        gate.MISSING,
        "in models.enabled, but not in the fresh metrics",
    )
    assert row.failed


def test_a_new_model_is_reported_as_new():
    rows = _rows({**COMMITTED, "gru": LSTM}, {**ACCURACY, "gru": 0.5}, enabled=[*MODELS, "gru"])
    assert rows["gru.rmse"].verdict == gate.NEW
    assert rows["gru.rmse"].reason == "new model: nothing committed to compare with"
    assert rows["gru.r2"].verdict == gate.NEW
    assert gate.summary(list(rows.values()), "HEAD", "m.json", "rmse") == (
        "gate: passed against HEAD:m.json (3 models judged on rmse; 1 new, not gated)"
    )


def test_without_committed_predictions_the_tolerance_alone_decides():
    missing = "no committed reports/predictions.csv at HEAD"
    rows = _rows({**COMMITTED, "linear": LINEAR + 1.5}, committed=missing)
    assert rows["linear.rmse"].verdict == gate.WORSE
    assert rows["linear.rmse"].reason.endswith(
        "> 1% tolerance, no committed reports/predictions.csv at HEAD: tolerance only: worse"
    )
    # Within tolerance, no test is needed and none is mentioned.
    assert rows["lstm.rmse"].reason == "rmse unchanged"


def test_predictions_on_other_dates_are_not_paired():
    later = pd.bdate_range("2021-02-01", periods=N)
    rows = _rows({**COMMITTED, "linear": LINEAR + 1.5}, fresh_dates=later)
    assert rows["linear.rmse"].verdict == gate.WORSE
    assert (
        "predictions not paired: other test dates (490 committed from 2021-01-04, 490 fresh "
        "from 2021-02-01): tolerance only: worse"
    ) in rows["linear.rmse"].reason


def test_bounded_metrics_change_in_absolute_terms_error_metrics_also_in_percent():
    rows = [
        gate.Row("lstm.rmse", 13.82, 3.4, gate.BETTER, "rmse -75.4% beyond 1% tolerance: better"),
        gate.Row("lstm.r2", 0.0123, 0.1513, gate.BETTER, "secondary: not gating"),
        gate.Row("lstm.directional_accuracy", 0.51, 0.465, "worse", "secondary: not gating"),
        gate.Row("lstm.mae", 0.0, 0.25, "worse", "secondary: not gating"),  # no % of ~0
        gate.Row("linear.skill_vs_naive > -1", -1.0, -0.01, gate.ABOVE, "gate.skill", "floor"),
    ]
    assert gate.format_table(rows) == "\n".join(
        [
            "metric                      before   after            change  verdict      reason",
            "--------------------------  ------  ------  ----------------  -----------  "
            "---------------------------------------",
            "lstm.rmse                    13.82     3.4  -10.42 (-75.40%)  better       "
            "rmse -75.4% beyond 1% tolerance: better",
            "lstm.r2                     0.0123  0.1513            +0.139  better       "
            "secondary: not gating",
            "lstm.directional_accuracy     0.51   0.465            -0.045  worse        "
            "secondary: not gating",
            "lstm.mae                         0    0.25             +0.25  worse        "
            "secondary: not gating",
            "linear.skill_vs_naive > -1      -1   -0.01                    above floor  gate.skill",
        ]
    )


def test_a_rule_for_a_metric_nobody_reports_is_an_error():
    rules = GateParams(metrics={"rmse": LOWER, "rsme": LOWER}, skill=SkillFloor())
    with pytest.raises(SeqcastError) as info:
        gate.compare({"naive": {"rmse": 1.0}}, {"naive": {"rmse": 1.0}}, rules, {}, ["naive"])
    assert str(info.value) == (
        "gate.metrics.rsme: no model reports a metric of that name; the metrics are rmse"
    )


@pytest.mark.parametrize(
    ("skill", "verdict"),
    [(-0.29, gate.ABOVE), (-0.5, gate.BELOW), (-0.51, gate.BELOW), (None, gate.MISSING)],
)
def test_skill_floor_is_strict(skill, verdict):
    after = {"naive": {"rmse": 1.0}} if skill is None else {"linear": {"skill_vs_naive": skill}}
    row = gate.skill_floor(after, SkillFloor(model="linear", above=-0.5))
    assert row.metric == "linear.skill_vs_naive > -0.5"
    assert (row.before, row.after, row.verdict) == (-0.5, skill, verdict)
    assert row.failed == (verdict != gate.ABOVE)


def test_every_primary_metric_has_a_loss_for_the_test():
    assert set(gate.LOSSES) == set(PRIMARY_METRICS)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"metrics": {"rmse": {"rel_tol": -1}}},
            "gate.metrics.rmse.rel_tol = -1: Input should be greater than or equal to 0",
        ),
        # A metric outside seqcast.scoring.metrics.METRICS has no default to merge over.
        (
            {"metrics": {"hit_rate": {"abs_tol": 0.1}}},
            "gate.metrics.hit_rate.better = None: Field required",
        ),
        (
            {"primary": "directional_accuracy"},
            "gate.primary = 'directional_accuracy': the gate can judge only mae, rmse, mape, "
            "r2, mase, skill_vs_naive as the primary metric",
        ),
        ({"alpha": 1.5}, "gate.alpha = 1.5: Input should be less than 1"),
    ],
)
def test_gate_params_name_the_bad_key(section, message):
    with pytest.raises(SeqcastError) as info:
        parse_params({"gate": section})
    assert str(info.value) == f"params.yaml: {message}"


def test_params_yaml_gates_on_rmse():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    parsed = parse_params(params).gate
    assert (parsed.primary, parsed.alpha, parsed.seed_spread) == ("rmse", 0.05, 2.0)
    ci = yaml.safe_load((ROOT / "ci/params.yaml").read_text())
    assert "gate" not in ci  # the CI profile gates by the same rules


def test_metrics_files_must_be_model_metric_numbers():
    assert gate.parse_metrics({"a": {"rmse": 1, "r2": 0.5}}, "m.json") == {
        "a": {"rmse": 1.0, "r2": 0.5}
    }
    for bad, where in [({"a": {"rmse": "x"}}, "a.rmse = 'x'"), ({"rmse": 1.0}, "rmse = 1.0")]:
        with pytest.raises(SeqcastError) as info:
            gate.parse_metrics(bad, "m.json")
        assert str(info.value) == f"m.json: {where}: expected {{model: {{metric: number}}}}"


def test_bad_predictions_files_are_named():
    with pytest.raises(SeqcastError) as info:
        gate.parse_predictions("model,date,predicted\nlstm,2021-01-04,1.0\n", "p.csv")
    assert str(info.value) == "p.csv: no column actual; expected model,date,actual,predicted"
    twice = "model,date,actual,predicted\nlstm,2021-01-04,1,2\nlstm,2021-01-04,1,3\n"
    with pytest.raises(SeqcastError) as info:
        gate.parse_predictions(twice, "p.csv")
    assert str(info.value) == (
        "p.csv: lstm has two rows for 2021-01-04; expected one per model and test date"
    )


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
        [sys.executable, "-m", "seqcast", "gate", *args], cwd=repo, capture_output=True, text=True
    )


def _table(stdout: str) -> dict[str, dict[str, str]]:
    """The table's cells by metric and column, cut where the dashed rule's columns are."""
    lines = stdout.splitlines()
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    spans[-1] = (spans[-1][0], None)  # the reason runs to the end of the line
    header = [lines[0][a:b].strip() for a, b in spans]
    cells = ([line[a:b].strip() for a, b in spans] for line in lines[2:-1])
    return {row[0]: dict(zip(header, row, strict=True)) for row in cells}


def _write_reports(
    repo: Path, predicted: dict[str, np.ndarray], accuracy: dict[str, float], folder="reports"
) -> None:
    out = repo / folder
    out.mkdir(exist_ok=True)
    scores = _metrics(predicted, accuracy)
    (out / "metrics.json").write_text(json.dumps(scores, indent=2))
    (out / "predictions.csv").write_text(_csv(_frame(predicted)))
    seeds = {
        m: {"seeds": {"42": s}, "mean": s, "std": dict.fromkeys(s, 0.0)} for m, s in scores.items()
    }
    (out / "seeds.json").write_text(json.dumps(seeds, indent=2))


@pytest.fixture
def small_repo(tmp_path) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    rules = {
        "primary": "rmse",
        "alpha": 0.05,
        "metrics": {name: rule.model_dump() for name, rule in GATE.metrics.items()},
        "skill": GATE.skill.model_dump(),
    }
    params = {"models": {"enabled": MODELS}, "gate": rules}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    _write_reports(tmp_path, COMMITTED, ACCURACY)
    commit(tmp_path, "baseline")
    return tmp_path


def test_cli_passes_on_unchanged_forecasts(small_repo):
    result = _gate_cli(small_repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == [
        "metric", "before", "after", "change", "verdict", "reason"
    ]  # fmt: skip
    table = _table(result.stdout)
    assert len(table) == 3 * 5 + 1
    assert {row["verdict"] for row in table.values()} == {gate.SAME, gate.ABOVE}
    assert result.stdout.splitlines()[-1] == (
        "gate: passed against HEAD:reports/metrics.json (3 models judged on rmse)"
    )


def test_cli_fails_on_a_worsened_model_and_passes_a_better_one(small_repo):
    # Linear with a bias (worse, significantly); LSTM much better but less often right about
    # the direction.
    fresh = {**COMMITTED, "linear": LINEAR + 1.5, "lstm": ACTUAL + _errors(0.5, 3)}
    _write_reports(small_repo, fresh, {**ACCURACY, "lstm": 0.465})
    result = _gate_cli(small_repo)
    assert result.returncode == 1, result.stdout + result.stderr
    table = _table(result.stdout)
    assert table["naive.rmse"]["verdict"] == gate.SAME
    assert table["linear.rmse"]["verdict"] == gate.WORSE
    assert re.fullmatch(
        r"rmse \+\d+\.\d% > 1% tolerance, DM p=\S+ < 0\.05: worse", table["linear.rmse"]["reason"]
    )
    assert table["lstm.rmse"]["verdict"] == gate.BETTER
    assert table["lstm.rmse"]["change"] == "-1.5 (-75.00%)"
    assert table["lstm.directional_accuracy"]["change"] == "-0.045"
    assert table["lstm.directional_accuracy"]["verdict"] == "worse"
    assert "%" not in table["lstm.r2"]["change"]
    assert result.stdout.splitlines()[-1] == (
        "gate: FAILED against HEAD:reports/metrics.json: 1 regression(s): linear.rmse"
    )

    _write_reports(small_repo, {**fresh, "linear": LINEAR}, {**ACCURACY, "lstm": 0.465})
    result = _gate_cli(small_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == (
        "gate: passed against HEAD:reports/metrics.json (3 models judged on rmse; "
        "1 better: commit reports/metrics.json to raise the bar)"
    )


def test_cli_compares_with_any_ref(small_repo):
    _write_reports(small_repo, {**COMMITTED, "linear": LINEAR + 1.5}, ACCURACY)
    commit(small_repo, "worse")
    assert _gate_cli(small_repo).returncode == 0  # HEAD holds the worse numbers
    result = _gate_cli(small_repo, "--ref", "HEAD~1")
    assert result.returncode == 1
    assert "FAILED against HEAD~1:reports/metrics.json: 1 regression(s): linear.rmse" in (
        result.stdout
    )


def test_cli_without_committed_predictions_falls_back_to_tolerance(small_repo):
    (small_repo / "reports/predictions.csv").unlink()
    commit(small_repo, "as an older commit: no predictions")
    _write_reports(small_repo, {**COMMITTED, "linear": LINEAR + 1.5}, ACCURACY)
    result = _gate_cli(small_repo)
    assert result.returncode == 1
    assert _table(result.stdout)["linear.rmse"]["reason"].endswith(
        "no committed reports/predictions.csv at HEAD: tolerance only: worse"
    )


def test_cli_reads_the_siblings_of_the_metrics_file(small_repo):
    _write_reports(small_repo, COMMITTED, ACCURACY, folder="ci")
    commit(small_repo, "ci baseline")
    shuffled = np.random.default_rng(4).permutation(LSTM - ACTUAL) * 1.03
    _write_reports(small_repo, {**COMMITTED, "lstm": ACTUAL + shuffled}, ACCURACY, folder="ci")
    (small_repo / "reports/predictions.csv").unlink()  # read only ci/'s
    result = _gate_cli(small_repo, "--metrics", "ci/metrics.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _table(result.stdout)["lstm.rmse"]["verdict"] == gate.NOISE


def test_cli_without_a_committed_baseline_fails_clearly(small_repo):
    result = _gate_cli(small_repo, "--metrics", "ci/metrics.json")
    assert result.returncode == 2
    assert result.stderr.startswith("seqcast gate: error: no committed ci/metrics.json at HEAD")
    assert "to make it the baseline, review the fresh ci/metrics.json and commit it" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_profile_run_brings_back_metrics_predictions_and_seeds(small_repo, monkeypatch):
    def pipeline(copy: Path) -> None:
        _write_reports(copy, {**COMMITTED, "linear": LINEAR + 1.5}, ACCURACY)
        (copy / "reports/seeds.json").unlink()  # as a pipeline that writes none would

    (small_repo / "ci").mkdir()
    (small_repo / "ci/seeds.json").write_text("stale")
    monkeypatch.setattr(gate.sandbox, "run_pipeline", pipeline)
    gate.produce_with_profile(small_repo, {}, small_repo / "ci/metrics.json")
    expected = _metrics({**COMMITTED, "linear": LINEAR + 1.5}, ACCURACY)
    assert json.loads((small_repo / "ci/metrics.json").read_text()) == expected
    assert (small_repo / "ci/predictions.csv").read_text() == _csv(
        _frame({**COMMITTED, "linear": LINEAR + 1.5})
    )
    assert not (small_repo / "ci/seeds.json").exists()  # no stale file passes for a fresh one
    assert sorted(p.name for p in (small_repo / "ci").iterdir()) == [
        "metrics.json",
        "predictions.csv",
    ]


# The real pipeline, on a copy of the session's tiny pipeline repository.


@pytest.fixture
def gated_repo(pipeline_copy) -> Path:
    """A copy of the tiny pipeline's repository, its fresh metrics committed as the
    baseline; each test changes its own."""
    commit(pipeline_copy, "baseline metrics")
    return pipeline_copy


def test_gate_passes_when_an_unchanged_model_is_retrained_from_scratch(gated_repo):
    stages = ["train@lstm", "evaluate@lstm", "compare"]
    result = run(gated_repo, "dvc", "repro", "--force", "--single-item", *stages)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Running stage") == 3

    result = run(gated_repo, sys.executable, "-m", "seqcast", "gate")
    assert result.returncode == 0, result.stdout + result.stderr
    table = _table(result.stdout)
    metrics_json = json.loads((gated_repo / "reports/metrics.json").read_text())
    # Every metric of every model, digit for digit, and the skill floor.
    assert len(table) == sum(len(m) for m in metrics_json.values()) + 1
    assert {row["verdict"] for row in table.values()} == {gate.SAME, gate.ABOVE}


def _gate_after(repo: Path, update: dict) -> tuple[subprocess.CompletedProcess, str]:
    """The gate's result and the stages that reran, after `dvc repro` on changed params."""
    write_params(repo, update)
    reproduced = run(repo, "dvc", "repro")
    assert reproduced.returncode == 0, reproduced.stderr
    return run(repo, sys.executable, "-m", "seqcast", "gate"), reproduced.stdout


def test_a_wider_lstm_passes_though_secondary_metrics_move(gated_repo):
    """The case that failed the old gate: a hidden-size change of one network."""
    result, reran = _gate_after(gated_repo, {"models": {"lstm": {"hidden_size": 64}}})
    assert "Running stage 'train@lstm'" in reran
    assert result.returncode == 0, result.stdout + result.stderr
    table = _table(result.stdout)
    assert table["lstm.rmse"]["verdict"] in {gate.BETTER, gate.WITHIN, gate.NOISE}
    assert table["lstm.rmse"]["reason"].startswith("rmse")
    moved = [row for name, row in table.items() if name.startswith("lstm.") and name != "lstm.rmse"]
    assert {row["reason"] for row in moved} == {"secondary: not gating"}


def test_a_deliberately_worsened_model_fails_with_its_reason(gated_repo):
    # No ridge penalty: least squares on the flattened window overfits the training years.
    # (alpha: 300 no longer worsens it: on a change target heavy shrinkage nears naive.)
    result, _ = _gate_after(gated_repo, {"models": {"linear": {"alpha": 0.0}}})
    assert result.returncode == 1, result.stdout + result.stderr
    row = _table(result.stdout)["linear.rmse"]
    assert row["verdict"] == gate.WORSE
    assert re.search(r"DM p=\S+ < 0.05: worse$", row["reason"]), row["reason"]
    assert "gate: FAILED against HEAD:reports/metrics.json" in result.stdout
    assert "linear.rmse" in result.stdout.splitlines()[-1]


def test_a_model_that_leaves_models_enabled_is_reported(gated_repo):
    enabled = [m for m in TINY["models"]["enabled"] if m != "numpy_gru"]
    result, _ = _gate_after(gated_repo, {"models": {"enabled": enabled}})
    assert result.returncode == 0, result.stdout + result.stderr
    assert _table(result.stdout)["numpy_gru.rmse"]["verdict"] == gate.REMOVED
    assert "removed from models.enabled" in result.stdout.splitlines()[-1]


def test_changing_the_gate_section_reruns_no_stage(gated_repo):
    params = yaml.safe_load((gated_repo / "params.yaml").read_text())
    params["gate"]["skill"]["above"] = 0.5
    params["gate"]["metrics"]["rmse"] = {"rel_tol": 0.2}
    params["gate"]["alpha"] = 0.01
    (gated_repo / "params.yaml").write_text(yaml.safe_dump(params))
    result = run(gated_repo, "dvc", "status", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}


@pytest.mark.parametrize(
    ("shift", "scale", "why"),
    [
        (N + 10, 1.0, "no test date in common (committed 2021-01-04 to"),
        (0, 3.0, f"other actual values on {N} common test dates: another series"),
    ],
    ids=["later-dates", "another-series"],
)
def test_metrics_of_other_data_have_no_baseline_and_count_no_regression(
    small_repo, shift, scale, why, monkeypatch
):
    """Another series (three times the prices, so every error is three times larger) or
    other dates: the gate does not compare, whatever the numbers."""
    fresh = {name: values * scale for name, values in COMMITTED.items()}
    scores = {
        name: {"rmse": metrics.rmse(ACTUAL * scale, values), "skill_vs_naive": 0.0}
        for name, values in fresh.items()
    }
    (small_repo / "reports/metrics.json").write_text(json.dumps(scores))
    frame = _frame(fresh, DATES + pd.offsets.BDay(shift) if shift else DATES)
    frame["actual"] = frame["actual"] * scale
    (small_repo / "reports/predictions.csv").write_text(_csv(frame))
    monkeypatch.chdir(small_repo)
    report, failed = gate.run(small_repo, Path("reports/metrics.json"))
    assert not failed, report
    last = report.splitlines()[-1]
    assert last.startswith("gate: no baseline at HEAD:")
    assert why in last and "nothing compared, passed on the skill floor" in last
    assert "rmse" not in report.replace("skill", "")  # no metric row but the floor
