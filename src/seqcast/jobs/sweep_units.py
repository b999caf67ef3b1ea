"""A sweep unit's params, its id, and running it.

A unit's id hashes everything its result depends on: the seqcast code, the ticker's
feature table and the params the fold reads (with the unit's config and seed applied).
Equal ids mean equal results, so a finished unit is never run again
(seqcast.ops.sweeps.results).

`run_task` is what an executor calls, in a worker process on this machine or on a Ray
node: it runs the fold through `seqcast.jobs.backtest.backtest`, the walk-forward stage's
own code, and returns one row of the results table.
"""

import hashlib
import json
import time
from typing import Any

from seqcast import threads
from seqcast.errors import SeqcastError
from seqcast.ops.sweeps.units import Outcome, Task, Unit, code_version, node_name
from seqcast.params import Params, parse_params

# The params sections a fold reads, besides the model's own block and train.*
FOLD_SECTIONS = ("features", "split", "scale", "window", "target", "multistep")


def unit_params(params: Params, unit: Unit) -> Params:
    """`params` as the unit's fold sees it: its config in models.<model>, its seed in
    train.seed, and backtest.origins / .models reduced to its own fold."""
    raw = params.model_dump(mode="json")
    block = raw["models"][unit.model]
    for key, value in json.loads(unit.config).items():
        if key.startswith("train."):
            block.setdefault("train", {})[key.removeprefix("train.")] = value
        else:
            block[key] = value
    raw["train"]["seed"] = unit.seed
    origin = int(unit.origin) if unit.origin.isdigit() else unit.origin
    raw["backtest"].update(origins=[origin], models=[unit.model])
    raw["models"]["enabled"] = [unit.model]
    raw["forecast"]["model"] = unit.model
    return parse_params(raw, f"sweep unit {unit}", models=[unit.model], with_source=False)


def unit_id(unit: Unit, params: Params, data: str, code: str) -> str:
    """The hash of what the unit's result depends on (`params` from unit_params)."""
    b = params.backtest
    inputs = {
        "code": code,
        "data": data,
        "unit": [unit.ticker, unit.model, unit.config, unit.seed, unit.origin],
        "target": params.data.target,
        **{name: getattr(params, name).model_dump(mode="json") for name in FOLD_SECTIONS},
        "fold": [b.scheme, b.train_days, b.val_days, b.test_days],
        "model": params.model_params(unit.model).model_dump(mode="json"),
        "train": params.train_for(unit.model).model_dump(mode="json"),
        "intervals": [params.forecast.days, params.forecast.intervals],
    }
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run_task(task: Task) -> Outcome:
    """Run one unit's fold and return its row; logs its MLflow child run when the driver
    says that workers write (a tracking server)."""
    from seqcast.jobs.backtest import backtest  # torch: only where units run
    from seqcast.ops.sweeps import sweep_runs as tracking

    if task.code != code_version():
        raise SeqcastError(
            f"this worker ({node_name()}) runs seqcast code {code_version()}, the driver "
            f"{task.code}: install the same seqcast on every node"
        )
    params = parse_params(
        task.params, f"sweep unit {task.unit}", models=[task.unit.model], with_source=False
    )
    threads.pin(threads.resolve_threads(params.train))
    wall, cpu = time.perf_counter(), time.process_time()
    with tracking.worker_child(task) as log:
        result = backtest(task.unit.origin, task.unit.model, task.features, params)
        row = result_row(task, result)
        log(row)
    return Outcome(row, node_name(), time.perf_counter() - wall, time.process_time() - cpu)


def result_row(task: Task, result: Any) -> dict[str, Any]:
    """One row of the results table: the unit, its fold's test dates, its first-step
    metrics, and its first-step forecasts with naive's (for the test against naive)."""
    first = result.predictions[result.predictions["step"] == min(result.metrics_by_step)]
    u = task.unit
    return {
        "unit_id": task.unit_id,
        "ticker": u.ticker,
        "model": u.model,
        "config": u.config,
        "seed": u.seed,
        "origin": u.origin,
        "test_start": result.fold["test"]["start"],
        "test_end": result.fold["test"]["end"],
        "epochs": len(result.history.train_loss),
        **{metric: float(value) for metric, value in result.metrics.items()},
        "dates": [d.date().isoformat() for d in first.index],
        "actual": first["actual"].tolist(),
        "predicted": first["predicted"].tolist(),
        "naive": first["naive"].tolist(),
    }
