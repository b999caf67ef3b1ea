"""Typed, validated view of params.yaml: every stage reads its knobs through here.

The whole file is validated at load, so a wrong key or value fails the first stage
that runs, with a message naming the key, the value and what is allowed.
"""

import datetime
import io
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from seqcast.errors import SeqcastError
from seqcast.metrics import METRICS

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PRICE_FIELDS = ("open", "high", "low", "close", "volume")
SYNTHETIC_KINDS = ("sine", "noisy_sine", "noise", "damped", "seasonal_trend", "random_walk")
# Names of columns in the tidy raw table: lower-case identifiers, so that an extra input
# "TICKER.column" splits unambiguously at its last dot (tickers may hold dots: VOD.L).
COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
Ticker = Annotated[str, Field(min_length=1)]


def _choices(values: tuple[str, ...] | list[str]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _iso_date(value: Any) -> Any:
    if isinstance(value, datetime.date):
        raise PydanticCustomError(
            "iso_date", "write the date in quotes, as DVC rejects YAML dates: '2015-01-02'"
        )
    if not isinstance(value, str):
        return value  # the str type reports it
    try:
        valid = len(value) == 10 and datetime.date.fromisoformat(value)
    except ValueError:
        valid = False
    if not valid:
        raise PydanticCustomError("iso_date", "expected a date written YYYY-MM-DD, in quotes")
    return value


# Dates stay strings: DVC reads params.yaml too and rejects YAML date values, so they are
# written quoted ("2015-01-02") and checked here.
IsoDate = Annotated[str, BeforeValidator(_iso_date)]


class YfinanceParams(Section):
    """Yahoo Finance download: pinned dates, so that a rerun asks for the same rows."""

    start: IsoDate = "2015-01-02"
    end: IsoDate = "2025-01-01"  # exclusive, as in yfinance
    # Daily and longer bars only: Yahoo serves intraday bars for recent weeks only, which
    # pinned dates could not ask for again.
    interval: Literal["1d", "5d", "1wk", "1mo", "3mo"] = "1d"
    retries: Annotated[int, Field(ge=0)] = 3
    backoff_s: Annotated[float, Field(ge=0)] = 2.0  # waits backoff_s, 2 backoff_s, 4 ...
    timeout_s: Annotated[float, Field(gt=0)] = 10.0  # per HTTP request

    @model_validator(mode="after")
    def _start_before_end(self) -> "YfinanceParams":
        if self.start >= self.end:
            raise ValueError(
                f"data.yfinance.start = {self.start!r} must be before data.yfinance.end = "
                f"{self.end!r} (the end date is exclusive)"
            )
        return self


class CsvParams(Section):
    """Any CSV with a date column and numeric columns; `columns` maps our names to the file's."""

    path: str = "data/sample/stocks.csv"
    date_column: str = "date"
    date_format: str | None = None  # strptime format such as %d/%m/%Y; None: ISO 8601
    ticker_column: str | None = "ticker"  # None: the whole file is the series of data.ticker
    columns: dict[str, str] = {name: name for name in PRICE_FIELDS}
    missing: Literal["error", "ffill", "drop"] = "error"
    sort: bool = False  # sort rows by date; otherwise unsorted dates are an error
    large_gap: Annotated[float, Field(gt=1)] = 5.0  # warn at gaps > large_gap x median spacing
    encoding: str = "utf-8"  # any codec Python knows: latin-1, cp1252, utf-16, ...

    @model_validator(mode="after")
    def _known_encoding(self) -> "CsvParams":
        try:
            # As a text file opens it: codecs of bytes to bytes (base64) are refused too.
            io.TextIOWrapper(io.BytesIO(), encoding=self.encoding)
        except LookupError:
            raise ValueError(
                f"data.csv.encoding = {self.encoding!r}: not a text encoding Python knows; use "
                "one such as utf-8, latin-1 or cp1252"
            ) from None
        return self

    @model_validator(mode="after")
    def _distinct_columns(self) -> "CsvParams":
        if not self.columns:
            raise ValueError("data.csv.columns is empty: map at least one numeric column")
        bad = [name for name in self.columns if not COLUMN_NAME.match(name)]
        if bad:
            raise ValueError(
                f"data.csv.columns: the names {bad} are not lower-case identifiers (a-z, 0-9, _ "
                "after a letter); each key is the name the column gets, each value the file's"
            )
        if {"date", "ticker"} & set(self.columns):
            raise ValueError(
                "data.csv.columns: 'date' and 'ticker' name the date and ticker columns; "
                "map them with data.csv.date_column and data.csv.ticker_column"
            )
        used = [self.date_column, self.ticker_column, *self.columns.values()]
        repeated = sorted({c for c in used if c is not None and used.count(c) > 1})
        if repeated:
            raise ValueError(
                f"data.csv: the file columns {repeated} are used twice among date_column, "
                "ticker_column and columns; map each file column once"
            )
        return self


class SyntheticParams(Section):
    kind: Literal[SYNTHETIC_KINDS] = "sine"
    seed: int = 0


class DataParams(Section):
    source: Literal["sample", "yfinance", "csv", "synthetic"] = "sample"
    sample_path: str = "data/sample/stocks.csv"
    ticker: Ticker = "AAPL"  # the series to forecast
    tickers: list[Ticker] = []  # every ticker to load, data.ticker among them; []: data.ticker
    target: str = "close"  # column of data.ticker to forecast
    yfinance: YfinanceParams = YfinanceParams()
    csv: CsvParams = CsvParams()
    synthetic: SyntheticParams = SyntheticParams()

    @property
    def all_tickers(self) -> list[str]:
        return list(self.tickers) or [self.ticker]

    @property
    def other_tickers(self) -> list[str]:
        return [t for t in self.all_tickers if t != self.ticker]

    @property
    def columns(self) -> tuple[str, ...]:
        """The numeric columns that the source puts in the raw table, besides date and ticker."""
        if self.source == "csv":
            return tuple(self.csv.columns)
        if self.source == "synthetic":
            return ("value",)
        return PRICE_FIELDS

    @model_validator(mode="after")
    def _consistent(self) -> "DataParams":
        problems = []
        if self.target not in self.columns:
            problems.append(
                f"data.target = {self.target!r}: not a column that data.source = {self.source} "
                f"provides; choose from {_choices(self.columns)}"
            )
        if self.tickers and self.ticker not in self.tickers:
            problems.append(
                f"data.tickers = {self.tickers}: must include data.ticker = {self.ticker!r}, "
                "the series to forecast"
            )
        if len(set(self.tickers)) != len(self.tickers):
            problems.append(f"data.tickers = {self.tickers}: list each ticker once")
        kind = self.synthetic.kind
        if self.source == "synthetic" and (self.ticker != kind or self.tickers not in ([], [kind])):
            problems.append(
                f"data.ticker = {self.ticker!r}: with data.source = synthetic the one series is "
                f"named after data.synthetic.kind; set data.ticker: {kind} and leave "
                "data.tickers empty"
            )
        if self.source == "csv" and self.csv.ticker_column is None and len(self.all_tickers) > 1:
            problems.append(
                f"data.tickers = {self.tickers}: a CSV without data.csv.ticker_column holds one "
                "series; set data.csv.ticker_column to load several tickers"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class FeatureParams(Section):
    lags: Annotated[int, Field(ge=0)] = 5
    rolling_windows: list[Annotated[int, Field(ge=2)]] = [10]
    returns: bool = True
    extra_columns: list[str] = []  # more inputs, each "TICKER.column", e.g. MSFT.close
    join: Literal["exact", "inner"] = "exact"  # extra inputs missing on a target date: error / drop

    @property
    def extra_inputs(self) -> list[tuple[str, str]]:
        """(ticker, column) of each extra input column."""
        return [split_extra_column(name) for name in self.extra_columns]


EXTRA_COLUMN = re.compile(r"^(?P<ticker>.+)\.(?P<column>[a-z][a-z0-9_]*)$")


def split_extra_column(name: str) -> tuple[str, str]:
    match = EXTRA_COLUMN.match(name)
    if match is None:
        raise ValueError(
            f"features.extra_columns contains {name!r}: write TICKER.column, e.g. MSFT.close"
        )
    return match["ticker"], match["column"]


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


def _origin(value: Any) -> Any:
    """A fold number k >= 1, or a date written YYYY-MM-DD, quoted or not, kept as that
    string (both become DVC stage names)."""
    if isinstance(value, bool):
        raise ValueError(f"backtest.origins: {value!r} is neither a fold number nor a date")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"backtest.origins: {value} is not a fold number (1, 2, ...)")
        return value
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"backtest.origins: {value!r} is not a date YYYY-MM-DD nor a fold number"
            ) from None
    return value


