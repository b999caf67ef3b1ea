"""Build a model from its name in params.yaml, or load a saved one from its directory."""

import json
from pathlib import Path

from seqcast.errors import SeqcastError
from seqcast.models.base import CONFIG_FILE, Forecaster
from seqcast.models.baselines import LinearForecaster, NaiveForecaster
from seqcast.models.numpy_rnn import NumpyForecaster
from seqcast.models.recurrent import RecurrentForecaster
from seqcast.params import MODEL_NAMES, NUMPY_MODELS, RECURRENT_MODELS, Params
from seqcast.unreadable import retrain, unreadable

KINDS: dict[str, type[Forecaster]] = {
    cls.kind: cls
    for cls in (NaiveForecaster, LinearForecaster, RecurrentForecaster, NumpyForecaster)
}


def build_model(name: str, params: Params) -> Forecaster:
    if name == "naive":
        return NaiveForecaster()
    if name == "linear":
        return LinearForecaster(alpha=params.models.linear.alpha)
    if name in RECURRENT_MODELS:
        return RecurrentForecaster(
            cell=name, options=params.model_params(name), train=params.train_for(name)
        )
    if name in NUMPY_MODELS:
        return NumpyForecaster(
            cell=name.removeprefix("numpy_"),
            options=params.model_params(name),
            train=params.train_for(name),
        )
    raise SeqcastError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")


def load_model(directory: str | Path) -> Forecaster:
    directory = Path(directory)
    path = directory / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, or bytes that are not UTF-8
        raise unreadable(path, exc, retrain(directory)) from None
    if not isinstance(config, dict):
        raise unreadable(path, ValueError("not a JSON object"), retrain(directory))
    kind = config.get("kind")
    if kind not in KINDS:
        raise SeqcastError(
            f"{directory / CONFIG_FILE}: unknown model kind {kind!r}; "
            f"choose from {', '.join(KINDS)}"
        )
    return KINDS[kind]._load(config, directory)
