"""The metric gate: does a change make forecasts worse than the committed ones?

    seqcast gate                       # reports/metrics.json against git HEAD
    seqcast gate --ref main            # ... against any ref
    seqcast gate --profile ci/params.yaml --metrics ci/metrics.json

One metric, `gate.primary` (rmse by default), decides each model's verdict. Its change is a
regression only when all of these hold:

- it is worse by more than its rule in `gate.metrics` tolerates (max of abs_tol and
  rel_tol * |committed value|);
- it is beyond noise on the test targets: the one-sided Diebold-Mariano test
  (seqcast.scoring.significance, HAC lags and Harvey correction for window.horizon) of the fresh
  against the committed predictions of that model, on the primary's per-target loss
  (squared error for rmse), gives p < `gate.alpha`;
- where the committed seeds.json holds several seeds of the model, it exceeds
  `gate.seed_spread` times their standard deviation of the primary: retraining with
  another seed alone moves it that much.

Only like is compared with like: where the committed predictions are of other data (no
test date in common with the fresh ones, or other actual values on the dates they share:
another series, another source), there is no baseline, and the gate says so instead of
counting regressions; only the skill floor below applies. Where the predictions of the
same series cannot be paired (no committed predictions at the ref, other test dates, too
few targets), the tolerance alone decides, and the row says why.

Every other metric is shown with its change and a verdict word but never blocks: bounded
ones (r2, skill, directional accuracy) as absolute changes, error metrics also in percent.
A committed model that left `models.enabled` is a notice, in its row and in the summary
line; one still enabled but without fresh metrics fails. The model in `gate.skill` must
keep its skill against the naive forecast above a floor.

The committed files come from git (`git show REF:PATH`): the metrics file and its siblings
predictions.csv and seeds.json (reports/metrics.json: reports/predictions.csv and
reports/seeds.json). The table, with the reason for each verdict, goes to stdout; the exit
code is 1 on a regression and 2 on bad input.

With --profile, the files are produced first, by running the whole pipeline on params.yaml
with the profile's keys merged over it, in a throwaway copy of the working tree
(seqcast.ops.sandbox): the working tree's params, dvc.lock, reports and MLflow store stay as
they are, and only the --metrics file and its siblings are rewritten.
"""

import io
import json
import math
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from seqcast import atomic
from seqcast.artifacts import METRICS as METRICS_FILE
from seqcast.artifacts import PREDICTIONS, SEEDS
from seqcast.errors import SeqcastError
from seqcast.ops import sandbox
from seqcast.params import GateParams, MetricRule, SkillFloor, load_params, parse_params
from seqcast.scoring import significance
from seqcast.scoring.metrics import METRICS, Loss

SKILL = "skill_vs_naive"
PREDICTION_COLUMNS = ("model", "date", "actual", "predicted")
# Unbounded error metrics: a change in percent of the committed value means something.
# The bounded ones (r2, skill, directional accuracy) sit near 0 or 1, where it does not.
ERROR_METRICS = frozenset(name for name, metric in METRICS.items() if metric.unbounded)
NEAR_ZERO = 1e-9  # a committed value this small has no meaningful percent change

SAME = "same"  # bit for bit
WITHIN = "ok"  # changed, within tolerance
BETTER = "better"
NOISE = "noise"  # worse beyond tolerance, but not beyond noise
WORSE = "WORSE"
MISSING = "MISSING"  # committed, still enabled, no longer produced
NOT_A_NUMBER = "NOT A NUMBER"
NEW = "new"  # produced, nothing committed to compare with
REMOVED = "removed"  # committed, and left models.enabled
SECONDARY_WORSE = "worse"  # shown, never blocking
SECONDARY_MISSING = "missing"
SECONDARY_NAN = "nan"
NO_RULE = "no rule"  # shown, not judged: gate.metrics has no rule for it
ABOVE = "above floor"
BELOW = "BELOW FLOOR"
FAILING = frozenset({WORSE, MISSING, NOT_A_NUMBER, BELOW})
SECONDARY_VERDICTS = {
    SAME: SAME,
    WITHIN: WITHIN,
    BETTER: BETTER,
    WORSE: SECONDARY_WORSE,
    NOT_A_NUMBER: SECONDARY_NAN,
}


