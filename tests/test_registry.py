"""The model registry: a candidate version per registration with its run's lineage, the
champion alias moved only by `seqcast promote` when the gate passes (never by a pipeline run
or an experiment), a registered forecaster loaded back; and the README's champion snippet,
run on a reproduced repository."""

import json
import re
import subprocess

import pandas as pd
import pytest
from repo_helpers import BIN, ROOT, clone_repo, commit, run, subprocess_env

from seqcast.errors import SeqcastError
from seqcast.ops.model_registry import (
    CHAMPION,
    lineage_tags,
    load_forecaster,
    register,
    registered_name,
    series_name,
)

mlflow = pytest.importorskip("mlflow")


def test_the_registered_name_is_experiment_and_ticker_in_registry_safe_characters():
    assert registered_name("seqcast", "AAPL") == "seqcast-AAPL"
    assert registered_name("my runs", "BRK.B") == "my-runs-BRK.B"
    assert registered_name("x", "^GSPC") == "x-GSPC"


@pytest.mark.parametrize(
    ("origin", "name"),
    [
        ({"source": "sample", "path": "data/sample/stocks.csv"}, "seqcast-AAPL"),
        ({"source": "yfinance", "request": {}}, "seqcast-AAPL"),
        ({"source": "csv", "path": "/data/aapl 2019-2024.csv"}, "seqcast-AAPL-aapl-2019-2024"),
        ({"source": "csv", "path": "data/sample/stocks.csv"}, "seqcast-AAPL-stocks"),
    ],
)
def test_each_series_has_a_registered_model_of_its_own(tmp_path, origin, name):
    """Another file's AAPL is another series: never a version of the sample's model."""
    source = tmp_path / "source.json"
    source.write_text(json.dumps(origin))
    assert series_name("seqcast", "AAPL", source) == name


def test_a_missing_source_record_is_one_clear_error(tmp_path):
    with pytest.raises(SeqcastError, match=r"source.json: cannot read the data's source"):
        series_name("seqcast", "AAPL", tmp_path / "source.json")


def test_a_version_carries_the_lineage_tags_and_nothing_of_mlflow_s_own():
    tags = {"git_commit": "abc", "dvc_dep.data/windows": "f00.dir", "data_md5": "d",
            "mlflow.runName": "lstm", "seqcast.pid": "1", "model": "lstm"}  # fmt: skip
    assert lineage_tags(tags) == {
        "git_commit": "abc", "dvc_dep.data/windows": "f00.dir", "data_md5": "d", "model": "lstm"
    }  # fmt: skip


@pytest.mark.slow  # logs a pyfunc model to a fresh store
def test_a_registration_never_moves_champion_and_a_version_loads_as_a_forecaster(tmp_path):
    from test_pyfunc_model import _logged

    forecaster, history, uri, _, model_uri = _logged(tmp_path)
    run_id = model_uri.split("/")[1]
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    client.set_tag(run_id, "git_commit", "0123abc")
    client.set_tag(run_id, "dvc_dep.data/windows", "f00.dir")

    first = register(uri, "seqcast-TEST", "forecaster", run_id, {"dvc_exp_name": "wide"})
    assert (first.version, first.champion) == ("1", None)
    assert "champion names no version yet" in first.describe()
    client.set_registered_model_alias("seqcast-TEST", CHAMPION, "1")  # as promote does
    second = register(uri, "seqcast-TEST", "forecaster", run_id, {})
    assert (second.version, second.champion) == ("2", "1")
    assert str(client.get_model_version_by_alias("seqcast-TEST", CHAMPION).version) == "1"
    tags = client.get_model_version("seqcast-TEST", "1").tags
    assert tags["git_commit"] == "0123abc" and tags["dvc_dep.data/windows"] == "f00.dir"
    assert tags["dvc_exp_name"] == "wide"

    loaded, version = load_forecaster("models:/seqcast-TEST@champion", uri)
    assert version == "1"
    pd.testing.assert_frame_equal(loaded.predict(history, 20), forecaster.predict(history, 20))
    assert load_forecaster("models:/seqcast-TEST/2", uri)[1] == "2"
    with pytest.raises(SeqcastError, match="not in the registry"):
        load_forecaster("models:/seqcast-NONE@champion", uri)


def _readme_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Forecast with the champion\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_s_champion_section_has_its_two_snippets_of_ten_lines_at_most():
    blocks = _readme_blocks()
    assert len(blocks) == 2
    assert all(len(block.strip().splitlines()) <= 10 for block in blocks)


def test_with_an_empty_store_the_register_stage_registers_nothing(pipeline_repo, tmp_path):
    repo = clone_repo(pipeline_repo, tmp_path / "repo", store=False)
    commit(repo, "the reproduced state")
    chosen = json.loads((repo / "reports/forecast/forecast.json").read_text())["model"]
    # No run in the store logged this model, so nothing registers.
    result = run(repo, "dvc", "repro", "-f", "-s", "register")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"register: nothing registered: no finished run of {chosen} in" in result.stdout
    assert json.loads((repo / "data/registered.json").read_text())["registered"] is False


