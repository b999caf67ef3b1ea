"""CSV source: any file mapped by params, the Kaggle per-stock layout, and one exact error
(naming file lines and dates) or outcome for each kind of bad input."""

from pathlib import Path

import pandas as pd
import pytest
from building import load_data

from seqcast.data.sources.csv_source import CsvConfig, load_csv
from seqcast.errors import SeqcastError
from seqcast.params import parse_params

ROOT = Path(__file__).resolve().parents[1]

KAGGLE = """\
date,open,high,low,close,volume,Name
2013-02-08,67.7142,68.4014,66.8928,67.8542,158168416,AAPL
2013-02-11,68.0714,69.2771,67.6071,68.5614,129029425,AAPL
2013-02-12,68.5014,68.9114,66.8205,66.8428,151829363,AAPL
2013-02-13,66.7442,67.6628,66.1742,66.7156,118721995,AAPL
"""

# The combined Kaggle file holds every stock, one block per Name.
KAGGLE_ALL = (
    KAGGLE
    + """\
2013-02-08,27.35,27.71,27.31,27.55,33318306,MSFT
2013-02-11,27.65,27.92,27.5,27.86,32247549,MSFT
2013-02-12,27.88,28.0,27.75,27.88,35990829,MSFT
"""
)


@pytest.fixture(autouse=True)
def in_the_repository(tmp_path, monkeypatch):
    """Stages run at the repository root: here tmp_path, so that its files lie inside."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def kaggle(path: str, **overrides) -> CsvConfig:
    return CsvConfig(path=path, ticker_column="Name", **overrides)


def error(csv: CsvConfig, ticker: str = "AAPL", others=()) -> str:
    with pytest.raises(SeqcastError) as info:
        load_csv(csv, ticker, others)
    return str(info.value)


def test_kaggle_per_stock_file(tmp_path):
    raw = load_csv(kaggle(write(tmp_path, KAGGLE)), "AAPL")
    prices = raw.prices
    assert list(prices.columns) == ["date", "ticker", "open", "high", "low", "close", "volume"]
    assert prices["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2013-02-08",
        "2013-02-11",
        "2013-02-12",
        "2013-02-13",
    ]
    assert prices["ticker"].tolist() == ["AAPL"] * 4
    assert prices["close"].tolist() == [67.8542, 68.5614, 66.8428, 66.7156]
    assert prices["volume"].tolist() == [158168416, 129029425, 151829363, 118721995]
    assert prices["volume"].dtype == "int64"
    assert raw.notes == [] and raw.warnings == []
    assert raw.info == {"path": str(tmp_path / "prices.csv")}


def test_kaggle_combined_file_selects_the_tickers_asked_for(tmp_path):
    prices = load_csv(kaggle(write(tmp_path, KAGGLE_ALL)), "MSFT", ["AAPL"]).prices
    assert prices["ticker"].tolist() == ["MSFT"] * 3 + ["AAPL"] * 4
    assert prices["close"].tolist()[:3] == [27.55, 27.86, 27.88]


def test_any_layout_mapped_by_params(tmp_path):
    text = """\
