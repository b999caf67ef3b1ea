"""Faults a user can cause end in one SeqcastError that names the file and says what to
do, never in a traceback: a truncated or corrupt saved model or window file, and an MLflow
store that is not a usable database or that another program keeps locked.
"""

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from building import build

from seqcast.errors import SeqcastError
from seqcast.models import load_model
from seqcast.ops import tracking
from seqcast.params import parse_params
from seqcast.prep.windows import Windows

ROOT = Path(__file__).resolve().parents[1]
REWINDOW = "rerun the window stage (`dvc repro -f window`)"


def _windows(seed: int, n: int) -> Windows:
    rng = np.random.default_rng(seed)
    dates = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Windows(
        x=rng.normal(size=(n, 4, 2)),
        y=rng.normal(size=n),
        target_dates=dates + np.timedelta64(1, "D"),
        origin_dates=dates,
        feature_names=np.array(["f0", "f1"]),
        target_index=0,
    )


def _saved(name: str, directory: Path) -> Path:
    params = parse_params(
        {"train": {"max_epochs": 1, "batch_size": 8}, "models": {name: {"hidden_size": 3}}}
    )
    model = build(name, params)
    model.fit(_windows(0, 16), _windows(1, 8))
    model.save(directory)
    return directory


def _truncate(path: Path) -> None:
    """What a full disk or a killed copy leaves: the first half of the file."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _load_error(directory: Path) -> str:
    with pytest.raises(SeqcastError) as info:
        load_model(directory)
    return str(info.value)


# Saved models.


def test_truncated_torch_weights(tmp_path):
    weights = _saved("lstm", tmp_path / "models" / "lstm") / "weights.pt"
    _truncate(weights)
    message = _load_error(weights.parent)
    # The reason is torch's own first sentence; the rest of its message is advice for
    # other situations and is left out.
    assert message.startswith(f"{weights}: cannot be read (PytorchStreamReader failed ")
    assert message.endswith("); it is truncated or corrupt: retrain with `dvc repro -f train@lstm`")
    assert "\n" not in message


def test_truncated_numpy_weights(tmp_path):
    weights = _saved("numpy_gru", tmp_path / "models" / "numpy_gru") / "weights.npz"
    _truncate(weights)
    assert _load_error(weights.parent) == (
        f"{weights}: cannot be read (File is not a zip file); it is truncated or corrupt: "
        "retrain with `dvc repro -f train@numpy_gru`"
    )


def test_emptied_weights(tmp_path):
    weights = _saved("gru", tmp_path / "models" / "gru") / "weights.pt"
    weights.write_bytes(b"")
    assert _load_error(weights.parent) == (
        f"{weights}: cannot be read (unexpected end of file); it is truncated or corrupt: "
        "retrain with `dvc repro -f train@gru`"
    )


def test_unreadable_config(tmp_path):
    directory = _saved("numpy_gru", tmp_path / "models" / "numpy_gru")
    config = directory / "config.json"
    _truncate(config)
    message = _load_error(directory)
    assert message.startswith(f"{config}: cannot be read (")  # json's words, e.g. Expecting
    assert message.endswith(
        "); it is truncated or corrupt: retrain with `dvc repro -f train@numpy_gru`"
    )

    config.write_text("[]\n")
    assert _load_error(directory) == (
        f"{config}: cannot be read (not a JSON object); it is truncated or corrupt: retrain "
        "with `dvc repro -f train@numpy_gru`"
    )


def test_missing_config_outside_the_pipeline_names_no_stage(tmp_path):
    # A directory that is not data/models/<name>: the model's name is not known.
    assert _load_error(tmp_path / "somewhere") == (
        f"{tmp_path / 'somewhere' / 'config.json'}: not found; rerun the train stage of this model"
    )


# Window files.


def _window_error(path: Path) -> str:
    with pytest.raises(SeqcastError) as info:
        Windows.load(path)
    return str(info.value)


def test_truncated_window_file(tmp_path):
    path = tmp_path / "train.npz"
    _windows(0, 8).save(path)
    _truncate(path)
    assert _window_error(path) == (
        f"{path}: cannot be read (File is not a zip file); it is truncated or corrupt: {REWINDOW}"
    )


def test_window_file_with_an_object_array_is_refused(tmp_path):
    path = tmp_path / "train.npz"
    np.savez(path, x=np.array([{"payload": 1}], dtype=object), y=np.zeros(1))
    assert _window_error(path) == (
        f"{path}: refused to load, holds pickled objects rather than plain arrays: {REWINDOW}"
    )


def test_window_file_missing_an_array(tmp_path):
    path = tmp_path / "train.npz"
    np.savez(path, y=np.zeros(3))
    assert _window_error(path) == (
        f"{path}: cannot be read (x is not a file in the archive); it is truncated or "
        f"corrupt: {REWINDOW}"
    )


def test_the_train_stage_reports_a_truncated_window_file_in_one_line(tmp_path):
    (tmp_path / "params.yaml").write_text("{}\n")
    (tmp_path / "windows").mkdir()
    for split in ("train", "val"):
        _windows(0, 8).save(tmp_path / "windows" / f"{split}.npz")
    _truncate(tmp_path / "windows" / "train.npz")
    result = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "train.py"), "lstm", "windows", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stderr) == (
        2,
        "seqcast train: error: windows/train.npz: cannot be read (File is not a zip file); "
        f"it is truncated or corrupt: {REWINDOW}\n",
    )
    assert not (tmp_path / "out").exists()


# The MLflow store.


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    """The path of a local SQLite store in tmp_path, the one tracking uses."""
    database = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    return database


def _experiments(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return sorted(row[0] for row in connection.execute("SELECT name FROM experiments"))


def _other_program(database: Path) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE x (a)")


def _truncated_store(database: Path) -> None:
    tracking.use_experiment("setup", database.parent)
    _truncate(database)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda db: db.write_bytes(np.random.default_rng(0).bytes(4096)), "file is not a database"),
        (_other_program, "its tables x are not MLflow's"),
        (_truncated_store, "database disk image is malformed"),
    ],
    ids=["random-bytes", "another-program's-database", "truncated"],
)
def test_a_corrupt_store_is_left_as_it_is(store, make, reason):
    make(store)
    before = store.read_bytes()
    with pytest.raises(SeqcastError) as info:
        tracking.use_experiment("seqcast", store.parent)
    assert str(info.value) == (
        f"MLflow store {store}: not a usable MLflow database ({reason}); move it aside (e.g. "
        f"`mv {store} {store}.broken`) and rerun: a new store is created, or set "
        "MLFLOW_TRACKING_URI"
    )
    # MLflow would have added its tables to another program's database.
    assert store.read_bytes() == before
    assert not (store.parent / tracking.DEFAULT_ARTIFACTS).exists()


HOLD = textwrap.dedent(
    """
    import sqlite3, sys, time
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute(f"BEGIN {sys.argv[2]}")
    print("holding", flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def hold_lock():
    """Another program (a sqlite3 shell, a DB browser) holding a lock on a database."""
    holders = []

    def hold(database: Path, mode: str) -> subprocess.Popen:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(database), mode], stdout=subprocess.PIPE, text=True
        )
        holders.append(holder)
        assert holder.stdout.readline() == "holding\n"
        return holder

    yield hold
    for holder in holders:
        holder.kill()
        holder.wait()


