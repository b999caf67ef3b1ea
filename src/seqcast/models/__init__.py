"""Forecasting models: every one answers the same fit / predict / save / load contract."""

from seqcast.models.base import Forecaster, History
from seqcast.models.catalog import (
    build_model,
    load_model,
    model_class,
    model_names,
    register,
)

__all__ = [
    "Forecaster",
    "History",
    "build_model",
    "load_model",
    "model_class",
    "model_names",
    "register",
]