Day;Adj Close;Volume
31/01/2024;10.5;100
01/02/2024;11.25;
"""
    path = write(tmp_path, text.replace(";", ","))
    csv = CsvConfig(
        path=path,
        date_column="Day",
        date_format="%d/%m/%Y",
        ticker_column=None,
        columns={"close": "Adj Close", "volume": "Volume"},
        missing="ffill",
    )
    raw = load_csv(csv, "MYSERIES")
    assert raw.prices.to_dict("list") == {
        "date": [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-01")],
        "ticker": ["MYSERIES", "MYSERIES"],
        "close": [10.5, 11.25],
        "volume": [100.0, 100.0],
    }
    assert raw.notes == [
        "forward-filled 1 missing values (data.csv.missing = ffill): volume of MYSERIES on "
        "2024-02-01 (line 3)"
    ]


def test_the_default_csv_params_read_the_sample_exactly_as_the_sample_source(monkeypatch):
    monkeypatch.chdir(ROOT)
    by_sample = load_data(parse_params({}).data)
    by_csv = load_data(parse_params({"data": {"source": "csv"}}).data)
    pd.testing.assert_frame_equal(by_csv.prices, by_sample.prices)
    # The sample's one long gap, the closing of the exchanges after 2001-09-11.
    assert by_csv.warnings == [
        "1 unusually large gaps in AAPL (over 5 x the median spacing of 1 day, "
        "data.csv.large_gap): 2001-09-10 to 2001-09-17 (7 days)"
    ]


def test_file_not_found(tmp_path):
    path = tmp_path / "absent.csv"
    assert error(kaggle(str(path))) == f"data.csv.path = '{path}': file not found"


def test_empty_file_and_header_only(tmp_path):
    path = write(tmp_path, "")
    assert error(kaggle(path)) == f"data.csv.path = '{path}': the file is empty"
    path = write(tmp_path, "date,open,high,low,close,volume,Name\n", "header.csv")
    assert error(kaggle(path)) == f"data.csv.path = '{path}': no rows below the header"


def test_missing_columns_are_named_with_the_parameter_that_asked(tmp_path):
    path = write(tmp_path, "Date,close,Name\n2024-01-02,1.0,AAPL\n")
    assert error(kaggle(path)) == (
        f"data.csv.path = '{path}': missing columns: data.csv.date_column = 'date'; "
        "data.csv.columns.open = 'open'; data.csv.columns.high = 'high'; "
        "data.csv.columns.low = 'low'; data.csv.columns.volume = 'volume'; "
        "the file has 'Date', 'close', 'Name'"
    )


def test_unknown_ticker_lists_the_available_ones(tmp_path):
    path = write(tmp_path, KAGGLE_ALL)
    assert error(kaggle(path), "IBM") == (
        f"data.ticker = 'IBM': not in column 'Name' of {path}; choose from AAPL, MSFT"
    )
    assert error(kaggle(path), "AAPL", ["IBM"]) == (
        f"data.tickers contains 'IBM': not in column 'Name' of {path}; choose from AAPL, MSFT"
    )


def test_unparseable_dates_name_their_lines(tmp_path):
    text = KAGGLE.replace("2013-02-11", "11/02/2013").replace("2013-02-13", "2013-02-30")
    path = write(tmp_path, text)
    assert error(kaggle(path)) == (
        f"data.csv.path = '{path}': 2 unparseable dates in column 'date': line 3 "
        "('11/02/2013'), line 5 ('2013-02-30'); expected ISO 8601 (2024-01-31), or set "
        "data.csv.date_format"
    )


def test_a_missing_date_is_an_unparseable_date(tmp_path):
    path = write(tmp_path, KAGGLE.replace("2013-02-12,", ","))
    assert "1 unparseable dates in column 'date': line 4 (''); " in error(kaggle(path))


def test_non_numeric_values_name_column_line_and_value(tmp_path):
    text = KAGGLE.replace("68.5614", "68,5614".replace(",", "x")).replace("118721995", "1.2e8M")
    path = write(tmp_path, text)
    assert error(kaggle(path)) == (
        f"data.csv.path = '{path}': non-numeric values in column 'close' "
        "(data.csv.columns.close): line 3 ('68x5614'); column 'volume' "
        "(data.csv.columns.volume): line 5 ('1.2e8M')"
    )


def test_infinite_values_are_not_numbers(tmp_path):
    path = write(tmp_path, KAGGLE.replace("66.8428", "inf"))
    assert "non-numeric values in column 'close' (data.csv.columns.close): line 4 ('inf')" in (
        error(kaggle(path))
    )


def test_duplicated_dates_name_dates_and_lines(tmp_path):
    path = write(tmp_path, KAGGLE.replace("2013-02-12", "2013-02-11"))
    assert error(kaggle(path)) == (
        f"data.csv.path = '{path}': duplicated dates in AAPL: 2013-02-11 (line 3), "
        "2013-02-11 (line 4); keep one row per date"
    )


def _shuffled() -> str:
    lines = KAGGLE.splitlines()
    return "\n".join([lines[0], lines[3], lines[1], lines[4], lines[2]]) + "\n"


def test_unsorted_dates_are_an_error_unless_sorting_is_asked_for(tmp_path):
    path = write(tmp_path, _shuffled())
    assert error(kaggle(path)) == (
        f"data.csv.path = '{path}': dates of AAPL out of order, each earlier than the row "
        "before: 2013-02-08 (line 3), 2013-02-11 (line 5); sort the file or set "
        "data.csv.sort: true"
    )
    raw = load_csv(kaggle(path, sort=True), "AAPL")
    assert raw.prices["date"].is_monotonic_increasing
    assert raw.prices["close"].tolist() == [67.8542, 68.5614, 66.8428, 66.7156]
    assert raw.notes == ["sorted the 4 rows of AAPL by date (data.csv.sort)"]


MISSING = KAGGLE.replace("68.5614", "").replace("129029425", "NA").replace("66.8428", "null")


def test_missing_values_are_an_error_by_default(tmp_path):
    path = write(tmp_path, MISSING)
    assert error(kaggle(path)) == (
        f"data.csv.path = '{path}': missing values: close of AAPL on 2013-02-11 (line 3), "
        "2013-02-12 (line 4); volume of AAPL on 2013-02-11 (line 3); fill them in the file, "
        "or set data.csv.missing: ffill (carry the last value forward) or drop (drop those rows)"
    )


def test_missing_values_forward_filled(tmp_path):
    raw = load_csv(kaggle(write(tmp_path, MISSING), missing="ffill"), "AAPL")
    assert raw.prices["close"].tolist() == [67.8542, 67.8542, 67.8542, 66.7156]
    assert raw.prices["volume"].tolist() == [158168416, 158168416, 151829363, 118721995]
    assert raw.notes == [
        "forward-filled 3 missing values (data.csv.missing = ffill): close of AAPL on "
        "2013-02-11 (line 3), 2013-02-12 (line 4); volume of AAPL on 2013-02-11 (line 3)"
    ]


def test_forward_fill_cannot_fill_a_first_row(tmp_path):
    path = write(tmp_path, KAGGLE.replace("67.8542", ""))
    assert error(kaggle(path, missing="ffill")) == (
        f"data.csv.path = '{path}': data.csv.missing = ffill cannot fill values missing before "
        "a ticker's first value: close of AAPL on 2013-02-08 (line 2)"
    )


def test_missing_values_dropped_with_the_rows_named(tmp_path):
    raw = load_csv(kaggle(write(tmp_path, MISSING), missing="drop"), "AAPL")
    assert raw.prices["date"].dt.strftime("%Y-%m-%d").tolist() == ["2013-02-08", "2013-02-13"]
    assert raw.notes == [
        "dropped 2 rows with missing values (data.csv.missing = drop): AAPL on 2013-02-11 "
        "(line 3), 2013-02-12 (line 4)"
    ]


def test_unusually_large_gaps_are_a_warning(tmp_path):
    days = pd.bdate_range("2024-01-01", periods=30).delete([10, 11, 12, 13, 14, 15, 16])
    rows = "".join(f"{d:%Y-%m-%d},1,2,0.5,1.5,10,X\n" for d in days)
    raw = load_csv(kaggle(write(tmp_path, "date,open,high,low,close,volume,Name\n" + rows)), "X")
    assert len(raw.prices) == 23
    assert raw.warnings == [
        "1 unusually large gaps in X (over 5 x the median spacing of 1 day, "
        "data.csv.large_gap): 2024-01-12 to 2024-01-24 (12 days)"
    ]
    # Over 2.5 days, weekends count too.
    stricter = load_csv(kaggle(str(tmp_path / "prices.csv"), large_gap=2.5), "X")
    assert stricter.warnings == [
        "4 unusually large gaps in X (over 2.5 x the median spacing of 1 day, "
        "data.csv.large_gap): 2024-01-05 to 2024-01-08 (3 days), 2024-01-12 to 2024-01-24 "
        "(12 days), 2024-01-26 to 2024-01-29 (3 days), 2024-02-02 to 2024-02-05 (3 days)"
    ]


def _load_raw(path: str, **csv) -> pd.DataFrame:
    data = parse_params(
        {"data": {"source": "csv", "csv": {"path": path, "ticker_column": "Name", **csv}}}
    ).data
    return load_data(data).prices


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        ("66.8928", "-66.8928", "low <= 0 in 1 row of AAPL: 2013-02-08"),
        ("69.2771", "68.0", "high < max(open, close) in 1 row of AAPL: 2013-02-11"),
        ("66.1742", "66.8", "low > min(open, close) in 1 row of AAPL: 2013-02-13"),
        ("151829363", "-5", "volume < 0 in 1 row of AAPL: 2013-02-12"),
    ],
    ids=["negative-price", "high-too-low", "low-too-high", "negative-volume"],
)
def test_the_schema_names_the_rows_that_break_it(tmp_path, old, new, rule):
    path = write(tmp_path, KAGGLE.replace(old, new))
    with pytest.raises(SeqcastError) as info:
        _load_raw(path)
    assert str(info.value) == (
        f"data.source = csv ({path}): the raw table breaks its schema: {rule}"
    )


def test_a_file_of_non_price_columns_only_needs_numbers(tmp_path):
    path = write(tmp_path, "when,temperature\n2024-01-01,-3.5\n2024-01-02,-1.0\n")
    data = parse_params(
        {
            "data": {
                "source": "csv",
                "ticker": "BERLIN",
                "target": "temperature",
                "csv": {
                    "path": path,
                    "date_column": "when",
                    "ticker_column": None,
                    "columns": {"temperature": "temperature"},
                },
            }
        }
    ).data
    prices = load_data(data).prices
    assert prices["temperature"].tolist() == [-3.5, -1.0]
    assert prices["ticker"].tolist() == ["BERLIN", "BERLIN"]


def test_a_file_in_another_text_encoding_is_read_with_data_csv_encoding(tmp_path):
    text = "Date,Clôture\n2024-01-02,10.5\n2024-01-03,11.0\n"
    path = tmp_path / "prices.csv"
    path.write_bytes(text.encode("cp1252"))
    csv = CsvConfig(
        path=str(path), date_column="Date", ticker_column=None, columns={"close": "Clôture"}
    )
    # Read as UTF-8 (the default), the 'ô' of the header is byte 0xf4 at offset 7.
    assert error(csv) == (
        f"data.csv.path = '{path}': not valid utf-8 text at byte 7 (line 1); set "
        "data.csv.encoding (e.g. latin-1 or cp1252)"
    )
    raw = load_csv(csv.model_copy(update={"encoding": "cp1252"}), "X")
    assert raw.prices["close"].tolist() == [10.5, 11.0]


def test_an_undecodable_byte_is_found_at_its_place_in_a_long_file(tmp_path):
    days = pd.bdate_range("2000-01-03", periods=20_000)
    rows = "".join(f"{d:%Y-%m-%d},1,2,0.5,1.5,10,AAPL\n" for d in days)
    head = ("date,open,high,low,close,volume,Name\n" + rows).encode()
    path = tmp_path / "prices.csv"
    path.write_bytes(head + b"2100-01-01,1,2,0.5,1.5,10,AAPL\xff\n")
    # The offset in the file, not within one of pandas' read buffers.
    message = error(kaggle(str(path)))
    assert f"at byte {len(head) + 30} (line 20002)" in message


def test_an_unknown_encoding_is_a_params_error():
    with pytest.raises(SeqcastError) as info:
        parse_params({"data": {"csv": {"encoding": "utf-9"}}})
    assert str(info.value) == (
        "params.yaml: data.csv.encoding = 'utf-9': not a text encoding Python knows; use one "
        "such as utf-8, latin-1 or cp1252"
    )
    # A codec of bytes to bytes is no text encoding either.
    with pytest.raises(SeqcastError, match=r"data\.csv\.encoding = 'base64'"):
        parse_params({"data": {"csv": {"encoding": "base64"}}})


def test_a_file_outside_the_repository_is_read_with_a_warning(tmp_path, monkeypatch):
    path = write(tmp_path, KAGGLE)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    raw = load_csv(kaggle(path), "AAPL")
    assert len(raw.prices) == 4
    assert raw.warnings == [
        f"data.csv.path = '{path}' is outside the repository: DVC cannot track it, so a "
        "change to it will not rerun the pipeline"
    ]
    # Relative to the current directory, the repository root when a stage runs.
    assert load_csv(kaggle("../prices.csv"), "AAPL").warnings == [
        "data.csv.path = '../prices.csv' is outside the repository: DVC cannot track it, so "
        "a change to it will not rerun the pipeline"
    ]
    # Inside it, under any spelling of the path, no warning.
    monkeypatch.chdir(tmp_path)
    assert load_csv(kaggle(path), "AAPL").warnings == []
    assert load_csv(kaggle("repo/../prices.csv"), "AAPL").warnings == []
