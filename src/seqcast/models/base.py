"""The model contract: what every forecaster declares and answers.

Every model, from the naive baseline to the LSTM, is used the same way:

    model = build_model("lstm", params.model_params("lstm"), params.train_for("lstm"))
    history = model.fit(train_windows, val_windows)
    y_scaled = model.predict(test_windows.x)
    model.save(directory); load_model(directory)

so a comparison is a loop over names (seqcast.models.catalog). Each class declares its
name in params.yaml, its config section and its capabilities, which code elsewhere checks
instead of model names. Saved state is JSON plus, for networks, a tensor file loaded with
weights_only=True: nothing is unpickled.
"""

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from seqcast.config import Section
from seqcast.models.train_config import TrainConfig
from seqcast.prep.windows import Windows

CONFIG_FILE = "config.json"
NAME_KEY = "model"  # the key of config.json that names the model class


@dataclass
class History:
    """Loss (mean squared error on scaled targets) per epoch; one entry for closed-form fits."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Forecaster(ABC):
    name: ClassVar[str]  # the model's name in params.yaml (models.enabled, models.<name>)
    Config: ClassVar[type[Section]]  # its block models.<name>
    # Whether fit accepts y of shape (n, steps) and predict then returns (n, steps): the
    # direct multi-step strategy (multistep.strategy = direct) needs it.
    multi_output: ClassVar[bool] = False
    # Trained epoch by epoch under train.* (its Config has a `train` block of overrides);
    # it has loss curves and early stopping.
    trained_by_epochs: ClassVar[bool] = False
    # Has `.net`, a torch nn.Module, and `net_inputs(x)`, what that module reads.
    torch_module: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def build(cls, config: Section, train: TrainConfig) -> "Forecaster":
        """The unfitted model for its params block and the train.* it trains with."""

    @abstractmethod
    def fit(self, train: Windows, val: Windows) -> History: ...

    @abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n_windows, length, n_features) scaled windows -> (n_windows,) scaled targets,
        or (n_windows, steps) for a model fit on multi-step targets."""

    def learned_parameters(self) -> dict[str, np.ndarray]:
        """Name -> array of everything `fit` learned, for the parameter table; none by default."""
        return {}

    def recurrent_layers(self) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """For a recurrent network: the shape of its recurrent layers and head (cell,
        input_size, hidden_size, num_layers, nonlinearity) and their weights in PyTorch's
        layout, as float64, so that seqcast.models.inspection can step through its gates
        with the NumPy network; None for any other model."""
        return None

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Everything needed, besides learned state, to rebuild the model."""

    @abstractmethod
    def _save_state(self, directory: Path) -> None: ...

    @classmethod
    @abstractmethod
    def _load(cls, config: dict[str, Any], directory: Path) -> "Forecaster":
        """The fitted model from its saved config (and state files in `directory`)."""

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {NAME_KEY: self.name, **self.config()}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        self._save_state(directory)
