"""Typed, validated view of params.yaml: every stage reads its knobs through here.

The whole file is validated at load, so a wrong key or value fails the first stage
that runs, with a message naming the key, the value and what is allowed.
"""

import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

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


class TargetParams(Section):
    transform: Literal["level", "difference", "log_return"] = "level"


class MultistepParams(Section):
    steps: PositiveInt = 1
    strategy: Literal["recursive", "direct"] = "recursive"


class ForecastParams(Section):
    model: str = "best"
    days: PositiveInt = 20


def _iso_date(value: Any) -> Any:
    """A date written YYYY-MM-DD, quoted or not, kept as that string (DVC's stage names)."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"backtest.origins: {value!r} is not a date YYYY-MM-DD") from None
    return value


IsoDate = Annotated[str, BeforeValidator(_iso_date)]


class BacktestParams(Section):
    origins: list[IsoDate] = ["2011-09-30", "2012-03-30", "2012-09-28"]
    models: list[str] = ["naive", "linear"]
    scheme: Literal["expanding", "sliding"] = "expanding"
    train_days: PositiveInt = 1500
    val_days: PositiveInt = 250
    test_days: PositiveInt = 100

    @model_validator(mode="after")
    def _known_models_and_ordered_origins(self) -> "BacktestParams":
        for name in self.models:
            if name not in MODEL_NAMES:
                raise ValueError(
                    f"backtest.models contains {name!r}: not a known model; "
                    f"choose from {', '.join(MODEL_NAMES)}"
                )
        if not self.origins or not self.models:
            raise ValueError(
                "backtest.origins and backtest.models: list at least one of each; the "
                "comparison report summarises the walk-forward backtest"
            )
        if sorted(set(self.origins)) != self.origins:
            raise ValueError(f"backtest.origins = {self.origins}: list each date once, in order")
        return self


class SeedsParams(Section):
    count: PositiveInt = 1


class TrainParams(Section):
    seed: int = 42
    batch_size: PositiveInt = 64
    max_epochs: PositiveInt = 100
    patience: PositiveInt = 10
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3
    grad_clip: Annotated[float, Field(gt=0)] = 1.0
    threads: PositiveInt = 1


class NaiveParams(Section):
    pass


class LinearParams(Section):
    alpha: Annotated[float, Field(ge=0)] = 1.0


class RecurrentParams(Section):
    hidden_size: PositiveInt = 32
    num_layers: PositiveInt = 1
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    nonlinearity: Literal["tanh", "relu"] = "tanh"


MODEL_NAMES = ("naive", "linear", "rnn", "lstm", "gru")
RECURRENT_MODELS = ("rnn", "lstm", "gru")


class ModelsParams(Section):
    enabled: list[str] = list(MODEL_NAMES)
    naive: NaiveParams = NaiveParams()
    linear: LinearParams = LinearParams()
    rnn: RecurrentParams = RecurrentParams()
    lstm: RecurrentParams = RecurrentParams()
    gru: RecurrentParams = RecurrentParams()

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
    target: TargetParams = TargetParams()
    multistep: MultistepParams = MultistepParams()
    forecast: ForecastParams = ForecastParams()
    backtest: BacktestParams = BacktestParams()
    seeds: SeedsParams = SeedsParams()
    train: TrainParams = TrainParams()
    models: ModelsParams = ModelsParams()
    tracking: TrackingParams = TrackingParams()

    @model_validator(mode="after")
    def _steps_start_the_day_after_the_origin(self) -> "Params":
        if self.multistep.steps > 1 and self.window.horizon != 1:
            raise ValueError(
                f"window.horizon = {self.window.horizon} with multistep.steps = "
                f"{self.multistep.steps}: multi-step forecasts cover days 1..steps after "
                "each origin; set window.horizon to 1"
            )
        return self

    @model_validator(mode="after")
    def _forecast_model_is_trained(self) -> "Params":
        choice = self.forecast.model
        if choice != "best" and choice not in self.models.enabled:
            raise ValueError(
                f"forecast.model = {choice!r}: choose 'best' (lowest validation error) or a "
                f"model in models.enabled ({', '.join(self.models.enabled)})"
            )
        return self

    def model_params(self, name: str) -> BaseModel:
        return getattr(self.models, name)

    def seed_list(self) -> list[int]:
        """train.seed first, then the extra seeds of seeds.count: seed + 1, seed + 2, ..."""
        return [self.train.seed + k for k in range(self.seeds.count)]

    def with_seed(self, seed: int) -> "Params":
        return self.model_copy(update={"train": self.train.model_copy(update={"seed": seed})})


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