# The per-target loss that each primary metric's Diebold-Mariano test compares.
LOSSES: dict[str, Loss] = {
    name: metric.loss for name, metric in METRICS.items() if metric.loss is not None
}


@dataclass(frozen=True)
class Row:
    metric: str  # model.metric, or the skill floor
    before: float | None
    after: float | None
    verdict: str
    reason: str
    role: str = "secondary"  # primary, secondary or floor

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING


@dataclass(frozen=True)
class Noise:
    """What tells a change of one model's primary metric from noise."""

    p_worse: float | None  # one-sided DM p-value of "the fresh forecasts are worse"
    no_test: str = ""  # why there is no DM test, when p_worse is None
    seeds: int = 0  # seeds of the model in the committed seeds.json
    seed_std: float = 0.0  # their standard deviation of the primary metric


Metrics = dict[str, dict[str, float]]  # {model: {metric: value}}


def parse_metrics(data: Any, source: str) -> Metrics:
    """Check that `data` is {model: {metric: number}}; the numbers as floats."""

    def bad(where: str, value: Any) -> SeqcastError:
        return SeqcastError(
            f"{source}: {where} = {value!r}: expected {{model: {{metric: number}}}}"
        )

    if not isinstance(data, dict):
        raise bad("the file", data)
    metrics: Metrics = {}
    for model, values in data.items():
        if not isinstance(values, dict):
            raise bad(str(model), values)
        for name, value in values.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise bad(f"{model}.{name}", value)
        metrics[str(model)] = {str(name): float(value) for name, value in values.items()}
    return metrics


def judge(before: float, after: float, rule: MetricRule) -> str:
    if after == before:
        return SAME
    if math.isnan(after):
        return NOT_A_NUMBER
    if math.isnan(before):
        return BETTER
    worse_by = after - before if rule.better == "lower" else before - after
    tolerance = max(rule.abs_tol, rule.rel_tol * abs(before))
    if worse_by > tolerance:
        return WORSE
    if -worse_by > tolerance:
        return BETTER
    return WITHIN


def _percent_change(metric: str, before: float) -> bool:
    return metric in ERROR_METRICS and abs(before) > NEAR_ZERO


def _short_change(metric: str, before: float, after: float) -> str:
    """The change for a reason: '+4.1%' for an error metric, '-0.045' for a bounded one."""
    diff = after - before
    if _percent_change(metric, before) and math.isfinite(diff):
        return f"{diff / abs(before):+.1%}"
    return f"{diff:+.3g}"


def _tolerance(rule: MetricRule, before: float) -> str:
    if rule.rel_tol and rule.rel_tol * abs(before) >= rule.abs_tol:
        return f"{rule.rel_tol * 100:g}%"
    return f"{rule.abs_tol:g}"


def judge_primary(
    model: str, before: float | None, after: float | None, gate: GateParams, noise: Noise
) -> Row:
    """The model's verdict: its primary metric against tolerance, the DM test and seeds."""
    name, metric = f"{model}.{gate.primary}", gate.primary
    if after is None:
        return Row(name, before, None, MISSING, f"{metric} not in the fresh metrics", "primary")
    if before is None:
        return Row(name, None, after, NEW, f"no committed {metric} to compare with", "primary")
    rule = gate.metrics[metric]
    verdict = judge(before, after, rule)
    change, tolerance = _short_change(metric, before, after), _tolerance(rule, before)
    if verdict != WORSE:
        reason = {
            SAME: f"{metric} unchanged",
            NOT_A_NUMBER: f"{metric} is not a number",
            BETTER: f"{metric} {change} beyond {tolerance} tolerance: better",
            WITHIN: f"{metric} {change} within {tolerance} tolerance",
        }[verdict]
        return Row(name, before, after, verdict, reason, "primary")

    parts = [f"{metric} {change} > {tolerance} tolerance"]
    noisy = False
    if noise.p_worse is None:
        parts.append(f"{noise.no_test}: tolerance only")
    else:
        significant = noise.p_worse < gate.alpha
        parts.append(f"DM p={noise.p_worse:.2g} {'<' if significant else '>='} {gate.alpha:g}")
        noisy = not significant
    if noise.seeds > 1:
        spread = gate.seed_spread * noise.seed_std
        beyond = abs(after - before) > spread
        parts.append(
            f"change {'>' if beyond else '<='} {gate.seed_spread:g} x std over "
            f"{noise.seeds} seeds ({spread:.3g})"
        )
        noisy = noisy or not beyond
    verdict, word = (NOISE, "noise") if noisy else (WORSE, "worse")
    return Row(name, before, after, verdict, ", ".join(parts) + f": {word}", "primary")


