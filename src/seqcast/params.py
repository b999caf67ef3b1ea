"""Typed, validated view of params.yaml: every stage reads its knobs through here.

The whole file is validated at load, so a wrong key or value fails the first stage
that runs, with a message naming the key, the value and what is allowed.

The blocks of the models (models.<name>, and train.*) and of the sources (data.<name>)
are config types that those modules own; this module composes them from the two
catalogs, and only the edges (stages, commands, seqcast.jobs) import it.

A stage reads the sections it needs: `load_params(models=("lstm",), with_source=False)`
composes the block of lstm alone and leaves the source's block out, so that the stage
imports lstm's code and no other model's or source's (a DVC stage depends on what it
runs). `load_params()` validates the whole file: `seqcast check` does.
"""

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    model_validator,
)

from seqcast.config import (
    PositiveInt,
    Section,
    choices,
)
from seqcast.data import sources
from seqcast.data.features import DEFAULT_TARGET, FeatureParams, FeatureSpec, split_extra_column
from seqcast.errors import SeqcastError
from seqcast.forecasting.folds import BacktestParams, Origin
from seqcast.forecasting.forecaster import REGISTRY_SCHEME, ForecastParams
from seqcast.models.catalog import known_model as _known_model
from seqcast.models.catalog import model_class, model_names
from seqcast.models.train_config import TrainConfig, with_overrides
from seqcast.ops.sweeps.space import Range, SpaceValues
from seqcast.prep.preprocessing import MultistepParams
from seqcast.prep.scaling import ScaleParams
from seqcast.prep.splitting import SplitParams
from seqcast.prep.transforms import TargetParams
from seqcast.prep.windows import WindowParams
from seqcast.scoring.metrics import METRICS

Ticker = Annotated[str, Field(min_length=1)]


def _blocks(base: type[Section], configs: dict[str, type[Section]]) -> dict[str, Any]:
    """One field per registered name, its config type with its defaults, for create_model."""
    clash = sorted(set(configs) & set(base.model_fields))
    if clash:
        raise TypeError(f"{base.__name__}: {clash} are keys of its own, not usable as names")
    return {name: (config, config()) for name, config in configs.items()}


def _known_source(name: str) -> str:
    names = sources.source_names()
    if name not in names:
        raise ValueError(
            f"data.source = {name!r}: not a known source; choose from {choices(names)}"
        )
    return name


class DataSection(Section):
    """data.*: what to load; the source's own block data.<source> is added by the schema
    of a scope that reads the source (`_data_params`)."""

    source: Annotated[str, BeforeValidator(_known_source)] = "sample"
    ticker: Ticker = "AAPL"  # the series to forecast
    # every ticker to load, data.ticker among them; []: data.ticker
    tickers: list[Ticker] = Field(default_factory=list)
    target: str = DEFAULT_TARGET  # column of data.ticker to forecast

    @property
    def all_tickers(self) -> list[str]:
        return list(self.tickers) or [self.ticker]

    @property
    def other_tickers(self) -> list[str]:
        return [t for t in self.all_tickers if t != self.ticker]

    @property
    def has_source(self) -> bool:
        """Whether this scope read the source's block (a stage that downloads does)."""
        return self.source in type(self).model_fields

    @property
    def source_config(self) -> Section:
        """The block data.<source> of the chosen source."""
        if not self.has_source:
            raise SeqcastError("these params were read without the source's block data.<source>")
        return getattr(self, self.source)

    @property
    def columns(self) -> tuple[str, ...]:
        """The numeric columns that the source puts in the raw table, besides date and ticker."""
        return sources.source(self.source).columns(self.source_config)

    @model_validator(mode="after")
    def _consistent(self) -> "DataSection":
        problems = []
        if self.has_source and self.target not in self.columns:
            problems.append(
                f"data.target = {self.target!r}: not a column that data.source = {self.source} "
                f"provides; choose from {choices(self.columns)}"
            )
        if self.tickers and self.ticker not in self.tickers:
            problems.append(
                f"data.tickers = {self.tickers}: must include data.ticker = {self.ticker!r}, "
                "the series to forecast"
            )
        if len(set(self.tickers)) != len(self.tickers):
            problems.append(f"data.tickers = {self.tickers}: list each ticker once")
        if self.has_source:
            source = sources.source(self.source)
            problems += source.check(self.source_config, self.ticker, self.tickers)
        if problems:
            raise ValueError("; ".join(problems))
        return self


ALL_SOURCES = "*"  # a scope that reads every source's block


