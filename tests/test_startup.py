"""A stage pays at start-up only for the libraries it uses (docs/speed.md).

Each stage script's module-level imports run in one fresh interpreter, in an order that
puts the stages which may load a heavy library last, and the heavy libraries loaded so far
are read after each one: so a torch or MLflow import that creeps into a module every
stage reads (params, artifacts, the sources) shows up on the first stage it reaches.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "mlflow", "sklearn", "scipy.stats", "matplotlib")
# What each stage may load before it starts its work; anything it needs beyond that it
# imports where it uses it (a network's training loads torch, a linear fit sklearn).
ALLOWED = {
    "download": set(),
    "check": set(),
    "featurize": set(),
    "split": set(),
    "scale": set(),
    "window": set(),
    "train": set(),
    "backtest": set(),
    "forecast": {"matplotlib"},  # the forecast figure
    "evaluate": {"matplotlib", "mlflow"},  # figures, and the model's MLflow run
    "compare": {"matplotlib", "mlflow", "scipy.stats"},  # report tests; the parent run
    "register": set(),  # MLflow and the gate load once it runs, not to start
    "sweep": {"scipy.stats"},  # units load torch as they run
    "sweep_summary": {"scipy.stats"},  # the summary's test against naive
    "sweep_prices": {"scipy.stats"},  # imported with the sweep's code
}

PROBE = textwrap.dedent(
    """
    import json, runpy, sys
    loaded = {}
    for stage in sys.argv[1:]:
        path = f"stages/{stage}.py"
        sys.argv = [path, "--help"]
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit:
            pass
        loaded[stage] = [m for m in HEAVY if m in sys.modules]
    sys.stdout.write("\\n" + json.dumps(loaded))
    """
)


def test_each_stage_starts_without_the_heavy_libraries_it_does_not_use():
    assert set(ALLOWED) == {p.stem for p in (ROOT / "stages").glob("*.py")}
    order = sorted(ALLOWED, key=lambda stage: len(ALLOWED[stage]))
    result = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", *order],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout.splitlines()[-1])
    previous: set[str] = set()
    for stage in order:
        new = set(loaded[stage]) - previous
        assert new <= ALLOWED[stage], f"stages/{stage}.py loads {sorted(new - ALLOWED[stage])}"
        previous |= set(loaded[stage])