def judge_secondary(
    name: str, before: float | None, after: float | None, rule: MetricRule | None
) -> Row:
    if after is None:
        return Row(name, before, None, SECONDARY_MISSING, "secondary: not in the fresh metrics")
    if before is None:
        return Row(name, None, after, NEW, "secondary: nothing committed to compare with")
    if rule is None:
        return Row(name, before, after, NO_RULE, "secondary: no rule in gate.metrics")
    verdict = SECONDARY_VERDICTS[judge(before, after, rule)]
    return Row(name, before, after, verdict, "secondary: not gating")


def compare(
    before: Metrics,
    after: Metrics,
    gate: GateParams,
    noise: dict[str, Noise],
    enabled: Iterable[str],
) -> list[Row]:
    """Rows by model (committed models first, in their order): the primary, then the rest."""
    named = {name for metrics in (*before.values(), *after.values()) for name in metrics}
    # The table's own metrics have default rules whether or not these files report them.
    unknown = sorted(set(gate.metrics) - named - set(METRICS))
    if unknown:
        raise SeqcastError(
            f"gate.metrics.{unknown[0]}: no model reports a metric of that name; "
            f"the metrics are {', '.join(sorted(named))}"
        )
    enabled = set(enabled)
    primary = gate.primary
    rows = []
    for model in [*before, *(model for model in after if model not in before)]:
        old, new = before.get(model), after.get(model)
        name = f"{model}.{primary}"
        if new is None:
            if model in enabled:
                reason = "in models.enabled, but not in the fresh metrics"
                rows.append(Row(name, old.get(primary), None, MISSING, reason, "primary"))
            else:
                reason = "removed from models.enabled: no longer gated"
                rows.append(Row(name, old.get(primary), None, REMOVED, reason, "primary"))
            continue
        if old is None:
            reason = "new model: nothing committed to compare with"
            rows.append(Row(name, None, new.get(primary), NEW, reason, "primary"))
            rows.extend(
                Row(f"{model}.{k}", None, v, NEW, reason) for k, v in new.items() if k != primary
            )
            continue
        evidence = noise.get(model, Noise(None, "no predictions"))
        rows.append(judge_primary(model, old.get(primary), new.get(primary), gate, evidence))
        for metric in [*old, *(metric for metric in new if metric not in old)]:
            if metric != primary:
                row = judge_secondary(
                    f"{model}.{metric}", old.get(metric), new.get(metric), gate.metrics.get(metric)
                )
                rows.append(row)
    return rows


def skill_floor(after: Metrics, floor: SkillFloor) -> Row:
    label = f"{floor.model}.{SKILL} > {floor.above:g}"
    skill = after.get(floor.model, {}).get(SKILL)
    reason = f"gate.skill: {floor.model}'s skill against naive must stay above {floor.above:g}"
    if skill is None:
        return Row(label, floor.above, None, MISSING, reason, "floor")
    verdict = ABOVE if skill > floor.above else BELOW
    return Row(label, floor.above, skill, verdict, reason, "floor")