def _client(repo):
    uri = f"sqlite:///{repo / 'mlflow.db'}"
    return mlflow.tracking.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _champion(repo) -> str | None:
    client = _client(repo)
    try:
        return str(client.get_model_version_by_alias("seqcast-AAPL", CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        return None


def test_the_readme_snippet_forecasts_20_days_with_bands_from_the_champion(pipeline_copy):
    """As on a clone after `make repro`, its store populated: the register stage registers
    a candidate and names no champion; `seqcast promote` (the committed reports are the
    reproduced ones, so the gate passes) makes it the champion that the snippet loads."""
    repo = pipeline_copy
    commit(repo, "the reproduced state")
    chosen = json.loads((repo / "reports/forecast/forecast.json").read_text())["model"]
    result = run(repo, "dvc", "repro", "-f", "-s", "register")
    assert result.returncode == 0, result.stdout + result.stderr
    registered = re.search(
        rf"register: {chosen} as candidate seqcast-AAPL version (\d+); champion names no "
        "version yet",
        result.stdout,
    )
    assert registered, result.stdout
    version = registered[1]
    assert _champion(repo) is None
    assert json.loads((repo / "data/registered.json").read_text()) == {
        "registered_model": "seqcast-AAPL", "model": chosen, "registered": True
    }  # fmt: skip
    promoted = run(repo, str(BIN / "seqcast"), "promote")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert f"promote: seqcast-AAPL: champion -> version {version} (was none)" in promoted.stdout
    assert _champion(repo) == version
    snippet = _readme_blocks()[0]
    check = snippet + (
        "\nassert list(forecast.columns) == ['date', 'step', 'forecast', 'lower_80', "
        "'upper_80', 'lower_95', 'upper_95']\n"
        "assert len(forecast) == 20\n"
        "assert (forecast.lower_95 < forecast.lower_80).all()\n"
        "assert (forecast.lower_80 < forecast.forecast).all()\n"
        "assert (forecast.forecast < forecast.upper_80).all()\n"
        "assert (forecast.upper_80 < forecast.upper_95).all()\n"
    )
    shown = subprocess.run(
        [str(BIN / "python"), "-c", check],
        cwd=repo,
        capture_output=True,
        text=True,
        env=subprocess_env(),
    )
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "lower_80" in shown.stdout

    # The forecast stage takes the champion too.
    result = run(
        repo, "dvc", "exp", "run", "-S", "forecast.model=models:/seqcast-AAPL@champion",
        "--temp",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"models:/seqcast-AAPL@champion, version {version}" in result.stdout


def test_promote_moves_champion_only_when_the_gate_passes(pipeline_copy):
    """An experiment registers a worse candidate and leaves champion alone; promote refuses
    it (exit 1, the gate's reason), then promotes the committed state's version."""
    repo = pipeline_copy
    commit(repo, "the reproduced state")
    assert run(repo, "dvc", "repro", "-f", "-s", "register").returncode == 0
    assert run(repo, str(BIN / "seqcast"), "promote").returncode == 0
    champion = _champion(repo)
    # Linear without its ridge penalty: worse beyond noise (test_gate.py), so the gate fails.
    result = run(repo, "dvc", "exp", "run", "-n", "worse", "-S", "models.linear.alpha=0.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _champion(repo) == champion, "an experiment moved champion"
    client = _client(repo)
    versions = client.search_model_versions("name = 'seqcast-AAPL'")
    assert "worse" in {v.tags.get("dvc_exp_name") for v in versions}
    refused = run(repo, str(BIN / "seqcast"), "promote")  # the experiment is in the workspace
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "gate: FAILED" in refused.stdout and "champion stays at version" in refused.stdout
    assert _champion(repo) == champion
    missing = run(repo, str(BIN / "seqcast"), "promote", "--version", "99")
    assert missing.returncode == 2 and "seqcast-AAPL has no version 99" in missing.stderr


def test_the_readme_s_forecaster_snippet_runs_without_dvc_or_mlflow(tmp_path, monkeypatch):
    """The second snippet, with the first's `prices`, in a directory holding params.yaml."""
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    sample = ROOT / "data/sample/stocks.csv"
    prices = pd.read_csv(sample).query("ticker == 'AAPL'")[["date", "close"]]
    namespace = {"prices": prices}
    exec(_readme_blocks()[1], namespace)
    forecaster = namespace["forecaster"]
    forecast = forecaster.predict(prices, steps=20)
    assert len(forecast) == 20 and forecast.index[0] > pd.Timestamp(prices["date"].iloc[-1])
    assert {"lower_80", "upper_95"} <= set(forecast.columns)
    assert (tmp_path / "my-forecaster" / "forecaster.json").is_file()
