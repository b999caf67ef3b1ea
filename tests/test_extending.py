"""A new model or source is one file plus its params block: each is written here into a
copy of the package, then parsed, built, fit, saved, loaded (or loaded from) in a fresh
interpreter, with no other file of the package edited."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import seqcast

TOY_MODEL = '''
"""A toy model: the window's last target value times `scale`, plus a learned bias."""

import json
from pathlib import Path

import numpy as np

from seqcast.config import Section
from seqcast.models.base import Forecaster, History
from seqcast.models.catalog import register


class ToyConfig(Section):
    scale: float = 1.0


@register
class ToyForecaster(Forecaster):
    name = "toy"
    Config = ToyConfig

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.bias_: float | None = None

    @classmethod
    def build(cls, config, train):
        return cls(config.scale)

    def _last(self, x):
        return self.scale * x[:, -1, 0]

    def fit(self, train, val):
        self.bias_ = float(np.mean(train.y - self._last(train.x)))
        loss = [float(np.mean((w.y - self.predict(w.x)) ** 2)) for w in (train, val)]
        return History([loss[0]], [loss[1]])

    def predict(self, x):
        return self._last(x) + self.bias_

    def config(self):
        return {"scale": self.scale}

    def _save_state(self, directory: Path) -> None:
        (directory / "bias.json").write_text(json.dumps(self.bias_))

    @classmethod
    def _load(cls, config, directory: Path):
        model = cls(config["scale"])
        model.bias_ = json.loads((directory / "bias.json").read_text())
        return model
'''

TOY_SOURCE = '''
"""A toy source: a straight line of `rows` days."""

import numpy as np
import pandas as pd

from seqcast.config import PositiveInt, Section
from seqcast.data.sources.raw import RawData
from seqcast.data.sources.source import Source


class ToySourceConfig(Section):
    rows: PositiveInt = 50


def load(config, ticker, others):
    prices = pd.DataFrame(
        {
            "date": pd.date_range("2020-01-01", periods=config.rows, freq="D"),
            "ticker": ticker,
            "value": np.arange(config.rows, dtype=float),
        }
    )
    return RawData(prices=prices, info={"rows": config.rows})


SOURCE = Source(name="toy", Config=ToySourceConfig, load=load, columns=lambda _: ("value",))
'''

SCRIPT = """
import json
import sys

import numpy as np

from seqcast.data import sources
from seqcast.errors import SeqcastError
from seqcast.models import build_model, load_model, model_names
from seqcast.params import parse_params
from seqcast.prep.windows import Windows

params = parse_params({
    "data": {"source": "toy", "ticker": "line", "target": "value", "toy": {"rows": 40}},
    "models": {"enabled": ["naive", "toy"], "toy": {"scale": 0.5}},
})
rng = np.random.default_rng(0)
def windows(n):
    x = rng.normal(size=(n, 4, 2))
    dates = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Windows(x, 0.5 * x[:, -1, 0] + 3.0, dates, dates, np.array(["a", "b"]), 0)
train, val, test = windows(30), windows(10), windows(5)
model = build_model("toy", params.model_params("toy"), params.train_for("toy"))
model.fit(train, val)
model.save(sys.argv[1])
loaded = load_model(sys.argv[1])
data = params.data
raw = sources.load_raw(data.source, data.source_config, data.ticker, data.other_tickers)
try:
    parse_params({"models": {"toy": {"scale": "big"}}})
    bad_model = None
except SeqcastError as exc:
    bad_model = str(exc)
try:
    parse_params({"data": {"source": "toy", "toy": {"rows": 0}}})
    bad_source = None
except SeqcastError as exc:
    bad_source = str(exc)
print(json.dumps({
    "models": list(model_names()),
    "enabled": params.models.enabled,
    "bias": loaded.bias_,
    "same": bool(np.array_equal(model.predict(test.x), loaded.predict(test.x))),
    "raw": [len(raw.prices), list(raw.prices.columns), sources.source_info("toy", raw)["rows"]],
    "bad_model": bad_model,
    "bad_source": bad_source,
}))
"""


@pytest.fixture(scope="module")
def extended(tmp_path_factory) -> dict:
    """The package copied, with one new file for the model and one for the source."""
    root = tmp_path_factory.mktemp("extended")
    package = root / "seqcast"
    shutil.copytree(
        Path(seqcast.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    (package / "models" / "toy.py").write_text(TOY_MODEL)
    (package / "data" / "sources" / "toy_source.py").write_text(TOY_SOURCE)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(root / "saved")],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1]) | {"root": root}


def test_a_new_model_file_registers_after_the_built_ins(extended):
    assert extended["models"][-1] == "toy"
    assert extended["models"][:2] == ["naive", "linear"]
    assert extended["enabled"] == ["naive", "toy"]


def test_the_new_model_fits_saves_and_loads_to_the_same_prediction(extended):
    assert extended["bias"] == pytest.approx(3.0, abs=0.5)
    assert extended["same"]
    config = json.loads((extended["root"] / "saved" / "config.json").read_text())
    assert config == {"model": "toy", "scale": 0.5}


def test_the_new_models_params_block_is_validated(extended):
    assert "models.toy.scale = 'big': Input should be a valid number" in extended["bad_model"]


def test_a_new_source_file_loads_through_the_registry(extended):
    assert extended["raw"] == [40, ["date", "ticker", "value"], 40]
    assert "data.toy.rows = 0: Input should be greater than 0" in extended["bad_source"]