def diebold_mariano_p(
    model: str,
    fresh: pd.DataFrame,
    committed: pd.DataFrame,
    loss: Loss,
    horizon: int,
) -> tuple[float | None, str]:
    """One-sided DM p-value of "the fresh forecasts of `model` are worse than the committed
    ones" on the same targets; or None and why there can be no such test."""
    new, old = fresh[fresh["model"] == model], committed[committed["model"] == model]
    if new.empty or old.empty:
        which = "fresh" if new.empty else "committed"
        return None, f"no {which} predictions of {model}"
    if not np.array_equal(new["date"].to_numpy(), old["date"].to_numpy()):
        return None, (
            f"predictions not paired: other test dates ({len(old)} committed from "
            f"{old['date'].iloc[0]:%Y-%m-%d}, {len(new)} fresh from {new['date'].iloc[0]:%Y-%m-%d})"
        )
    # Written with 6 decimals: the same targets agree to rounding.
    if not np.allclose(new["actual"], old["actual"], rtol=1e-9, atol=1e-6):
        return None, "predictions not paired: other actual values on the same dates"
    try:
        # The committed forecasts as "the model": p_better is then the p-value of
        # "the committed loss is lower", i.e. of the fresh forecasts being worse.
        test = significance.diebold_mariano(
            loss(old["actual"], old["predicted"]), loss(new["actual"], new["predicted"]), horizon
        )
    except SeqcastError as exc:
        return None, f"no DM test ({exc})"
    if math.isnan(test.p_better):
        return None, "DM test undefined (the loss differences do not vary)"
    return test.p_better, ""


def other_data(fresh: pd.DataFrame, committed: pd.DataFrame) -> str | None:
    """Why the committed predictions are of other data than the fresh ones (no common test
    date, or other actual values on common dates), or None for the same series."""
    new = fresh.drop_duplicates("date").set_index("date")["actual"]
    old = committed.drop_duplicates("date").set_index("date")["actual"]
    common = new.index.intersection(old.index)
    if common.empty:
        return (
            f"no test date in common (committed {old.index.min():%Y-%m-%d} to "
            f"{old.index.max():%Y-%m-%d}, fresh {new.index.min():%Y-%m-%d} to "
            f"{new.index.max():%Y-%m-%d})"
        )
    if not np.allclose(new[common], old[common], rtol=1e-9, atol=1e-6):
        return f"other actual values on {len(common)} common test dates: another series"
    return None


def noise_by_model(
    models: Iterable[str],
    fresh: pd.DataFrame | str,
    committed: pd.DataFrame | str,
    spreads: dict[str, tuple[int, float]],
    loss: Loss,
    horizon: int,
) -> dict[str, Noise]:
    """The noise evidence of each model; a predictions argument that is a string says why
    those predictions are not there."""
    noise = {}
    for model in models:
        if isinstance(fresh, str) or isinstance(committed, str):
            p, why = None, fresh if isinstance(fresh, str) else committed
        else:
            p, why = diebold_mariano_p(model, fresh, committed, loss, horizon)
        seeds, std = spreads.get(model, (0, 0.0))
        noise[model] = Noise(p, why, seeds, std)
    return noise


def parse_predictions(text: str, source: str) -> pd.DataFrame:
    """predictions.csv: model,date,actual,predicted, one row per (model, test target date)."""
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SeqcastError(f"{source}: not a readable CSV: {exc}") from None
    missing = [column for column in PREDICTION_COLUMNS if column not in frame.columns]
    if missing:
        raise SeqcastError(
            f"{source}: no column {', '.join(missing)}; expected {','.join(PREDICTION_COLUMNS)}"
        )
    frame = frame[list(PREDICTION_COLUMNS)].copy()
    frame["model"] = frame["model"].astype(str)
    try:
        frame["date"] = pd.to_datetime(frame["date"], format="ISO8601")
        for column in ("actual", "predicted"):
            frame[column] = pd.to_numeric(frame[column])
    except (ValueError, TypeError) as exc:
        raise SeqcastError(f"{source}: expected dates and numbers: {exc}") from None
    duplicated = frame.duplicated(["model", "date"])
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise SeqcastError(
            f"{source}: {first['model']} has two rows for {first['date']:%Y-%m-%d}; "
            "expected one per model and test date"
        )
    return frame.sort_values(["model", "date"], ignore_index=True)


