"""Sliding windows: inputs, origins and targets line up by date; no split reads a later one."""

import numpy as np
import pandas as pd
import pytest

from seqcast.errors import SeqcastError
from seqcast.prep.splitting import SPLITS, split_labels
from seqcast.prep.windows import Windows, make_windows, sliding_rows, sliding_windows

N_ROWS = 40
LENGTH = 4


def _table(n_rows=N_ROWS, train=0.5, val=0.25, gap=0, target_first=True) -> pd.DataFrame:
    """Date-indexed table whose values encode the row number: close = row, aux = 1000 + row."""
    rows = np.arange(n_rows, dtype="float64")
    dates = pd.bdate_range("2023-01-02", periods=n_rows, name="date")
    columns = {"close": rows, "aux": 1000 + rows}
    if not target_first:
        columns = {"aux": 1000 + rows, "close": rows}
    table = pd.DataFrame(columns, index=dates)
    table["split"] = split_labels(n_rows, train, val, gap)
    return table


def _row(table: pd.DataFrame, dates) -> np.ndarray:
    """Row positions of `dates` in the table."""
    return table.index.get_indexer(pd.DatetimeIndex(dates))


CASES = [
    pytest.param(1, 0, id="horizon1"),
    pytest.param(3, 0, id="horizon3"),
    pytest.param(1, 2, id="horizon1-gap2"),
    pytest.param(3, 2, id="horizon3-gap2"),
]


@pytest.mark.parametrize(("horizon", "gap"), CASES)
@pytest.mark.parametrize("target_first", [True, False], ids=["target-first", "target-second"])
def test_windows_aligned_with_target_dates(horizon, gap, target_first):
    table = _table(gap=gap, target_first=target_first)
    windows = make_windows(table, "close", LENGTH, horizon)
    assert list(windows) == list(SPLITS)
    target_index = list(table.columns).index("close")
    aux_index = list(table.columns).index("aux")

    for split, w in windows.items():
        n = len(w)
        assert w.x.shape == (n, LENGTH, 2)
        assert w.y.shape == w.target_dates.shape == w.origin_dates.shape == (n,)
        assert w.target_index == target_index
        assert w.feature_names.tolist() == [c for c in table.columns if c != "split"]
        assert w.target_dates.dtype == np.dtype("datetime64[ns]")
        assert w.origin_dates.dtype == np.dtype("datetime64[ns]")

        target_rows = _row(table, w.target_dates)
        origin_rows = _row(table, w.origin_dates)
        assert (target_rows >= 0).all() and (origin_rows >= 0).all()
        # y is the target column at the target date.
        np.testing.assert_array_equal(w.y, table["close"].to_numpy()[target_rows])
        # Target is exactly `horizon` rows after the origin.
        np.testing.assert_array_equal(target_rows - origin_rows, horizon)
        # Inputs are the `length` rows ending at the origin, every feature.
        expected_rows = origin_rows[:, None] + np.arange(-LENGTH + 1, 1)[None, :]
        np.testing.assert_array_equal(w.x[:, :, target_index], expected_rows)
        np.testing.assert_array_equal(w.x[:, :, aux_index], 1000 + expected_rows)
        # The last input row is the origin date.
        np.testing.assert_array_equal(w.x[:, -1, target_index], origin_rows)
        # Every window's target lies in its own split, in date order.
        assert (table["split"].to_numpy()[target_rows] == split).all()
        assert (np.diff(target_rows) == 1).all()


@pytest.mark.parametrize(("horizon", "gap"), CASES)
def test_window_counts_and_history_reads(horizon, gap):
    table = _table(gap=gap)
    labels = table["split"].to_numpy()
    windows = make_windows(table, "close", LENGTH, horizon)
    n_train = int((labels == "train").sum())

    # Every train row with a full window behind it is a target; every val / test row is one.
    assert len(windows["train"]) == n_train - LENGTH - horizon + 1
    assert len(windows["val"]) == int((labels == "val").sum())
    assert len(windows["test"]) == int((labels == "test").sum())

    input_labels = {split: labels[w.x[:, :, 0].astype(int)] for split, w in windows.items()}
    # Train windows read train rows only.
    assert (input_labels["train"] == "train").all()
    # Val windows read train / gap / val history, never test.
    assert "test" not in set(input_labels["val"].ravel())
    assert "train" in set(input_labels["val"].ravel())  # history from an earlier split
    # Test windows may read val (and earlier) rows.
    assert "val" in set(input_labels["test"].ravel())
    # Gap rows are never targets.
    all_targets = np.concatenate([_row(table, w.target_dates) for w in windows.values()])
    assert "gap" not in set(labels[all_targets])
    assert len(set(all_targets.tolist())) == len(all_targets)


