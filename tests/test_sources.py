"""Loading the sample snapshot, and atomic writes that never leave partial outputs behind."""

from pathlib import Path

import pandas as pd
import pytest

from seqcast import atomic
from seqcast.data.sources import PRICE_COLUMNS, load_sample
from seqcast.errors import SeqcastError

CSV = """\
volume,date,ticker,open,high,low,close,extra
300,2024-01-04,BBB,3.0,3.5,2.5,3.25,x
100,2024-01-04,AAA,1.0,1.5,0.5,1.25,x
200,2024-01-02,BBB,2.0,2.5,1.5,2.25,x
400,2024-01-03,BBB,4.0,4.5,3.5,4.25,x
500,2024-01-02,AAA,5.0,5.5,4.5,5.25,x
600,2024-01-05,CCC,6.0,6.5,5.5,6.25,x
"""


@pytest.fixture
def sample(tmp_path) -> Path:
    path = tmp_path / "stocks.csv"
    path.write_text(CSV)
    return path


def test_load_sample_returns_tidy_columns_of_one_ticker_sorted_by_date(sample):
    prices = load_sample(sample, "BBB")
    assert list(prices.columns) == PRICE_COLUMNS
    assert prices["date"].tolist() == list(
        pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"])
    )
    assert pd.api.types.is_datetime64_any_dtype(prices["date"])
    assert prices["close"].tolist() == [2.25, 4.25, 3.25]
    assert prices["volume"].tolist() == [200, 400, 300]
    assert (prices["ticker"] == "BBB").all()
    assert prices.index.tolist() == [0, 1, 2]


def test_unknown_ticker_lists_the_available_ones(sample):
    with pytest.raises(SeqcastError) as info:
        load_sample(sample, "ZZZ")
    message = str(info.value)
    assert "data.ticker = 'ZZZ'" in message
    assert "AAA, BBB, CCC" in message


def test_missing_file_raises(tmp_path):
    path = tmp_path / "absent.csv"
    with pytest.raises(SeqcastError) as info:
        load_sample(path, "AAA")
    assert "data.sample.path" in str(info.value)
    assert str(path) in str(info.value)
    assert "not found" in str(info.value)


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "stocks.csv"
    path.write_text("date,ticker,close\n2024-01-02,AAA,1.0\n")
    with pytest.raises(SeqcastError) as info:
        load_sample(path, "AAA")
    assert "['high', 'low', 'open', 'volume']" in str(info.value)


def test_committed_sample_snapshot_loads():
    path = Path(__file__).resolve().parents[1] / "data" / "sample" / "stocks.csv"
    prices = load_sample(path, "AAPL")
    assert list(prices.columns) == PRICE_COLUMNS
    assert prices["date"].is_monotonic_increasing
    assert not prices["date"].duplicated().any()


# --- atomic writes -------------------------------------------------------------------------


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_write_text_replaces_target_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    atomic.write_text(target, "new contents")
    assert target.read_text() == "new contents"
    assert _names(tmp_path) == ["out.txt"]


def test_write_text_creates_missing_parent_directories(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    atomic.write_text(target, "hello")
    assert target.read_text() == "hello"
    assert _names(target.parent) == ["out.txt"]


@pytest.mark.parametrize("existed", [True, False])
def test_write_text_failure_leaves_no_file_behind(tmp_path, monkeypatch, existed):
    target = tmp_path / "out.txt"
    if existed:
        target.write_text("old")

    def half_written(self, text, *args, **kwargs):
        with open(self, "w") as handle:
            handle.write(text[:3])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", half_written)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_text(target, "new contents")
    monkeypatch.undo()

    if existed:
        assert target.read_text() == "old"
        assert _names(tmp_path) == ["out.txt"]
    else:
        assert _names(tmp_path) == []


def test_write_with_failure_leaves_no_file_behind(tmp_path):
    target = tmp_path / "table.parquet"

    def writer(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise ValueError("writer failed")

    with pytest.raises(ValueError, match="writer failed"):
        atomic.write_with(target, writer)
    assert _names(tmp_path) == []


def test_write_json(tmp_path):
    target = tmp_path / "m.json"
    atomic.write_json(target, {"b": 1, "a": [1.5, None]})
    assert target.read_text() == '{\n  "b": 1,\n  "a": [\n    1.5,\n    null\n  ]\n}\n'


def test_atomic_dir_replaces_target_on_success(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    with atomic.atomic_dir(target) as tmp:
        assert tmp.is_dir() and _names(tmp) == []
        assert tmp.parent == tmp_path
        (tmp / "fresh.txt").write_text("new")
        # Until the block ends, the old directory is untouched.
        assert _names(target) == ["stale.txt"]
    assert _names(target) == ["fresh.txt"]
    assert (target / "fresh.txt").read_text() == "new"
    assert _names(tmp_path) == ["out"]


@pytest.mark.parametrize("existed", [True, False])
def test_atomic_dir_failure_leaves_no_dir_behind(tmp_path, existed):
    target = tmp_path / "out"
    if existed:
        target.mkdir()
        (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="stage failed"), atomic.atomic_dir(target) as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("stage failed")
    if existed:
        assert _names(tmp_path) == ["out"]
        assert _names(target) == ["old.txt"]
        assert (target / "old.txt").read_text() == "old"
    else:
        assert _names(tmp_path) == []
