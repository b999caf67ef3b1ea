"""Sweeps: many (ticker, model, params, seed, fold) units of work, one DVC stage per
swept model (sweep@model) and a summary.

- `space`: the configs a search tries (every grid point, or Optuna TPE's proposals)
- `units`: what one unit is, the task that carries it to a worker, the code version
  (seqcast.jobs.sweep_units gives a unit its params and id, and runs it)
- `executors`: where units run (a local process pool, or a Ray cluster), chosen by
  environment, never by params
- `results`: the persistent cache of finished units, and the results table
- `summary`: the best config per (ticker, model) against naive (reports/sweep.json)
- `sweep_runs`: one MLflow parent run per sweep, one child run per unit

seqcast.jobs.sweep is the sweep itself, which the sweep@model stages and `seqcast sweep`
call.
"""