@functools.cache
def _data_params(source: str | None) -> type[DataSection]:
    """data.* with the block data.<source> of the chosen source (its module alone is
    imported), or with none: a scope that does not read the source."""
    if source is None:
        return DataSection
    names = sources.source_names()
    if source != ALL_SOURCES and source not in names:  # DataSection names the choices
        return DataSection
    chosen = names if source == ALL_SOURCES else (source,)
    return create_model(
        "DataParams",
        __base__=DataSection,
        source=(Literal[names], "sample"),
        **_blocks(DataSection, {name: sources.source(name).Config for name in chosen}),
    )


class SweepParams(Section):
    """sweep.*: many (ticker, model, params, seed, fold) units in one stage (seqcast.ops.sweeps)."""

    # of data.source; []: data.ticker
    tickers: list[Ticker] = Field(default_factory=lambda: ["AAPL", "GOOG"])
    models: list[str] = Field(default_factory=lambda: ["naive", "linear"])
    seeds: list[int] = Field(default_factory=lambda: [42, 43])  # train.seed of each unit
    origins: list[Origin] = Field(default_factory=lambda: [2, 1])  # folds, as backtest.origins
    search: Literal["grid", "tpe"] = "grid"
    trials: PositiveInt = 8  # tpe: configs tried per (ticker, model), in rounds
    # per model: a key of models.<name> (or train.<key>) -> values to try
    space: dict[str, dict[str, SpaceValues]] = Field(
        default_factory=lambda: {"linear": {"alpha": [0.1, 1.0, 10.0]}}
    )
    significance: Annotated[float, Field(gt=0, lt=1)] = 0.05  # "beats naive beyond the noise"
    experiment: Annotated[str, Field(min_length=1, pattern=r"\S")] = "seqcast-sweep"

    def for_model(self, model: str) -> "SweepParams":
        """sweep.* of one model's stage (sweep@model): sweep.models reduced to it."""
        if model not in self.models:
            raise SeqcastError(f"sweep@{model}: {model} is not in sweep.models ({self.models})")
        return self.model_copy(update={"models": [model]})

    @model_validator(mode="after")
    def _known_models_and_keys(self, info: ValidationInfo) -> "SweepParams":
        for name in self.models:
            _known_model("sweep.models contains", name)
        for name, lists in (("models", self.models), ("seeds", self.seeds)):
            if not lists or len(set(lists)) != len(lists):
                raise ValueError(f"sweep.{name} = {lists}: list each once, at least one")
        if not self.origins or len({str(o) for o in self.origins}) != len(self.origins):
            raise ValueError(f"sweep.origins = {self.origins}: list each origin once, at least one")
        # A model's space is checked even while the model is not in sweep.models, so that
        # `-S sweep.models=[...]` can leave it out without deleting its space; params read
        # for some models (a stage's scope) check those models' spaces only.
        scope = (info.context or {}).get("models")
        for name, keys in self.space.items():
            _known_model("sweep.space has", name)
            if scope is not None and name not in scope:
                continue
            for key, values in keys.items():
                where = f"sweep.space.{name}.{key}"
                if isinstance(values, Range) and self.search == "grid":
                    raise ValueError(
                        f"{where}: a range (low, high) needs sweep.search: tpe; a grid lists values"
                    )
                if isinstance(values, list) and not values:
                    raise ValueError(f"{where} = []: list at least one value")
                for value in values if isinstance(values, list) else [values.low, values.high]:
                    sweep_config(name, {key: value}, where)
        return self


def sweep_config(model: str, config: dict[str, Any], where: str = "sweep") -> Section:
    """models.<model> with `config` applied: {key: value}, train.<key> for the model's own
    train overrides; an unknown key or a bad value is an error naming `where`."""
    block = model_class(model).Config
    own: dict[str, Any] = {}
    for key, value in config.items():
        if key.startswith("train."):
            if "train" not in block.model_fields:
                raise ValueError(f"{where}: {model} is not trained by epochs; it has no train.*")
            own.setdefault("train", {})[key.removeprefix("train.")] = value
        elif key in block.model_fields and key != "train":
            own[key] = value
        else:
            keys = [k for k in block.model_fields if k != "train"]
            if "train" in block.model_fields:
                keys.append("train.<key>")
            raise ValueError(
                f"{where}: {model} has no key {key!r}; choose from {', '.join(keys) or 'none'}"
            )
    try:
        return block.model_validate(own)
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        raise ValueError(f"{where} = {config}: {problems}") from None


class SeedsParams(Section):
    count: PositiveInt = 1


class ModelsSection(Section):
    """models.*: which models run; each registered model's block models.<name> is added below."""

    enabled: list[str] = Field(default_factory=lambda: ["naive", "linear", "rnn", "lstm", "gru"])

    @model_validator(mode="after")
    def _known_and_unique(self) -> "ModelsSection":
        for name in self.enabled:
            _known_model("models.enabled contains", name)
        if len(set(self.enabled)) != len(self.enabled) or not self.enabled:
            raise ValueError(f"models.enabled = {self.enabled}: list each model once, at least one")
        return self


