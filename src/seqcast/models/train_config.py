"""How the networks train: the `train.*` section, and the per-model overrides of it.

Every model with `trained_by_epochs` reads a `TrainConfig`; its own params block may
override any key of it under `models.<name>.train` (a `TrainOverrides`).
"""

from typing import Annotated, Any, Literal

from pydantic import Field, create_model
from pydantic.fields import FieldInfo

from seqcast.config import (
    Fraction,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Section,
)


class TrainConfig(Section):
    seed: int = 42
    batch_size: PositiveInt = 64
    max_epochs: PositiveInt = 200
    patience: PositiveInt | None = 10  # null: train exactly max_epochs, keep the last epoch
    learning_rate: PositiveFloat = 1e-3
    grad_clip: PositiveFloat | None = 1.0  # null: no clipping
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9  # sgd only
    weight_decay: NonNegativeFloat = 0.0
    lr_schedule: Literal["none", "reduce_on_plateau"] = "none"
    lr_factor: Fraction = 0.5  # reduce_on_plateau: multiply the learning rate by this
    lr_patience: NonNegativeInt = 5  # ... after this many epochs without progress
    device: Literal["auto", "cpu", "cuda"] = "auto"  # PyTorch models; auto: CUDA if available
    threads: NonNegativeInt = 1  # 0: the cores divided by parallel_runs
    parallel_runs: PositiveInt = 1


def _optional(field: FieldInfo) -> Any:
    """A field's type, constraints kept, that may also be left out (None)."""
    typed = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return typed | None


# Any train.* key, set for one model only: models.<name>.train overrides the shared value.
TrainOverrides = create_model(
    "TrainOverrides",
    __base__=Section,
    **{name: (_optional(field), None) for name, field in TrainConfig.model_fields.items()},
)


def with_overrides(train: TrainConfig, overrides: Section) -> TrainConfig:
    """`train` with the keys that `overrides` sets replaced."""
    update = overrides.model_dump(exclude_none=True)
    return train.model_copy(update=update) if update else train
