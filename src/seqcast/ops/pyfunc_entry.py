"""The code MLflow runs to load a logged forecaster (a model from code: ops.pyfunc_model)."""

import mlflow

from seqcast.ops.pyfunc_model import ForecasterModel

mlflow.models.set_model(ForecasterModel())
