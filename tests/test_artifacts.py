"""seqcast.artifacts owns the hand-off file names: what one stage writes the next reads
back, and no stage or other module spells those names."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
from inmemory import Pipeline, sine

from seqcast import artifacts
from seqcast.models.baselines import LinearForecaster

ROOT = Path(__file__).resolve().parents[1]
NAMES = [
    artifacts.PREPROCESSING,
    artifacts.HISTORY,
    artifacts.METRICS,
    artifacts.PER_STEP,
    artifacts.PREDICTIONS,
    artifacts.SEEDS,
    artifacts.FOLD,
    artifacts.SCALER,
]


def test_windows_and_bundle_round_trip(tmp_path):
    pipe = Pipeline(sine(120), transform="difference")
    windows = {"train": pipe.train, "val": pipe.val, "test": pipe.test}
    artifacts.write_windows(tmp_path, windows, pipe.prep)
    for split, w in windows.items():
        assert artifacts.read_windows(tmp_path, split).x.tobytes() == w.x.tobytes()
    assert artifacts.read_preprocessing(tmp_path).to_dict() == pipe.prep.to_dict()


def test_model_dir_holds_the_first_seed_and_the_others_by_seed(tmp_path):
    pipe = Pipeline(sine(120))
    fitted = {}
    for seed in (7, 8, 9):
        model = LinearForecaster(alpha=0.1 * seed)
        fitted[seed] = (model, model.fit(pipe.train, pipe.val))
    artifacts.write_model_dir(tmp_path, fitted, first_seed=7)
    assert artifacts.read_history(tmp_path) == fitted[7][1].to_dict()
    assert list(artifacts.seed_dirs(tmp_path)) == ["8", "9"]


def test_scores_round_trip_rounded(tmp_path):
    dates = pd.bdate_range("2024-01-01", periods=2, name="date")
    predictions = pd.DataFrame(
        {"origin_date": dates - pd.offsets.BDay(1), "step": [1, 1], "actual": [1.0, 2.0],
         "predicted": [1.1234567891, 2.0], "naive": [0.5, 1.0]},
        index=dates,
    )  # fmt: skip
    by_step = {1: {"rmse": 1 / 3}, 2: {"rmse": 2 / 3}}
    artifacts.write_evaluation(tmp_path, predictions, by_step, {"42": {"rmse": 1 / 3}})
    assert artifacts.read_metrics(tmp_path) == {"rmse": 0.333333}
    assert artifacts.read_per_step(tmp_path) == {"1": {"rmse": 0.333333}, "2": {"rmse": 0.666667}}
    assert artifacts.read_seed_metrics(tmp_path) == {"42": {"rmse": 0.333333}}
    back = artifacts.read_predictions(tmp_path)
    np.testing.assert_array_equal(back["predicted"], [1.123457, 2.0])
    assert back.index.equals(dates)


def test_no_stage_or_other_module_spells_a_hand_off_file_name():
    pattern = re.compile("|".join(re.escape(f'"{name}"') for name in NAMES))
    sources = [*(ROOT / "stages").glob("*.py"), *(ROOT / "src/seqcast").glob("*.py")]
    spelled = {
        str(path.relative_to(ROOT))
        for path in sources
        if path.name != "artifacts.py" and pattern.search(path.read_text())
    }
    assert not spelled, f"hand-off file names outside seqcast.artifacts: {sorted(spelled)}"
