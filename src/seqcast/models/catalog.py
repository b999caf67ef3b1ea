"""The catalog of models: every Forecaster class under its name.

The built-in models are listed by name with the module that defines them, so that using
one model imports that model's code and nothing else: a DVC stage of lstm depends on the
recurrent module, never on the NumPy networks (stages/model_code/<name> lists each
model's files for dvc.yaml). Any other module of this package whose class carries
`@register` is a model too, found when a name is not a built-in: a new model needs no edit
elsewhere. Its params block models.<name> is derived from its `Config` (seqcast.params).
Helper modules (the training loops, the torch module) are not imported until a model
needs them: reading params.yaml does not load PyTorch.
"""

import importlib
import importlib.util
import json
import pkgutil
from pathlib import Path
from typing import TypeVar

from seqcast.errors import SeqcastError
from seqcast.models.base import CONFIG_FILE, NAME_KEY, Forecaster
from seqcast.models.train_config import TrainConfig, TrainOverrides
from seqcast.unreadable import unreadable

# The built-in models, in their fixed order, and the module of each; others follow.
BUILT_IN: dict[str, str] = {
    "naive": "baselines",
    "linear": "baselines",
    "rnn": "recurrent",
    "lstm": "recurrent",
    "gru": "recurrent",
    "numpy_rnn": "numpy_rnn",
    "numpy_lstm": "numpy_rnn",
    "numpy_gru": "numpy_rnn",
}
BUILT_IN_MODULES = tuple(dict.fromkeys(BUILT_IN.values()))

_MODELS: dict[str, type[Forecaster]] = {}
_discovered = False

F = TypeVar("F", bound=type[Forecaster])


def register(cls: F) -> F:
    """Class decorator: make `cls` the model of its `name`."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"{cls.__qualname__}: a model declares `name`, a Python identifier")
    known = _MODELS.get(name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise TypeError(
            f"model name {name!r} is declared twice: by {known.__module__}.{known.__qualname__} "
            f"and by {cls.__module__}.{cls.__qualname__}"
        )
    fields = cls.Config.model_fields
    if cls.trained_by_epochs and fields.get("train") is None:
        raise TypeError(f"{cls.__qualname__}: trained_by_epochs, so its Config needs `train`")
    if cls.trained_by_epochs and fields["train"].annotation is not TrainOverrides:
        raise TypeError(f"{cls.__qualname__}: Config.train must be a TrainOverrides")
    _MODELS[name] = cls
    return cls


def _declares_models(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    source = spec.loader.get_source(module) if spec and spec.loader else None
    return source is not None and "@register" in source


def _discover() -> None:
    """Import the modules beyond the built-ins that declare models (none, unless a user
    added one): the built-ins' own modules are imported one at a time, when used."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("seqcast.models")
    found = [f"seqcast.models.{info.name}" for info in pkgutil.iter_modules(package.__path__)]
    built_in = [f"seqcast.models.{name}" for name in BUILT_IN_MODULES]
    for module in (m for m in found if m not in built_in and _declares_models(m)):
        importlib.import_module(module)


def model_names() -> tuple[str, ...]:
    """Every model, built-ins first in their fixed order; no built-in's code is imported."""
    _discover()
    return (*BUILT_IN, *(name for name in _MODELS if name not in BUILT_IN))


def known_model(where: str, name: str) -> None:
    """A ValueError unless `name` is a model; `where` is how the message names the key:
    "models.enabled contains", ..."""
    if name not in model_names():
        raise ValueError(
            f"{where} {name!r}: not a known model; choose from {', '.join(model_names())}"
        )


def model_class(name: str) -> type[Forecaster]:
    """The class of model `name`, importing its module (a built-in's alone)."""
    if name in BUILT_IN:
        importlib.import_module(f"seqcast.models.{BUILT_IN[name]}")
    else:
        _discover()
    if name not in _MODELS:
        raise SeqcastError(f"unknown model {name!r}; choose from {', '.join(model_names())}")
    return _MODELS[name]


def build_model(name: str, config: object, train: TrainConfig | None = None) -> Forecaster:
    """The unfitted model `name` from its params block (`params.model_params(name)`) and,
    for models trained by epochs, its train.* (`params.train_for(name)`)."""
    cls = model_class(name)
    if not isinstance(config, cls.Config):
        raise TypeError(
            f"build_model({name!r}): config is a {type(config).__name__}, expected a "
            f"{cls.Config.__name__}"
        )
    return cls.build(config, train or TrainConfig())


def retrain(model_dir: Path) -> str:
    """How to rewrite a saved model: its directory is data/models/<name> under the pipeline."""
    if model_dir.name in model_names():
        return f"retrain with `dvc repro -f train@{model_dir.name}`"
    return "rerun the train stage of this model"


def load_model(directory: str | Path) -> Forecaster:
    """The fitted model saved in `directory`, rebuilt by the class its config.json names."""
    directory = Path(directory)
    path = directory / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, or bytes that are not UTF-8
        raise unreadable(path, exc, retrain(directory)) from None
    if not isinstance(config, dict):
        raise unreadable(path, ValueError("not a JSON object"), retrain(directory))
    name = config.get(NAME_KEY)
    if not isinstance(name, str) or name not in model_names():
        raise SeqcastError(
            f"{path}: unknown model {name!r}; choose from {', '.join(model_names())} "
            f"(the key {NAME_KEY!r} names the model that saved it)"
        )
    return model_class(name)._load(config, directory)