def seed_spreads(text: str, source: str, metric: str) -> dict[str, tuple[int, float]]:
    """seeds.json -> {model: (number of seeds, their std of `metric`)}."""
    try:
        data = json.loads(text)
        return {
            str(model): (len(runs["seeds"]), float(runs["std"][metric]))
            for model, runs in data.items()
        }
    except json.JSONDecodeError as exc:
        raise SeqcastError(f"{source}: not valid JSON: {exc}") from None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise SeqcastError(
            f"{source}: expected {{model: {{seeds: {{...}}, std: {{{metric}: number}}}}}} "
            f"({type(exc).__name__}: {exc})"
        ) from None


def git_show(ref: str, path: str, root: Path) -> str | None:
    """The file as committed at `ref`, or None when it is not there (an older commit)."""
    result = subprocess.run(
        ["git", "show", f"{ref}:{path}"], cwd=root, capture_output=True, text=True
    )
    return result.stdout if result.returncode == 0 else None


def read_metrics(path: Path) -> Metrics:
    try:
        return parse_metrics(json.loads(path.read_text()), str(path))
    except FileNotFoundError:
        raise SeqcastError(f"{path}: not found; run the pipeline first (make repro)") from None
    except json.JSONDecodeError as exc:
        raise SeqcastError(f"{path}: not valid JSON: {exc}") from None


def committed_metrics(ref: str, path: str, root: Path) -> Metrics:
    """The metrics file as committed at `ref` (git show REF:PATH)."""
    result = subprocess.run(
        ["git", "show", f"{ref}:{path}"], cwd=root, capture_output=True, text=True
    )
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "git failed"
        raise SeqcastError(
            f"no committed {path} at {ref} ({reason}); to make it the baseline, "
            f"review the fresh {path} and commit it"
        )
    try:
        return parse_metrics(json.loads(result.stdout), f"{ref}:{path}")
    except json.JSONDecodeError as exc:
        raise SeqcastError(f"{ref}:{path}: not valid JSON: {exc}") from None


def sibling(metrics: Path, name: str) -> Path:
    """predictions.csv or seeds.json next to the metrics file, as the compare stage writes them."""
    return metrics.with_name(name)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _change(row: Row) -> str:
    if row.before is None or row.after is None or row.role == "floor":
        return ""
    if row.verdict == SAME:
        return "0"
    diff = row.after - row.before
    metric = row.metric.rsplit(".", 1)[-1]
    if _percent_change(metric, row.before) and math.isfinite(diff):
        return f"{diff:+.6g} ({diff / abs(row.before):+.2%})"
    return f"{diff:+.6g}"