# EXCLUSIVE: no one may read, as while a shell commits; IMMEDIATE: no one else may write,
# as a DB browser with unsaved edits. An empty file is handed to MLflow to create the
# store in, so its lock is found by MLflow itself.
@pytest.mark.parametrize(
    ("existing", "mode"),
    [(True, "EXCLUSIVE"), (True, "IMMEDIATE"), (False, "EXCLUSIVE")],
    ids=["store-exclusive", "store-immediate", "new-store-exclusive"],
)
@pytest.mark.slow  # waits out the store's lock timeout
def test_a_locked_store_fails_once_and_clearly(store, hold_lock, existing, mode):
    if existing:
        tracking.use_experiment("setup", store.parent)
    else:
        store.write_bytes(b"")
    holder = hold_lock(store, mode)
    start = time.monotonic()
    with pytest.raises(SeqcastError) as info:
        tracking.use_experiment("seqcast", store.parent)
    assert time.monotonic() - start < 15  # one wait of SQLite's timeout, not MLflow's retries
    assert str(info.value) == (
        f"MLflow store {store} is locked by another program (database is locked); close it "
        "(a sqlite3 shell, a DB browser, another `mlflow` process) and rerun"
    )
    holder.kill()
    holder.wait()
    if existing:
        assert _experiments(store) == ["Default", "setup"]
    else:
        assert store.stat().st_size == 0


STAGE = textwrap.dedent(
    """
    from pathlib import Path
    from seqcast import stage
    from seqcast.ops import tracking

    stage.run(lambda: tracking.use_experiment("seqcast", Path.cwd()), "evaluate")
    """
)


def test_a_stage_reports_a_corrupt_store_in_one_line(store):
    (store.parent / "params.yaml").write_text("{}\n")
    store.write_bytes(b"not a database\n" * 100)
    result = subprocess.run(
        [sys.executable, "-c", STAGE], cwd=store.parent, capture_output=True, text=True
    )
    assert (result.returncode, result.stderr) == (
        2,
        f"seqcast evaluate: error: MLflow store {store}: not a usable MLflow database (file "
        f"is not a database); move it aside (e.g. `mv {store} {store}.broken`) and rerun: a "
        "new store is created, or set MLFLOW_TRACKING_URI\n",
    )
