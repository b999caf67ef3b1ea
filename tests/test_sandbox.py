"""The throwaway copy that gate profiles and reproductions run in: what it holds, that it
leaves the working tree alone, and that it goes away."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from repo_helpers import commit

from seqcast import stage
from seqcast.errors import SeqcastError
from seqcast.jobs import gate
from seqcast.ops import sandbox


@pytest.fixture
def repo(tmp_path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / ".gitignore").write_text("/ignored.txt\n")
    for name in ("kept.txt", "changed.txt", "deleted.txt", "dvc.lock"):
        (repo / name).write_text("committed\n")
    commit(repo, "one")
    (repo / "changed.txt").write_text("changed in the working tree\n")
    (repo / "deleted.txt").unlink()
    (repo / "untracked.txt").write_text("new\n")
    (repo / "ignored.txt").write_text("ignored\n")
    return repo


def _files(path: Path) -> dict[str, str]:
    return {
        p.relative_to(path).as_posix(): p.read_text()
        for p in path.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(path).parts
    }


def test_worktree_copy_holds_what_git_sees_without_pipeline_state(repo):
    with sandbox.worktree_copy(repo) as copy:
        assert _files(copy) == {
            ".gitignore": "/ignored.txt\n",
            "kept.txt": "committed\n",
            "changed.txt": "changed in the working tree\n",
            "untracked.txt": "new\n",
        }  # no dvc.lock: every stage runs; nothing ignored (.venv, outputs, mlflow.db)
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=copy, capture_output=True, text=True
        )
        assert status.stdout == ""  # committed, so its runs are tagged with a clean commit
    assert not copy.exists()


def test_commit_copy_holds_the_files_of_that_commit(repo):
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    with sandbox.commit_copy(repo, head) as copy:
        assert _files(copy) == {
            ".gitignore": "/ignored.txt\n",
            "kept.txt": "committed\n",
            "changed.txt": "committed\n",
            "deleted.txt": "committed\n",
        }
    with pytest.raises(SeqcastError) as info, sandbox.commit_copy(repo, "f" * 40):
        pass
    assert (
        str(info.value) == f"commit {'f' * 40} is not in the repository at {repo}; fetch it first"
    )


def test_pipeline_env_clears_the_outer_runs_store_and_experiment(monkeypatch):
    monkeypatch.setenv("DVC_ROOT", "/elsewhere")
    monkeypatch.setenv("DVC_EXP_NAME", "outer-exp")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://team:5000")
    env = sandbox.pipeline_env()
    assert not {"DVC_ROOT", "DVC_EXP_NAME", "MLFLOW_TRACKING_URI"} & set(env)
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_profile_runs_in_the_copy_and_only_rewrites_the_metrics_file(repo, monkeypatch):
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"max_epochs": 100}}))
    merged = sandbox.merge({"train": {"max_epochs": 100, "seed": 1}}, {"train": {"max_epochs": 3}})
    seen = {}

    def fake_pipeline(copy: Path, *targets: str) -> None:
        """Stands in for `dvc repro`, which the reproduction test runs for real."""
        seen["params"] = yaml.safe_load((copy / "params.yaml").read_text())
        seen["copy"] = copy
        (copy / "reports").mkdir()
        (copy / "reports/metrics.json").write_text(json.dumps({"naive": {"rmse": 1.0}}))

    monkeypatch.setattr(sandbox, "run_pipeline", fake_pipeline)
    before = _files(repo)
    gate.produce_with_profile(repo, merged, repo / "ci/metrics.json")

    assert seen["params"] == {"train": {"max_epochs": 3, "seed": 1}}
    assert seen["copy"] != repo and not seen["copy"].exists()
    after = _files(repo)
    assert json.loads(after.pop("ci/metrics.json")) == {"naive": {"rmse": 1.0}}
    assert after == before  # params.yaml, dvc.lock and the rest untouched


def test_a_failed_pipeline_says_so_with_dvcs_output_on_stderr(tmp_path, capfd):
    """`dvc repro` in a folder that is no DVC repository: its reason, and then the error."""
    with stage.logging_to("stderr"), pytest.raises(SeqcastError) as info:
        sandbox.run_pipeline(tmp_path)
    assert str(info.value).startswith("the pipeline failed in the throwaway copy (exit code ")
    out, err = capfd.readouterr()
    assert out == ""  # stdout stays for the command's result
    lines = err.splitlines()
    assert lines[0] == f"seqcast: running the pipeline in a throwaway copy, {tmp_path}"
    assert "not inside of a DVC repository" in err
