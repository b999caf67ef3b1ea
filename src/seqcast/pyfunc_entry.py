"""The code MLflow runs to load a logged forecaster (a model from code: seqcast.pyfunc_model)."""

import mlflow

from seqcast.pyfunc_model import ForecasterModel

mlflow.models.set_model(ForecasterModel())
