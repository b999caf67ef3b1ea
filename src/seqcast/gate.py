"""The metric gate: fresh metrics against the committed ones, one verdict per metric.

    python -m seqcast.gate                       # reports/metrics.json against git HEAD
    python -m seqcast.gate --ref main            # ... against any ref
    python -m seqcast.gate --profile ci/params.yaml --metrics ci/metrics.json

Each metric of each model is judged by its rule in params.yaml's `gate.metrics` (which
way is better, absolute and relative tolerance), and the model in `gate.skill` must keep
its skill against the naive forecast above a floor. The table goes to stdout; the exit
code is 1 on a regression and 2 on bad input.

With --profile, the metrics are produced first, by running the whole pipeline on
params.yaml with the profile's keys merged over it, in a throwaway copy of the working
tree (seqcast.sandbox): the working tree's params, dvc.lock, reports and MLflow store
stay as they are, and only the --metrics file is rewritten.
"""

import argparse
import json
import math
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from seqcast import atomic, sandbox, stage
from seqcast.errors import SeqcastError
from seqcast.params import GateParams, MetricRule, SkillFloor, load_params, parse_params

SKILL = "skill_vs_naive"

SAME = "same"  # bit for bit
WITHIN = "ok"  # changed, within tolerance
BETTER = "better"
WORSE = "WORSE"
MISSING = "MISSING"  # committed but no longer produced
NOT_A_NUMBER = "NOT A NUMBER"
NEW = "new"  # produced, nothing committed to compare with
NO_RULE = "no rule"  # shown, not judged: gate.metrics has no rule for it
ABOVE = "above floor"
BELOW = "BELOW FLOOR"
FAILING = frozenset({WORSE, MISSING, NOT_A_NUMBER, BELOW})


@dataclass(frozen=True)
class Row:
    metric: str  # model.metric, or the skill floor
    before: float | None
    after: float | None
    verdict: str

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING


def flatten(metrics: dict[str, Any], source: str) -> dict[str, float]:
    """{model: {metric: value}} (nested deeper if need be) -> {"model.metric": value}."""
    flat: dict[str, float] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, int | float) and not isinstance(value, bool) and "." in prefix:
            flat[prefix] = float(value)
        else:
            raise SeqcastError(
                f"{source}: {prefix or 'the file'} = {value!r}: expected "
                "{model: {metric: number}}"
            )

    walk("", metrics)
    return flat


def metric_name(key: str) -> str:
    return key.rsplit(".", 1)[-1]


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


def compare(before: dict[str, float], after: dict[str, float], gate: GateParams) -> list[Row]:
    """One row per metric in either file: committed metrics first, in their order."""
    named = {metric_name(key) for key in (*before, *after)}
    unknown = sorted(set(gate.metrics) - named)
    if unknown:
        raise SeqcastError(
            f"gate.metrics.{unknown[0]}: no model reports a metric of that name; "
            f"the metrics are {', '.join(sorted(named))}"
        )
    rows = []
    for key in [*before, *(key for key in after if key not in before)]:
        old, new = before.get(key), after.get(key)
        rule = gate.metrics.get(metric_name(key))
        if new is None:
            verdict = MISSING
        elif old is None:
            verdict = NEW
        elif rule is None:
            verdict = NO_RULE
        else:
            verdict = judge(old, new, rule)
        rows.append(Row(key, old, new, verdict))
    return rows


def skill_floor(after: dict[str, float], floor: SkillFloor) -> Row:
    key = f"{floor.model}.{SKILL}"
    label = f"{key} > {floor.above:g}"
    skill = after.get(key)
    if skill is None:
        return Row(label, floor.above, None, MISSING)
    return Row(label, floor.above, skill, ABOVE if skill > floor.above else BELOW)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _change(row: Row) -> str:
    if row.before is None or row.after is None or row.verdict in (ABOVE, BELOW):
        return ""
    if row.verdict == SAME:
        return "0"
    diff = row.after - row.before
    if row.before == 0 or not math.isfinite(diff):
        return f"{diff:+.6g}"
    return f"{diff:+.6g} ({diff / abs(row.before):+.2%})"


def format_table(rows: Iterable[Row]) -> str:
    header = ("metric", "before", "after", "change", "verdict")
    lines = [
        (row.metric, _number(row.before), _number(row.after), _change(row), row.verdict)
        for row in rows
    ]
    widths = [max(len(str(cells[i])) for cells in [header, *lines]) for i in range(len(header))]

    def fmt(cells: tuple[str, ...]) -> str:
        left, *numbers, verdict = cells
        middle = [cell.rjust(width) for cell, width in zip(numbers, widths[1:-1], strict=True)]
        return "  ".join([left.ljust(widths[0]), *middle, verdict]).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([fmt(header), rule, *(fmt(cells) for cells in lines)])


def summary(rows: list[Row], ref: str, path: str) -> str:
    failed = [row.metric for row in rows if row.failed]
    if failed:
        listed = ", ".join(failed)
        return f"gate: FAILED against {ref}:{path}: {len(failed)} regression(s): {listed}"
    better = sum(row.verdict == BETTER for row in rows)
    note = f"; {better} better: commit {path} to raise the bar" if better else ""
    return f"gate: passed against {ref}:{path} ({len(rows)} checks{note})"


def read_metrics(path: Path) -> dict[str, float]:
    try:
        return flatten(json.loads(path.read_text()), str(path))
    except FileNotFoundError:
        raise SeqcastError(f"{path}: not found; run the pipeline first (make repro)") from None
    except json.JSONDecodeError as exc:
        raise SeqcastError(f"{path}: not valid JSON: {exc}") from None


def committed_metrics(ref: str, path: str, root: Path) -> dict[str, float]:
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
        return flatten(json.loads(result.stdout), f"{ref}:{path}")
    except json.JSONDecodeError as exc:
        raise SeqcastError(f"{ref}:{path}: not valid JSON: {exc}") from None


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
    """Run the pipeline on `merged` params in a throwaway copy; keep only its metrics."""
    with sandbox.worktree_copy(root) as copy:
        sandbox.write_params(copy, merged)
        sandbox.run_pipeline(copy)
        fresh = (copy / "reports/metrics.json").read_text()
    atomic.write_text(metrics, fresh)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Compare fresh metrics with committed ones; exit 1 on a regression."
    )
    parser.add_argument("--metrics", default="reports/metrics.json", help="metrics file")
    parser.add_argument("--ref", default="HEAD", help="git ref holding the committed metrics")
    parser.add_argument("--params", default="params.yaml", help="params file with gate rules")
    parser.add_argument(
        "--profile",
        type=Path,
        help="params overrides: run the pipeline on them in a throwaway copy first",
    )
    args = parser.parse_args()
    root = Path.cwd()
    metrics_path = Path(args.metrics)

    if args.profile:
        merged = profile_params(Path(args.params), args.profile)
        gate = parse_params(merged).gate
        # First the fresh metrics, so that a first baseline can be made by the same command.
        produce_with_profile(root, merged, metrics_path)
    else:
        gate = load_params(args.params).gate
    before = committed_metrics(args.ref, metrics_path.as_posix(), root)
    after = read_metrics(metrics_path)

    rows = [*compare(before, after, gate), skill_floor(after, gate.skill)]
    print(format_table(rows))
    print(summary(rows, args.ref, metrics_path.as_posix()))
    if any(row.failed for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    stage.run(main, "gate")
