"""Train / val / test split: contiguous ordered blocks, gap rows, validation of the input."""

import itertools
import re

import numpy as np
import pandas as pd
import pytest

from seqcast.errors import SeqcastError
from seqcast.params import SplitParams
from seqcast.prep.splitting import SPLITS, date_ranges, split_labels, split_table


def _runs(labels) -> list[tuple[str, int]]:
    """Run-length encoding: [("train", 70), ("val", 15), ...]."""
    return [(name, len(list(group))) for name, group in itertools.groupby(labels)]


def _table(n: int, start: str = "2022-01-03") -> pd.DataFrame:
    dates = pd.bdate_range(start, periods=n, name="date")
    return pd.DataFrame({"close": np.arange(n, dtype="float64")}, index=dates)


@pytest.mark.parametrize(
    ("n_rows", "train", "val", "gap", "expected"),
    [
        (100, 0.7, 0.15, 0, [("train", 70), ("val", 15), ("test", 15)]),
        (100, 0.7, 0.15, 3, [("train", 70), ("gap", 3), ("val", 15), ("gap", 3), ("test", 9)]),
        # Counts are floor(n * fraction); test gets the rest.
        (10, 0.55, 0.25, 0, [("train", 5), ("val", 2), ("test", 3)]),
        (3, 0.34, 0.34, 0, [("train", 1), ("val", 1), ("test", 1)]),
        (9, 0.34, 0.34, 1, [("train", 3), ("gap", 1), ("val", 3), ("gap", 1), ("test", 1)]),
    ],
)
def test_labels_are_contiguous_ordered_blocks_with_documented_counts(
    n_rows, train, val, gap, expected
):
    labels = split_labels(n_rows, train, val, gap)
    assert len(labels) == n_rows  # every row is labelled
    assert _runs(labels) == expected
    assert set(labels) <= {*SPLITS, "gap"}


def test_blocks_do_not_overlap_and_follow_time_order():
    labels = split_labels(200, 0.6, 0.2, gap=4)
    positions = {name: np.flatnonzero(labels == name) for name in SPLITS}
    assert positions["train"].max() + 4 + 1 == positions["val"].min()
    assert positions["val"].max() + 4 + 1 == positions["test"].min()
    for name, rows in positions.items():
        # Contiguous block: consecutive positions.
        assert np.array_equal(rows, np.arange(rows[0], rows[-1] + 1)), name
    everything = np.concatenate([*positions.values(), np.flatnonzero(labels == "gap")])
    assert sorted(everything.tolist()) == list(range(200))


@pytest.mark.parametrize(
    ("n_rows", "train", "val", "gap"),
    [
        (5, 0.7, 0.15, 0),  # val gets int(0.75) = 0 rows
        (10, 0.6, 0.4, 0),  # test gets nothing
        (0, 0.7, 0.15, 0),
        (100, 0.7, 0.15, 8),  # 15 - 2 * 8 test rows
    ],
)
def test_too_small_table_raises(n_rows, train, val, gap):
    with pytest.raises(SeqcastError) as info:
        split_labels(n_rows, train, val, gap)
    message = str(info.value)
    assert f"{n_rows} rows cannot be split" in message
    assert f"split.gap = {gap}" in message


def test_gap_that_leaves_exactly_one_test_row_is_accepted():
    labels = split_labels(100, 0.7, 0.15, gap=7)
    assert _runs(labels)[-1] == ("test", 1)


def test_split_table_adds_labels_and_leaves_input_untouched():
    table = _table(20)
    original = table.copy()
    labelled = split_table(table, SplitParams(train=0.5, val=0.25, gap=1))
    pd.testing.assert_frame_equal(table, original)
    assert "split" not in table.columns
    pd.testing.assert_frame_equal(labelled.drop(columns="split"), original)
    assert _runs(labelled["split"]) == [
        ("train", 10),
        ("gap", 1),
        ("val", 5),
        ("gap", 1),
        ("test", 3),
    ]


def test_unsorted_dates_raise():
    table = _table(20)
    shuffled = table.iloc[[1, 0, *range(2, 20)]]
    with pytest.raises(SeqcastError, match="unique and increasing"):
        split_table(shuffled, SplitParams(train=0.6, val=0.2))