@functools.cache
def _models_params(names: tuple[str, ...]) -> type[ModelsSection]:
    """models.* with the blocks models.<name> of `names`."""
    return create_model(
        "ModelsParams",
        __base__=ModelsSection,
        **_blocks(ModelsSection, {name: model_class(name).Config for name in names}),
    )


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
    above: float = -0.05  # the model's skill_vs_naive must stay strictly above this

    @model_validator(mode="after")
    def _known_model(self) -> "SkillFloor":
        _known_model("gate.skill.model =", self.model)
        return self


def _default_rules() -> dict[str, MetricRule]:
    """The default rule of every metric, from its row in seqcast.scoring.metrics.METRICS."""
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
# Diebold-Mariano test compares (seqcast.scoring.metrics.METRICS).
PRIMARY_METRICS = tuple(name for name, m in METRICS.items() if m.loss is not None)


class GateParams(Section):
    """The metric gate (`seqcast gate`); no pipeline stage depends on it.

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
    """The whole of params.yaml. The blocks models.<name> and data.<source> are fields of
    the schema that `parse_params` composes for its scope (`_schema`); this class alone
    holds neither."""

    data: DataSection = DataSection()
    features: FeatureParams = FeatureParams()
    split: SplitParams = SplitParams()
    scale: ScaleParams = ScaleParams()
    window: WindowParams = WindowParams()
    target: TargetParams = TargetParams()
    multistep: MultistepParams = MultistepParams()
    forecast: ForecastParams = ForecastParams()
    backtest: BacktestParams = BacktestParams()
    seeds: SeedsParams = SeedsParams()
    train: TrainConfig = TrainConfig()
    models: ModelsSection = ModelsSection()
    tracking: TrackingParams = TrackingParams()
    gate: GateParams = GateParams()
    sweep: SweepParams = SweepParams()

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
        if choice.startswith(REGISTRY_SCHEME):
            if not re.fullmatch(r"models:/[^/@]+(@[^/@]+|/\d+)", choice):
                raise ValueError(
                    f"forecast.model = {choice!r}: a registered model is "
                    "models:/<name>@<alias> or models:/<name>/<version>"
                )
        elif choice != "best" and choice not in self.models.enabled:
            raise ValueError(
                f"forecast.model = {choice!r}: choose 'best' (lowest validation error), a "
                f"model in models.enabled ({', '.join(self.models.enabled)}) or a registered "
                "model such as models:/<name>@champion"
            )
        return self

    @model_validator(mode="after")
    def _no_validation_block_needs_fixed_epochs(self) -> "Params":
        """split.val = 0 leaves nothing to stop early on, schedule by or choose on."""
        if self.split.val > 0:
            return self
        if self.forecast.model == "best":
            raise ValueError(
                "forecast.model = best chooses the model on the validation block, and "
                "split.val = 0 leaves none: name the model to forecast with, e.g. "
                f"forecast.model: {self.models.enabled[-1]}"
            )
        for name in self.models.enabled:
            if not self.has_model(name):
                continue  # read without its block: the stage of that model checks it
            train = self.train_for(name)
            if not model_class(name).trained_by_epochs:
                continue
            if train.patience is not None:
                raise ValueError(
                    f"split.val = 0 leaves {name} no validation block to stop early on: set "
                    "train.patience: null to train exactly train.max_epochs epochs"
                )
            if train.lr_schedule == "reduce_on_plateau":
                raise ValueError(
                    f"split.val = 0 leaves {name} no validation loss for train.lr_schedule "
                    "= reduce_on_plateau: set train.lr_schedule: none"
                )
        return self

    @property
    def feature_spec(self) -> FeatureSpec:
        """The features of data.target that features.* asks for."""
        return self.features.spec(self.data.target)

    def prep_sections(self) -> tuple[FeatureSpec, WindowParams, TargetParams, MultistepParams]:
        """What pipeline_preprocessing takes after the scaled table, levels and scaler."""
        return self.feature_spec, self.window, self.target, self.multistep

    def fit_sections(self, name: str) -> dict[str, Any]:
        """PriceForecaster.fit's keyword arguments for model `name`, as these params say."""
        return {
            "target": self.data.target,
            "features": self.features,
            "split": self.split,
            "scale": self.scale,
            "window": self.window,
            "transform": self.target,
            "multistep": self.multistep,
            "model": self.model_params(name),
            "train": self.train,
            "forecast": self.forecast,
        }

    def has_model(self, name: str) -> bool:
        """Whether these params hold the block models.<name> (their scope read it)."""
        return name in type(self.models).model_fields

    def model_params(self, name: str) -> Section:
        """The block models.<name>: the model's own Config."""
        model_class(name)  # an unknown name is an error that lists the known ones
        if not self.has_model(name):
            raise SeqcastError(
                f"models.{name}: these params were read without it; "
                f"load_params(models=[{name!r}]) reads it"
            )
        return getattr(self.models, name)

    def train_for(self, name: str) -> TrainConfig:
        """train.* with the model's own models.<name>.train overrides applied, if it has any."""
        if not model_class(name).trained_by_epochs:
            return self.train
        return with_overrides(self.train, self.model_params(name).train)

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
            if self.data.has_source and column not in self.data.columns:
                raise ValueError(
                    f"features.extra_columns contains {name!r}: data.source = "
                    f"{self.data.source} has no column {column!r}; choose from "
                    f"{choices(self.data.columns)}"
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


def _allowed_keys(loc: tuple[Any, ...], schema: type[Params]) -> list[str]:
    section: Any = schema
    for part in loc:
        if isinstance(section, type) and issubclass(section, BaseModel):
            section = section.model_fields[part].annotation
        else:  # a dict of sections, e.g. gate.metrics: step into its value type
            section = get_args(section)[-1]
    return list(section.model_fields)


def _describe(error: dict[str, Any], raw: dict[str, Any], schema: type[Params]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(error["loc"][:-1], schema))
        value = _lookup(raw, error["loc"])
        return f"{key} = {value!r}: unknown key; allowed here: {allowed}"
    if error["type"] == "value_error":
        # Cross-field checks above write their own message, naming keys and values.
        return error["msg"].removeprefix("Value error, ")
    return f"{key} = {_lookup(raw, error['loc'])!r}: {error['msg']}"


@functools.cache
def _schema(source: str | None, models: tuple[str, ...] | None) -> type[Params]:
    """Params with the blocks of `models` (None: every model) and of `source` (None: no
    source's)."""
    names = model_names() if models is None else models
    data, blocks = _data_params(source), _models_params(names)
    return create_model("Params", __base__=Params, data=(data, data()), models=(blocks, blocks()))


def _chosen_source(raw: Any) -> str:
    data = raw.get("data") if isinstance(raw, dict) else None
    chosen = data.get("source", "sample") if isinstance(data, dict) else "sample"
    return chosen if isinstance(chosen, str) else "sample"


def _scoped(raw: Any, source: str | None, models: tuple[str, ...] | None) -> Any:
    """The raw params without the blocks that a scope does not read: every model's block
    but those of `models` (None: all), every source's but that of `source`."""
    if not isinstance(raw, dict):
        return raw
    raw = dict(raw)
    if isinstance(raw.get("data"), dict):
        known = set(sources.source_names())
        raw["data"] = {
            k: v
            for k, v in raw["data"].items()
            if k in DataSection.model_fields or source in (k, ALL_SOURCES) or k not in known
        }
    if models is not None and isinstance(raw.get("models"), dict):
        keep = {*ModelsSection.model_fields, *models}
        raw["models"] = {k: v for k, v in raw["models"].items() if k in keep}
    return raw


def parse_params(
    raw: dict[str, Any],
    source: str = "params.yaml",
    *,
    models: Sequence[str] | None = None,
    with_source: bool = True,
) -> Params:
    """The validated params. `models`: read only these blocks models.<name> (None: all);
    `with_source`: read the chosen source's block data.<source> and check data.* against
    it (the other sources' blocks are not read: `seqcast check` reads them)."""
    scope = None if models is None else tuple(models)
    source_name = None
    if with_source:  # the whole file: every source's block; a stage's: the chosen one's
        source_name = ALL_SOURCES if scope is None else _chosen_source(raw)
    raw_scoped, schema = _scoped(raw, source_name, scope), _schema(source_name, scope)
    try:
        return schema.model_validate(raw_scoped, context={"models": scope})
    except ValidationError as exc:
        problems = "; ".join(_describe(e, raw_scoped, schema) for e in exc.errors())
        raise SeqcastError(f"{source}: {problems}") from None


def read_raw(path: str | Path = "params.yaml") -> dict[str, Any]:
    """The params file as YAML reads it, before validation (to apply overrides to)."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise SeqcastError(f"{path}: not found; run from the repository root") from None
    except yaml.YAMLError as exc:
        raise SeqcastError(f"{path}: not valid YAML: {exc}") from None


def load_params(
    path: str | Path = "params.yaml",
    *,
    models: Sequence[str] | None = None,
    with_source: bool = True,
) -> Params:
    """params.yaml, validated; `models` and `with_source` narrow it as parse_params does."""
    return parse_params(read_raw(path), str(path), models=models, with_source=with_source)