Origin = Annotated[int | str, BeforeValidator(_origin)]


class BacktestParams(Section):
    # k: the fold whose test block ends k - 1 blocks of test_days before the test split, so
    # that the default fits any series; or a date: the last day the fold learns from.
    origins: list[Origin] = [3, 2, 1]
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
        if len({str(o) for o in self.origins}) != len(self.origins):
            raise ValueError(f"backtest.origins = {self.origins}: list each origin once")
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
    # relative: price columns minus their value on the window's last day, under a change
    # target (seqcast.models.anchoring); absolute: the scaled values as they are
    inputs: Literal["relative", "absolute"] = "relative"
    train: TrainOverrides = TrainOverrides()


class NumpyGatedParams(Section):
    """The from-scratch NumPy LSTM and GRU (no dropout)."""

    hidden_size: PositiveInt = 32
    num_layers: PositiveInt = 1
    inputs: Literal["relative", "absolute"] = "relative"  # as for the PyTorch networks
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
    experiment: Annotated[str, Field(min_length=1, pattern=r"\S")] = "seqcast"


class MetricRule(Section):
    """How the metric gate judges one metric: which way is better, and the change tolerated.

    A change counts as a regression only if it is worse by more than both tolerances allow,
    i.e. by more than max(abs_tol, rel_tol * |committed value|), as in math.isclose.
    """

    better: Literal["lower", "higher"]
    abs_tol: Annotated[float, Field(ge=0)] = 0.0
    rel_tol: Annotated[float, Field(ge=0)] = 0.0