def format_table(rows: Iterable[Row]) -> str:
    header = ("metric", "before", "after", "change", "verdict", "reason")
    lines = [
        (row.metric, _number(row.before), _number(row.after), _change(row), row.verdict, row.reason)
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def fmt(cells: tuple[str, ...]) -> str:
        name, before, after, change, verdict, reason = cells
        numbers = [
            cell.rjust(width)
            for cell, width in zip((before, after, change), widths[1:4], strict=True)
        ]
        return "  ".join([name.ljust(widths[0]), *numbers, verdict.ljust(widths[4]), reason])

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([fmt(header).rstrip(), rule, *(fmt(cells).rstrip() for cells in lines)])


def summary(rows: list[Row], ref: str, path: str, primary: str) -> str:
    removed = [row.metric.rsplit(".", 1)[0] for row in rows if row.verdict == REMOVED]
    notice = (
        f"; NOTICE: {len(removed)} model(s) removed from models.enabled, no longer gated: "
        f"{', '.join(removed)}"
        if removed
        else ""
    )
    failed = [row.metric for row in rows if row.failed]
    if failed:
        listed = ", ".join(failed)
        return f"gate: FAILED against {ref}:{path}: {len(failed)} regression(s): {listed}{notice}"
    models = [row for row in rows if row.role == "primary"]
    judged = sum(row.verdict not in (REMOVED, NEW) for row in models)
    notes = [f"{judged} models judged on {primary}"]
    for verdict, note in [
        (BETTER, f"better: commit {path} to raise the bar"),
        (NOISE, "worse within noise"),
        (NEW, "new, not gated"),
    ]:
        count = sum(row.verdict == verdict for row in models)
        if count:
            notes.append(f"{count} {note}")
    return f"gate: passed against {ref}:{path} ({'; '.join(notes)}){notice}"


def profile_params(params_file: Path, profile: Path) -> dict[str, Any]:
    """params.yaml with the profile's keys merged over it (mappings merge, the rest replaces)."""
    try:
        overrides = yaml.safe_load(profile.read_text()) or {}
    except FileNotFoundError:
        raise SeqcastError(f"--profile {profile}: not found") from None
    merged = sandbox.merge(yaml.safe_load(params_file.read_text()) or {}, overrides)
    parse_params(merged, f"{params_file} + {profile}")  # names a bad key before a long run
    return merged


def produce_with_profile(root: Path, merged: dict[str, Any], metrics: Path) -> None:
    """Run the pipeline on `merged` params in a throwaway copy; keep its metrics, predictions
    and seeds, next to each other as in reports/."""
    with sandbox.worktree_copy(root) as copy:
        sandbox.write_params(copy, merged)
        sandbox.run_pipeline(copy)
        reports = copy / "reports"
        fresh = {
            sibling(metrics, name): (reports / name).read_text()
            if (reports / name).exists()
            else None
            for name in (PREDICTIONS, SEEDS)
        }
        fresh[metrics] = (reports / METRICS_FILE).read_text()
    for path, text in fresh.items():
        if text is None:  # a stale file from an earlier run must not pass for a fresh one
            path.unlink(missing_ok=True)
        else:
            atomic.write_text(path, text)


def run(
    root: Path,
    metrics_path: Path = Path("reports/metrics.json"),
    ref: str = "HEAD",
    params_file: Path = Path("params.yaml"),
    profile: Path | None = None,
) -> tuple[str, bool]:
    """The gate's table with its summary line, and whether it fails: the fresh
    `metrics_path` against the one committed at `ref` in the repository at `root` (the
    current directory), by the rules of `params_file`; with a `profile`, the fresh files
    are made first."""
    if profile:
        merged = profile_params(params_file, profile)
        params = parse_params(merged)
        # First the fresh metrics, so that a first baseline can be made by the same command.
        produce_with_profile(root, merged, metrics_path)
    else:
        params = load_params(params_file)
    gate = params.gate
    before = committed_metrics(ref, metrics_path.as_posix(), root)
    after = read_metrics(metrics_path)

    predictions = sibling(metrics_path, PREDICTIONS)
    if predictions.exists():
        fresh: pd.DataFrame | str = parse_predictions(predictions.read_text(), str(predictions))
    else:
        fresh = f"no fresh {predictions.as_posix()}"
    text = git_show(ref, predictions.as_posix(), root)
    source = f"{ref}:{predictions.as_posix()}"
    if text is None:
        committed: pd.DataFrame | str = f"no committed {predictions.as_posix()} at {ref}"
    else:
        committed = parse_predictions(text, source)
    path = metrics_path.as_posix()
    if isinstance(fresh, pd.DataFrame) and isinstance(committed, pd.DataFrame):
        why = other_data(fresh, committed)
        if why is not None:
            row = skill_floor(after, gate.skill)
            verdict = "FAILED" if row.failed else "passed"
            line = (
                f"gate: no baseline at {ref}:{path}: its predictions are of other data "
                f"({why}); nothing compared, {verdict} on the skill floor"
            )
            return f"{format_table([row])}\n{line}", row.failed
    seeds = sibling(metrics_path, SEEDS).as_posix()
    text = git_show(ref, seeds, root)
    spreads = {} if text is None else seed_spreads(text, f"{ref}:{seeds}", gate.primary)
    noise = noise_by_model(
        before, fresh, committed, spreads, LOSSES[gate.primary], params.window.horizon
    )

    rows = [
        *compare(before, after, gate, noise, params.models.enabled),
        skill_floor(after, gate.skill),
    ]
    report = f"{format_table(rows)}\n{summary(rows, ref, path, gate.primary)}"
    return report, any(row.failed for row in rows)
