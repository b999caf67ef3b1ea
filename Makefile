# Two commands do all the set-up: `make repro` runs the pipeline, `make test` the tests.
# Both create .venv (or reuse it) and install the pinned dependencies first, then seqcast
# with its `seqcast` command (`seqcast --help` lists what it does). `make repro` installs
# the runtime only (requirements.txt); `make test` adds the tests' packages and Ray
# (requirements-dev.txt); `make ray` adds Ray alone, for sweeps on a cluster.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.installed-dev
RAY_INSTALLED := $(VENV)/.installed-ray
# The test tiers on both cores (pytest-xdist, a test module per worker at a time); each
# test's processes keep to one thread (tests/conftest.py). `make test WORKERS=0` runs them
# in one process. --durations: the slowest tests of every run.
WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --durations=15
# The page `dvc plots` fills, with its charting library inline (`seqcast plot-page`)
PLOT_PAGE := .dvc/plots/offline.html

export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
# Stage commands say `python`: make it the project environment's.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: repro test test-slow test-all lint ui gate gate-ci check-lock ray clean

# The git ref whose committed metrics the gate compares against: `make gate REF=main`
REF ?= HEAD
PORT ?= 5000

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e ".[plots]"
	touch $@

$(RAY_INSTALLED): $(INSTALLED) requirements-ray.txt
	$(BIN)/python -m pip install --quiet -r requirements-ray.txt -e ".[plots,ray]"
	touch $@

$(DEV_INSTALLED): $(RAY_INSTALLED) requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e ".[plots,dev,ray]"
	touch $@

# Ray, for sweeps on a cluster (SEQCAST_RAY_ADDRESS, `seqcast sweep --ray`)
ray: $(RAY_INSTALLED)

$(PLOT_PAGE): $(INSTALLED)
	$(BIN)/seqcast plot-page $@

repro: $(INSTALLED) $(PLOT_PAGE)
	$(BIN)/seqcast check params.yaml
	$(BIN)/dvc repro

# The fast tier: everything but the tests marked slow
test: $(DEV_INSTALLED) $(PLOT_PAGE)
	$(PYTEST) -m "not slow"

# The second tier: `dvc repro` end to end, stage processes, servers, the browser
test-slow: $(DEV_INSTALLED) $(PLOT_PAGE)
	$(PYTEST) -m slow

# Both tiers in one run
test-all: $(DEV_INSTALLED) $(PLOT_PAGE)
	$(PYTEST)

# Fails when code, params or sample data differ from what dvc.lock records, or a committed
# report differs from the reproduced one: run `make repro` and commit.
check-lock: $(INSTALLED)
	$(BIN)/seqcast check-lock

lint: $(DEV_INSTALLED)
	$(BIN)/ruff check .

# The MLflow UI over the local store, on http://127.0.0.1:5000 (`make ui PORT=5001`)
ui: $(INSTALLED)
	$(BIN)/seqcast ui --port $(PORT)

# The metric gate: reports/metrics.json, fresh from the pipeline, against $(REF)'s
gate: repro
	$(BIN)/seqcast gate --ref $(REF)

# The CI profile: ci/params.yaml over params.yaml, run in a throwaway copy, against
# $(REF)'s ci/metrics.json; the working tree's params, dvc.lock and reports stay as they are
gate-ci: $(INSTALLED)
	$(BIN)/seqcast gate --profile ci/params.yaml --metrics ci/metrics.json --ref $(REF)

clean:
	rm -rf $(VENV)