class SkillFloor(Section):
    model: str = "linear"
    above: float = -0.5  # the model's skill_vs_naive must stay strictly above this

    @model_validator(mode="after")
    def _known_model(self) -> "SkillFloor":
        if self.model not in MODEL_NAMES:
            raise ValueError(
                f"gate.skill.model = {self.model!r}: not a known model; "
                f"choose from {', '.join(MODEL_NAMES)}"
            )
        return self


def _default_rules() -> dict[str, MetricRule]:
    """The default rule of every metric, from its row in seqcast.metrics.METRICS."""
    return {
        name: MetricRule(better=m.better, abs_tol=m.abs_tol, rel_tol=m.rel_tol)
        for name, m in METRICS.items()
    }


def _over_default_rules(value: Any) -> Any:
    """gate.metrics merged over the defaults: a rule given replaces the fields it names."""
    if not isinstance(value, dict):
        return value  # pydantic names the key and the expected type
    rules: dict[str, Any] = {name: rule.model_dump() for name, rule in _default_rules().items()}
    for name, rule in value.items():
        default = rules.get(name)
        rules[name] = {**default, **rule} if isinstance(rule, dict) and default else rule
    return rules


# Metrics the gate can judge as primary: those with a loss per test target that the
# Diebold-Mariano test compares (seqcast.metrics.METRICS).
PRIMARY_METRICS = tuple(name for name, m in METRICS.items() if m.loss is not None)


class GateParams(Section):
    """The metric gate (`python -m seqcast.gate`); no pipeline stage depends on it.

    `primary` alone decides each model's verdict; a change of it beyond its tolerance is a
    regression only if the one-sided Diebold-Mariano test of the fresh against the committed
    predictions has p < `alpha` and, with several committed seeds, the change exceeds
    `seed_spread` standard deviations of the metric over those seeds.
    """

    primary: str = "rmse"
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
    seed_spread: Annotated[float, Field(ge=0)] = 2.0
    metrics: Annotated[dict[str, MetricRule], BeforeValidator(_over_default_rules)] = Field(
        default_factory=_default_rules
    )
    skill: SkillFloor = SkillFloor()

    @model_validator(mode="after")
    def _primary_is_judged(self) -> "GateParams":
        if self.primary not in PRIMARY_METRICS:
            raise ValueError(
                f"gate.primary = {self.primary!r}: the gate can judge only "
                f"{', '.join(PRIMARY_METRICS)} as the primary metric"
            )
        return self


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
    gate: GateParams = GateParams()

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

    def train_for(self, name: str) -> TrainParams:
        """train.* with the network's own models.<name>.train overrides applied."""
        overrides = self.model_params(name).train.model_dump(exclude_none=True)
        return self.train.model_copy(update=overrides) if overrides else self.train

    @model_validator(mode="after")
    def _extra_columns_exist(self) -> "Params":
        names = self.features.extra_columns
        if len(set(names)) != len(names):
            raise ValueError(f"features.extra_columns = {names}: list each column once")
        for name in names:
            ticker, column = split_extra_column(name)
            if ticker not in self.data.all_tickers:
                raise ValueError(
                    f"features.extra_columns contains {name!r}: {ticker!r} is not loaded; "
                    f"add it to data.tickers (now {self.data.all_tickers})"
                )
            if column not in self.data.columns:
                raise ValueError(
                    f"features.extra_columns contains {name!r}: data.source = "
                    f"{self.data.source} has no column {column!r}; choose from "
                    f"{_choices(self.data.columns)}"
                )
            if (ticker, column) == (self.data.ticker, self.data.target):
                raise ValueError(
                    f"features.extra_columns contains {name!r}: that is the target itself, "
                    "which is always an input"
                )
        return self

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
    section: Any = Params
    for part in loc:
        if isinstance(section, type) and issubclass(section, BaseModel):
            section = section.model_fields[part].annotation
        else:  # a dict of sections, e.g. gate.metrics: step into its value type
            section = get_args(section)[-1]
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
