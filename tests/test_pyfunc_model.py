"""The MLflow model of a forecaster: logged without pickle, loaded in a fresh process with
mlflow.pyfunc.load_model, it forecasts what the forecaster itself forecasts."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from test_forecaster import _history, _params

from seqcast.forecasting.forecaster import PriceForecaster

mlflow = pytest.importorskip("mlflow")
BANDED = ("forecast", "lower_80", "upper_80", "lower_95", "upper_95")


def _logged(tmp_path):
    """A linear forecaster fit on _history(), logged to a fresh SQLite store: the
    forecaster, its history, the store's URI, the logged model's info and its runs:/ URI."""
    from seqcast.ops.pyfunc_model import log_forecaster

    history = _history()
    forecaster = PriceForecaster.fit(history, "linear", **_params().fit_sections("linear"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("pyfunc")
    with mlflow.start_run() as run:
        info = log_forecaster(forecaster, "forecaster", history, tmp_path / "saved")
    return forecaster, history, uri, info, f"runs:/{run.info.run_id}/forecaster"


def _request_rows(forecaster, history) -> pd.DataFrame:
    """The last min_history prices as the pyfunc reads them: ISO date, close."""
    tail = history.iloc[-forecaster.min_history :].reset_index()
    tail["date"] = tail["date"].dt.strftime("%Y-%m-%d")
    return tail


@pytest.mark.slow  # logs and loads an MLflow model in a second interpreter
def test_a_logged_forecaster_loads_in_a_fresh_process_and_forecasts_the_same(tmp_path):
    forecaster, history, uri, info, model_uri = _logged(tmp_path)
    assert info.signature is not None and info.metadata["min_history"] == forecaster.min_history

    tail = _request_rows(forecaster, history)
    (tmp_path / "input.json").write_text(tail.to_json(orient="records"))
    script = textwrap.dedent(
        f"""
        import json, mlflow, pandas as pd
        mlflow.set_tracking_uri({uri!r})
        model = mlflow.pyfunc.load_model({model_uri!r})
        path = {str(tmp_path / "input.json")!r}
        frame = pd.read_json(path, orient="records", convert_dates=False)
        out = model.predict(frame, params={{"steps": 5}})
        print(out.to_json(orient="records"))
        """
    )
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    served = pd.DataFrame(json.loads(result.stdout.splitlines()[-1]))
    expected = forecaster.predict(history, 5)
    assert served["date"].tolist() == expected.index.strftime("%Y-%m-%d").tolist()
    assert served["step"].tolist() == [1, 2, 3, 4, 5]
    # The forecast and its 80% and 95% bounds, to the bit.
    assert list(served.columns[2:]) == list(BANDED)
    pd.testing.assert_frame_equal(
        served[list(BANDED)], expected[list(BANDED)].reset_index(drop=True)
    )
    # Nothing in the logged model is a pickle.
    local = mlflow.artifacts.download_artifacts(model_uri, dst_path=str(tmp_path / "dl"))
    pickles = [p for p in os.listdir(local) if p.endswith((".pkl", ".pickle"))]
    assert not pickles
    # Its requirements pin what serving it imports, with no local label such as "+cpu".
    requirements = Path(local, "requirements.txt").read_text().split()
    names = {r.split("==")[0] for r in requirements}
    assert {"mlflow", "pandas", "torch", "scikit-learn", "pydantic"} <= names
    assert all("==" in r and "+" not in r for r in requirements)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # starts `mlflow models serve`
def test_mlflow_models_serve_answers_with_the_same_forecasts_over_rest(tmp_path):
    import signal
    import time
    import urllib.request

    forecaster, history, uri, _, model_uri = _logged(tmp_path)
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [
        sys.executable, "-m", "mlflow", "models", "serve",
        "-m", model_uri,
        "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"the server did not start: {server.stderr.read().decode()[-2000:]}"
                    )
                time.sleep(0.5)
        tail = _request_rows(forecaster, history)
        body = json.dumps(
            {"dataframe_records": tail.to_dict(orient="records"), "params": {"steps": 5}}
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    served = pd.DataFrame(answer["predictions"])
    expected = forecaster.predict(history, 5)
    assert served["date"].tolist() == expected.index.strftime("%Y-%m-%d").tolist()
    for column in BANDED:
        assert served[column].tolist() == expected[column].tolist(), column
