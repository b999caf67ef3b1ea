"""Typed, validated view of params.yaml: every stage reads its knobs through here.

The whole file is validated at load, so a wrong key or value fails the first stage
that runs, with a message naming the key, the value and what is allowed.
"""

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo

from seqcast.errors import SeqcastError

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(Section):
    source: Literal["sample"] = "sample"
    sample_path: str = "data/sample/stocks.csv"
    ticker: str = "AAPL"
    target: Literal["open", "high", "low", "close", "volume"] = "close"


class FeatureParams(Section):
    lags: Annotated[int, Field(ge=0)] = 5
    rolling_windows: list[Annotated[int, Field(ge=2)]] = [10]
    returns: bool = True


class SplitParams(Section):
    train: Fraction = 0.7
    val: Fraction = 0.15
    gap: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _leaves_a_test_split(self) -> "SplitParams":
        if self.train + self.val >= 1:
            raise ValueError(
                f"split.train + split.val = {self.train + self.val:g}: must be below 1 "
                "so that a test split remains"
            )
        return self


class ScaleParams(Section):
    method: Literal["minmax", "standard"] = "minmax"


class WindowParams(Section):
    length: PositiveInt = 20
    horizon: PositiveInt = 1


class TrainParams(Section):
    seed: int = 42
    batch_size: PositiveInt = 64
    max_epochs: PositiveInt = 100
    patience: PositiveInt = 10
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3
    grad_clip: Annotated[float, Field(gt=0)] = 1.0
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9  # sgd only
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    lr_schedule: Literal["none", "reduce_on_plateau"] = "none"
    lr_factor: Fraction = 0.5  # reduce_on_plateau: multiply the learning rate by this
    lr_patience: Annotated[int, Field(ge=0)] = 5  # ... after this many epochs without progress
    device: Literal["auto", "cpu", "cuda"] = "auto"  # PyTorch models; auto: CUDA if available
    threads: Annotated[int, Field(ge=0)] = 1  # 0: the cores divided by parallel_runs
    parallel_runs: PositiveInt = 1


def _optional(field: FieldInfo) -> Any:
    """A field's type, constraints kept, that may also be left out (None)."""
    typed = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return typed | None


# Any train.* key, set for one model only: models.<name>.train overrides the shared value.
TrainOverrides = create_model(
    "TrainOverrides",
    __base__=Section,
    **{name: (_optional(field), None) for name, field in TrainParams.model_fields.items()},
)


class NaiveParams(Section):
    pass


class LinearParams(Section):
    alpha: Annotated[float, Field(ge=0)] = 1.0


class RecurrentParams(Section):
    hidden_size: PositiveInt = 32
    num_layers: PositiveInt = 1
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    nonlinearity: Literal["tanh", "relu"] = "tanh"
    train: TrainOverrides = TrainOverrides()


class NumpyGatedParams(Section):
    """The from-scratch NumPy LSTM and GRU (no dropout)."""

    hidden_size: PositiveInt = 32
    num_layers: PositiveInt = 1
    train: TrainOverrides = TrainOverrides()


class NumpyRNNParams(NumpyGatedParams):
    nonlinearity: Literal["tanh", "relu"] = "tanh"


MODEL_NAMES = (
    "naive",
    "linear",
    "rnn",
    "lstm",
    "gru",
    "numpy_rnn",
    "numpy_lstm",
    "numpy_gru",
)
RECURRENT_MODELS = ("rnn", "lstm", "gru")  # PyTorch
NUMPY_MODELS = ("numpy_rnn", "numpy_lstm", "numpy_gru")
NETWORK_MODELS = RECURRENT_MODELS + NUMPY_MODELS  # trained by epochs, with train.* params


class ModelsParams(Section):
    enabled: list[str] = list(MODEL_NAMES)
    naive: NaiveParams = NaiveParams()
    linear: LinearParams = LinearParams()
    rnn: RecurrentParams = RecurrentParams()
    lstm: RecurrentParams = RecurrentParams()
    gru: RecurrentParams = RecurrentParams()
    numpy_rnn: NumpyRNNParams = NumpyRNNParams()
    numpy_lstm: NumpyGatedParams = NumpyGatedParams()
    numpy_gru: NumpyGatedParams = NumpyGatedParams()

    @model_validator(mode="after")
    def _known_and_unique(self) -> "ModelsParams":
        for name in self.enabled:
            if name not in MODEL_NAMES:
                raise ValueError(
                    f"models.enabled contains {name!r}: not a known model; "
                    f"choose from {', '.join(MODEL_NAMES)}"
                )
        if len(set(self.enabled)) != len(self.enabled) or not self.enabled:
            raise ValueError(f"models.enabled = {self.enabled}: list each model once, at least one")
        return self


class TrackingParams(Section):
    experiment: str = "seqcast"


class Params(Section):
    data: DataParams = DataParams()
    features: FeatureParams = FeatureParams()
    split: SplitParams = SplitParams()
    scale: ScaleParams = ScaleParams()
    window: WindowParams = WindowParams()
    train: TrainParams = TrainParams()
    models: ModelsParams = ModelsParams()
    tracking: TrackingParams = TrackingParams()

    def model_params(self, name: str) -> BaseModel:
        return getattr(self.models, name)

    def train_for(self, name: str) -> TrainParams:
        """train.* with the network's own models.<name>.train overrides applied."""
        overrides = self.model_params(name).train.model_dump(exclude_none=True)
        return self.train.model_copy(update=overrides) if overrides else self.train


def _lookup(raw: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            raw = raw[part]
        except (KeyError, IndexError, TypeError):
            return None
    return raw


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    section: type[BaseModel] = Params
    for part in loc:
        section = section.model_fields[part].annotation
    return list(section.model_fields)


def _describe(error: dict[str, Any], raw: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(error["loc"][:-1]))
        value = _lookup(raw, error["loc"])
        return f"{key} = {value!r}: unknown key; allowed here: {allowed}"
    if error["type"] == "value_error":
        # Cross-field checks above write their own message, naming keys and values.
        return error["msg"].removeprefix("Value error, ")
    return f"{key} = {_lookup(raw, error['loc'])!r}: {error['msg']}"


def parse_params(raw: dict[str, Any], source: str = "params.yaml") -> Params:
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(error, raw) for error in exc.errors())
        raise SeqcastError(f"{source}: {problems}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise SeqcastError(f"{path}: not found; run from the repository root") from None
    except yaml.YAMLError as exc:
        raise SeqcastError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, str(path))


def main() -> None:
    """`python -m seqcast.params [params.yaml]`: validate the file before a long run."""
    import sys

    from seqcast import stage

    path = sys.argv[1] if len(sys.argv) > 1 else "params.yaml"
    stage.run(lambda: load_params(path) and print(f"{path}: valid"), "params")


if __name__ == "__main__":
    main()
