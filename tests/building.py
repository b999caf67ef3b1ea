"""Build a model and load raw data as the stages do, from the params that a test parsed."""

from seqcast.data import sources
from seqcast.models import Forecaster, build_model
from seqcast.params import DataSection, Params


def build(name: str, params: Params) -> Forecaster:
    """The model `name` with its block models.<name> and its train.*, as in train@<name>."""
    return build_model(name, params.model_params(name), params.train_for(name))


def load_data(data: DataSection) -> sources.RawData:
    """The raw table that the download stage loads for `data` (params.data)."""
    return sources.load_raw(data.source, data.source_config, data.ticker, data.other_tickers)