@pytest.mark.parametrize("horizon", [1, 3])
def test_no_look_ahead_changing_later_rows_leaves_earlier_windows_bit_identical(horizon):
    table = _table()
    before = make_windows(table, "close", LENGTH, horizon)
    last_train_target = pd.Timestamp(before["train"].target_dates[-1])

    changed = table.copy()
    later = changed.index > last_train_target
    changed.loc[later, ["close", "aux"]] = -changed.loc[later, ["close", "aux"]] * 1e6 - 7.5
    after = make_windows(changed, "close", LENGTH, horizon)
    _assert_identical(before["train"], after["train"])
    assert not np.array_equal(before["val"].x, after["val"].x)

    # Likewise the val windows do not see the test rows.
    last_val_target = pd.Timestamp(before["val"].target_dates[-1])
    changed = table.copy()
    later = changed.index > last_val_target
    changed.loc[later, ["close", "aux"]] = np.nan
    after = make_windows(changed, "close", LENGTH, horizon)
    _assert_identical(before["train"], after["train"])
    _assert_identical(before["val"], after["val"])


def _assert_identical(a: Windows, b: Windows) -> None:
    assert a.x.tobytes() == b.x.tobytes()
    assert a.y.tobytes() == b.y.tobytes()
    np.testing.assert_array_equal(a.target_dates, b.target_dates)
    np.testing.assert_array_equal(a.origin_dates, b.origin_dates)
    np.testing.assert_array_equal(a.feature_names, b.feature_names)
    assert a.target_index == b.target_index
    assert a.target_transform == b.target_transform


def test_save_load_round_trip_without_pickle(tmp_path):
    windows = make_windows(_table(gap=1), "close", LENGTH, 2)
    for split, w in windows.items():
        path = tmp_path / f"{split}.npz"
        w.save(path)
        with np.load(path, allow_pickle=False) as data:
            assert set(data.files) == {
                "rows",  # the rows the windows slide over, not each window
                "length",
                "y",
                "target_dates",
                "origin_dates",
                "feature_names",
                "target_index",
                "target_transform",
            }
            assert all(data[key].dtype != object for key in data.files)
        loaded = Windows.load(path)
        _assert_identical(loaded, w)
        assert loaded.x.dtype == w.x.dtype == np.float64
        assert loaded.target_dates.dtype == np.dtype("datetime64[ns]")
        assert loaded.origin_dates.dtype == np.dtype("datetime64[ns]")
        assert isinstance(loaded.target_index, int)
        assert len(loaded) == len(w)
    # The atomic write leaves no temporary file next to the outputs.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.npz", "train.npz", "val.npz"]


@pytest.mark.parametrize("horizon", [1, 3])
def test_window_longer_than_train_split_raises_naming_window_length(horizon):
    table = _table(n_rows=20, train=0.5, val=0.25)  # 10 train rows
    longest = 10 - horizon  # the message's "must be at most 10 - horizon"
    assert len(make_windows(table, "close", longest, horizon)["train"]) == 1
    with pytest.raises(SeqcastError) as info:
        make_windows(table, "close", longest + 1, horizon)
    message = str(info.value)
    assert f"window.length = {longest + 1}" in message
    assert "training split of 10 rows" in message
    assert f"must be at most {longest}" in message


def test_table_shorter_than_one_window_raises():
    table = _table(n_rows=6, train=0.5, val=0.25)
    with pytest.raises(SeqcastError, match=r"window.length = 5: too long for the training split"):
        make_windows(table, "close", 5, 2)


def test_windows_are_independent_copies_of_the_table():
    table = _table()
    windows = make_windows(table, "close", LENGTH, 1)
    x = windows["train"].x.copy()
    table.iloc[:, 0] = -1.0
    np.testing.assert_array_equal(windows["train"].x, x)
    assert not windows["train"].x.flags["WRITEABLE"]


def test_windows_are_views_of_the_rows_not_copies():
    table = _table(gap=1)
    windows = make_windows(table, "close", LENGTH, 2)
    for w in windows.values():
        rows = sliding_rows(w.x)
        assert rows is not None and rows.shape == (len(w) + LENGTH - 1, w.x.shape[2])
        np.testing.assert_array_equal(sliding_windows(rows, LENGTH), w.x)

    # The three splits are views of one copy of the table's values.
    def root(array):
        while array.base is not None:
            array = array.base
        return array

    assert root(windows["train"].x) is root(windows["val"].x) is root(windows["test"].x)
    assert sliding_rows(np.ascontiguousarray(windows["train"].x)) is None


def test_interleaved_split_labels_still_give_each_split_its_own_targets():
    table = _table()
    labels = table["split"].to_numpy().copy()
    train_rows = np.flatnonzero(labels == "train")
    labels[train_rows[10]] = "gap"  # a hole in the training block
    table["split"] = labels
    windows = make_windows(table, "close", LENGTH, 1)
    hole = table.index[train_rows[10]]
    assert hole not in set(pd.DatetimeIndex(windows["train"].target_dates))
    assert len(windows["train"]) == len(train_rows) - LENGTH - 1
    split_of = table["split"]
    for split, w in windows.items():
        assert (split_of.loc[pd.DatetimeIndex(w.target_dates)] == split).all()
