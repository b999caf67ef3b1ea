"""One edit, one rerun: after an edit, `dvc status` lists the stages it affects and no other.

Each test edits one file of a reproduced pipeline's copy (the tiny params of
tests/repo_helpers.py: naive, linear, lstm and numpy_gru enabled, naive and linear
backtested and swept) and reads which stages DVC would rerun. `dvc status` lists the
stages whose own dependencies changed; what reads their outputs reruns only if those
outputs change.
"""

import json
from pathlib import Path

import pytest
from repo_helpers import TINY, run, write_params

pytestmark = pytest.mark.slow

NETWORKS = ("lstm",)  # the PyTorch networks of the tiny params


def changed_stages(repo: Path) -> set[str]:
    result = run(repo, "dvc", "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return {name.split(":")[-1] for name in json.loads(result.stdout or "{}")}


def comment(repo: Path, path: str) -> None:
    file = repo / path
    file.write_text(file.read_text() + "# a comment\n")


def test_the_reproduced_pipeline_is_up_to_date(pipeline_copy):
    assert changed_stages(pipeline_copy) == set()


def test_a_comment_in_a_models_code_reruns_that_models_stages_only(pipeline_copy):
    # the NumPy networks' training loop: of them the tiny params enable numpy_gru
    comment(pipeline_copy, "src/seqcast/models/numpy_training.py")
    assert changed_stages(pipeline_copy) == {"train@numpy_gru", "evaluate@numpy_gru"}


def test_a_comment_in_a_model_that_is_not_enabled_reruns_no_stage(pipeline_copy):
    enabled = [m for m in TINY["models"]["enabled"] if not m.startswith("numpy_")]
    write_params(pipeline_copy, {"models": {"enabled": enabled}})
    before = changed_stages(pipeline_copy)  # what the params change reruns
    comment(pipeline_copy, "src/seqcast/models/numpy_training.py")
    assert changed_stages(pipeline_copy) == before


def test_a_comment_in_a_source_that_is_not_used_reruns_the_downloads_only(pipeline_copy):
    comment(pipeline_copy, "src/seqcast/data/sources/yfinance_source.py")
    # both write the same table as before, so nothing after them reruns
    assert changed_stages(pipeline_copy) == {"download", "sweep_prices"}


def test_a_comment_in_the_recurrent_models_reruns_the_networks_only(pipeline_copy):
    comment(pipeline_copy, "src/seqcast/models/recurrent.py")
    assert changed_stages(pipeline_copy) == {
        f"{stage}@{model}" for stage in ("train", "evaluate") for model in NETWORKS
    }


def test_a_comment_in_the_report_reruns_compare_only(pipeline_copy):
    comment(pipeline_copy, "src/seqcast/reporting/markdown.py")
    assert changed_stages(pipeline_copy) == {"compare"}


def test_a_model_param_reruns_that_model_only(pipeline_copy):
    write_params(pipeline_copy, {"models": {"lstm": {"hidden_size": 9}}})
    assert changed_stages(pipeline_copy) == {"train@lstm"}


def test_a_swept_models_param_reruns_its_own_sweep_only(pipeline_copy):
    write_params(pipeline_copy, {"models": {"linear": {"alpha": 2.0}}})
    assert changed_stages(pipeline_copy) == {
        "train@linear", "backtest@2-linear", "backtest@1-linear", "sweep@linear"
    }  # fmt: skip
