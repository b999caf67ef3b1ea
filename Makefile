# Two commands do all the set-up: `make repro` runs the pipeline, `make test` the tests.
# Both create .venv (or reuse it) and install the pinned dependencies first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
# Stage commands say `python`: make it the project environment's.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: repro test lint ui clean

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $@

repro: $(INSTALLED)
	$(BIN)/python -m seqcast.params params.yaml
	$(BIN)/dvc repro

test: $(INSTALLED)
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .

# The MLflow UI over the local store, on http://127.0.0.1:5000
ui: $(INSTALLED)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000 --workers 1

clean:
	rm -rf $(VENV)
