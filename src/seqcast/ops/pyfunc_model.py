"""The MLflow model of a PriceForecaster: a pyfunc that takes dated prices and returns
dated forecasts in prices.

Logged as a model from code (MLflow 3): `pyfunc_entry.py` is the model's code, which
MLflow runs when the model loads, and the fitted forecaster travels as an artifact
directory of JSON and array files. Nothing is pickled, neither the forecaster nor the
model class.

Input: a frame with a `date` column (ISO dates) and the target column (`close` by
default), at least `min_history` rows (the model's metadata says how many), oldest
first. Output: one row per forecast step: date, step, forecast, and the conformal 80% and
95% bounds lower_80, upper_80, lower_95, upper_95. The number of steps is the `steps`
param; its default, and its most, is the number of steps the intervals were calibrated
for (forecast.days, 20 by default).
"""

import warnings
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd

DEFAULT_STEPS = 20
ARTIFACT = "forecaster"
# What loading and running a forecaster imports (seqcast itself travels as code): pinned
# to this environment's versions in the logged model's requirements.
SERVING_PACKAGES = (
    "mlflow",
    "pandas",
    "numpy",
    "pyarrow",
    "scipy",
    "scikit-learn",
    "torch",
    "pydantic",
    "pyyaml",
    "threadpoolctl",
    "psutil",
)


class ForecasterModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        from seqcast.forecasting.forecaster import PriceForecaster

        self.forecaster = PriceForecaster.load(context.artifacts[ARTIFACT])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        steps = int((params or {}).get("steps", default_steps(self.forecaster)))
        return forecast_frame(self.forecaster, model_input, steps)


def default_steps(forecaster: Any) -> int:
    """The steps its intervals cover, or DEFAULT_STEPS for a forecaster without them."""
    return DEFAULT_STEPS if forecaster.intervals is None else forecaster.intervals.steps


def forecast_frame(forecaster: Any, model_input: pd.DataFrame, steps: int) -> pd.DataFrame:
    """The pyfunc's answer: date (ISO), step, forecast and the bounds of its intervals."""
    history = model_input.assign(date=pd.to_datetime(model_input["date"]))
    forecast = forecaster.predict(history, steps).reset_index()
    return forecast.assign(date=forecast["date"].dt.strftime("%Y-%m-%d"))


def input_example(history: pd.DataFrame | pd.Series, target: str, rows: int) -> pd.DataFrame:
    """The last `rows` prices of a history as the pyfunc reads them: date, target."""
    from seqcast.forecasting.forecaster import price_series

    prices = price_series(history, target).iloc[-rows:]
    return pd.DataFrame(
        {"date": prices.index.strftime("%Y-%m-%d"), target: prices.to_numpy(dtype="float64")}
    )


def log_forecaster(
    forecaster: Any, name: str, history: pd.DataFrame | pd.Series, directory: Path
) -> Any:
    """Log `forecaster` (saved first into `directory`) to the active MLflow run as the
    pyfunc model `name`, with a signature, an input example and pinned requirements."""
    from importlib.metadata import version

    from mlflow.models import infer_signature

    forecaster.save(directory)
    example = input_example(history, forecaster.target, forecaster.min_history)
    steps = default_steps(forecaster)
    output = forecast_frame(forecaster, example, steps)
    with warnings.catch_warnings():
        # `step` is an integer column that is never missing: MLflow's hint does not apply.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(example, output, params={"steps": steps})
    # Without a local label such as torch's "+cpu", which no package index serves.
    requirements = [f"{p}=={version(p).split('+')[0]}" for p in SERVING_PACKAGES]
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
        artifacts={ARTIFACT: str(directory)},
        code_paths=[str(Path(__file__).resolve().parent)],
        input_example=example,
        signature=signature,
        pip_requirements=requirements,
        metadata={
            "min_history": forecaster.min_history,
            "target": forecaster.target,
            "steps": steps,
        },
    )