def test_descending_dates_raise():
    with pytest.raises(SeqcastError, match="unique and increasing"):
        split_table(_table(20).iloc[::-1], SplitParams(train=0.6, val=0.2))


def test_duplicated_dates_raise():
    table = _table(20)
    duplicated = pd.concat([table.iloc[:10], table.iloc[9:]])  # row 9 twice, still sorted
    assert duplicated.index.is_monotonic_increasing
    with pytest.raises(SeqcastError, match="unique and increasing"):
        split_table(duplicated, SplitParams(train=0.6, val=0.2))


def test_date_ranges_match_the_labels():
    labelled = split_table(_table(20, start="2022-01-03"), SplitParams(train=0.5, val=0.25, gap=1))
    # Business days from Mon 2022-01-03: rows 0..9 train, 10 gap, 11..15 val, 16 gap, 17..19 test.
    assert date_ranges(labelled) == {
        "train": {"rows": 10, "start": "2022-01-03", "end": "2022-01-14"},
        "val": {"rows": 5, "start": "2022-01-18", "end": "2022-01-24"},
        "test": {"rows": 3, "start": "2022-01-26", "end": "2022-01-28"},
    }


def test_date_ranges_on_the_fixture(prices):
    labelled = split_table(prices.set_index("date"), SplitParams(train=0.7, val=0.15))
    ranges = date_ranges(labelled)
    assert list(ranges) == list(SPLITS)
    assert [ranges[name]["rows"] for name in SPLITS] == [140, 30, 30]
    dates = prices["date"].dt.strftime("%Y-%m-%d")
    assert ranges["train"]["start"] == dates.iloc[0]
    assert ranges["train"]["end"] == dates.iloc[139]
    assert ranges["val"]["start"] == dates.iloc[140]
    assert ranges["val"]["end"] == dates.iloc[169]
    assert ranges["test"]["start"] == dates.iloc[170]
    assert ranges["test"]["end"] == dates.iloc[199]


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        # The last N rows are the test block; train and val share the rest 70 : 15.
        ({"test_rows": 30}, [("train", 140), ("val", 30), ("test", 30)]),
        (
            {"test_rows": 30, "gap": 2},
            [("train", 137), ("gap", 2), ("val", 29), ("gap", 2), ("test", 30)],
        ),
        # No validation block: one gap between train and test.
        ({"train": 0.8, "val": 0.0}, [("train", 160), ("test", 40)]),
        ({"train": 0.8, "val": 0.0, "gap": 3}, [("train", 160), ("gap", 3), ("test", 37)]),
        ({"val": 0.0, "test_rows": 50}, [("train", 150), ("test", 50)]),
        # From a date: 2022-01-03 plus 150 business days is 2022-08-01.
        ({"test_start": "2022-08-01"}, [("train", 124), ("val", 26), ("test", 50)]),
        ({"test_start": "2022-07-30"}, [("train", 124), ("val", 26), ("test", 50)]),  # a Saturday
    ],
)
def test_test_block_as_last_rows_or_from_a_date_and_validation_optional(split, expected):
    labelled = split_table(_table(200), SplitParams(**split))
    assert _runs(labelled["split"]) == expected
    if "test_start" in split:
        assert labelled.index[labelled["split"] == "test"][0] == pd.Timestamp("2022-08-01")


def test_no_validation_block_has_empty_ranges():
    ranges = date_ranges(split_table(_table(20), SplitParams(train=0.8, val=0.0)))
    assert ranges["val"] == {"rows": 0, "start": None, "end": None}
    assert ranges["test"]["rows"] == 4


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ({"test_rows": 200}, "200 rows cannot be split into train (0), val (0) and test (200)"),
        ({"test_rows": 195}, "use a longer series or a smaller test block"),
        ({"test_start": "2030-01-01"}, "split.test_start = 2030-01-01: no date on or after it"),
        ({"test_start": "2020-01-01"}, "use a longer series or a smaller test block"),
    ],
)
def test_test_block_that_leaves_no_training_is_one_clear_error(split, message):
    with pytest.raises(SeqcastError, match=re.escape(message)):
        split_table(_table(200), SplitParams(**split))


def test_test_rows_and_test_start_are_exclusive():
    with pytest.raises(ValueError, match="set one of them"):
        SplitParams(test_rows=10, test_start="2022-08-01")
    SplitParams(train=0.9, val=0.5, test_rows=10)  # fractions then only share the rest
