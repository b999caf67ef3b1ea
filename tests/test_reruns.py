"""One edit, one rerun: after an edit, `dvc status` lists the stages it affects and no other.

Each test edits one file of a reproduced pipeline's copy (the tiny params of
tests/repo_helpers.py: every model but numpy_rnn and numpy_lstm enabled, the baselines
swept) and reads which stages DVC would rerun. `dvc status` lists the stages whose own
dependencies changed; what reads their outputs reruns only if those outputs change.
"""

import json
import re
from pathlib import Path

import pytest
from repo_helpers import run, write_params

pytestmark = pytest.mark.slow

NETWORKS = {"rnn", "lstm", "gru"}


def changed_stages(repo: Path) -> set[str]:
    result = run(repo, "dvc", "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return {name.split(":")[-1] for name in json.loads(result.stdout or "{}")}


def model_of(stage: str) -> str | None:
    """The model a stage belongs to: train@lstm, evaluate@lstm, backtest@2-lstm."""
    match = re.fullmatch(r"(train|evaluate)@(\w+)|backtest@[\w-]+?-(\w+)", stage)
    return None if match is None else (match[2] or match[3])


def comment(repo: Path, path: str) -> None:
    file = repo / path
    file.write_text(file.read_text() + "# a comment\n")


def test_the_reproduced_pipeline_is_up_to_date(pipeline_copy):
    assert changed_stages(pipeline_copy) == set()


def test_a_comment_in_a_model_that_is_not_enabled_reruns_no_stage_of_another_model(
    pipeline_copy,
):
    # numpy_cells.py is the NumPy networks' code; of them the tiny params enable numpy_gru
    comment(pipeline_copy, "src/seqcast/models/numpy_cells.py")
    changed = changed_stages(pipeline_copy)
    # evaluate@<model> logs the pipeline's MLflow run with every enabled model's block
    others = {s for s in changed if not s.startswith("evaluate@")}
    assert {model_of(s) for s in others} - {None} == {"numpy_gru"}, changed
    # the stages that may load any model: what reads every model's output
    assert {s for s in others if model_of(s) is None} <= {"forecast", "compare", "sweep"}
    assert not {"download", "check", "featurize", "split", "scale", "window"} & changed


def test_a_comment_in_a_source_that_is_not_used_reruns_no_data_preparation(pipeline_copy):
    comment(pipeline_copy, "src/seqcast/data/sources/yfinance_source.py")
    changed = changed_stages(pipeline_copy)
    # download reruns and writes the same table; evaluate logs the dataset of the chosen
    # source, whichever it is, so it declares every source (docs/architecture.md)
    assert changed - {"download", "sweep"} == {s for s in changed if s.startswith("evaluate@")}
    assert not {"check", "featurize", "split", "scale", "window"} & changed


def test_a_comment_in_the_recurrent_models_reruns_the_networks_only(pipeline_copy):
    comment(pipeline_copy, "src/seqcast/models/recurrent.py")
    changed = changed_stages(pipeline_copy)
    others = {s for s in changed if not s.startswith("evaluate@")}
    assert {model_of(s) for s in others} - {None} == NETWORKS, changed
    assert {f"train@{m}" for m in NETWORKS} <= changed
    assert {s for s in others if model_of(s) is None} <= {"forecast", "compare", "sweep"}


def test_a_comment_in_the_report_reruns_compare_only(pipeline_copy):
    comment(pipeline_copy, "src/seqcast/reporting/markdown.py")
    assert changed_stages(pipeline_copy) == {"compare"}


def test_a_model_param_reruns_that_model_only(pipeline_copy):
    write_params(pipeline_copy, {"models": {"lstm": {"hidden_size": 9}}})
    changed = changed_stages(pipeline_copy)
    assert {model_of(s) for s in changed} - {None} == {"lstm"}, changed
    # the sweep reads every models.* block (issue 25: one sweep stage per model, to do)
    assert {s for s in changed if model_of(s) is None} <= {"sweep"}, changed
