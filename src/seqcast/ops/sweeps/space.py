"""The configs a sweep tries for one model: every point of a grid, or Optuna TPE's proposals.

A config is a flat dict over the model's block models.<name>: {"hidden_size": 32,
"train.learning_rate": 0.003}. Its canonical text (sorted keys, JSON) names it in the
results table and in unit ids.
"""

import itertools
import json
import math
from typing import Any, get_args

from pydantic import model_validator

from seqcast.config import PositiveFloat, Section
from seqcast.models import model_class
from seqcast.models.train_config import TrainConfig

Config = dict[str, Any]


def config_text(config: Config) -> str:
    """The canonical JSON of a config: what the results table and unit ids hold."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def grid(space: dict[str, list[Any]]) -> list[Config]:
    """Every combination of the listed values, in the order written; {} is one empty config."""
    keys = list(space)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*space.values())]


def suggest(trial: Any, model: str, space: "dict[str, list[Any] | Range]") -> Config:
    """An Optuna trial's config: a list is a choice among its values, a Range a number,
    an integer where the model's key is one (hidden_size), else a float."""
    config: Config = {}
    for key, values in space.items():
        if isinstance(values, list):
            index = trial.suggest_categorical(key, list(range(len(values))))
            config[key] = values[index]  # by index: Optuna's choices must be plain scalars
        elif _integer_key(model, key):
            step = int(values.step or 1)
            config[key] = trial.suggest_int(
                key, math.ceil(values.low), math.floor(values.high), step=step, log=values.log
            )
        else:
            config[key] = trial.suggest_float(
                key, values.low, values.high, step=values.step, log=values.log
            )
    return config


def _integer_key(model: str, key: str) -> bool:
    block: Any = model_class(model).Config
    if key.startswith("train."):
        block, key = TrainConfig, key.removeprefix("train.")
    return _is_integer(block.model_fields[key].annotation)


def _is_integer(annotation: Any) -> bool:
    """int, Annotated[int, ...] or an optional one, not bool."""
    if annotation is int:
        return True
    return any(_is_integer(arg) for arg in get_args(annotation))


class Range(Section):
    """A numeric range that sweep.search = tpe samples from: {low, high} and, optionally,
    log (sample on a log scale) or step (integers or a float grid)."""

    low: float
    high: float
    log: bool = False
    step: PositiveFloat | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if not self.low < self.high:
            raise ValueError(f"a range needs low < high, got low {self.low}, high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got {self.low}")
        return self


# sweep.space.<model>.<key>: a list of values (grid, or a choice for tpe), or a Range (tpe)
SpaceValues = list[Any] | Range
