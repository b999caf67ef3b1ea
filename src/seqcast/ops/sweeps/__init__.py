"""Sweeps: many (ticker, model, params, seed, fold) units of work in one DVC stage.

- `space`: the configs a search tries (every grid point, or Optuna TPE's proposals)
- `units`: what one unit is, its id (a hash of code, data and inputs) and running it
- `executors`: where units run (a local process pool, or a Ray cluster), chosen by
  environment, never by params
- `results`: the persistent cache of finished units, and the results table
- `summary`: the best config per (ticker, model) against naive (reports/sweep.json)
- `tracking`: one MLflow parent run per sweep, one child run per unit
- `driver`: the sweep itself, which the stage and `seqcast sweep` both call
"""
