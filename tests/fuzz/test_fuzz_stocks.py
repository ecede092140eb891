"""Fuzzing the stocks app's CSV reader: `load_prices` (`--data` of prepare, train,
evaluate) and `read_prices` (`predict --data`)."""

import gzip

import numpy as np
import pandas as pd
import pytest
from fuzz_files import arbitrary_bytes, data_or_error, hostile_file, truncated, workspace
from hypothesis import given
from hypothesis import strategies as st

from datasets.fetch import DataError
from datasets.stocks_data import COLUMNS, load_prices, read_prices


def price_lines(days=30, tickers=("AAA", "BBB")):
    lines = ["Ticker,Date,Open,High,Low,Close,Volume,Adj Close"]
    for ticker in tickers:
        for day in range(days):
            date = pd.Timestamp("2020-01-01") + pd.Timedelta(days=day)
            price = 10 + day
            lines.append(
                f"{ticker},{date.date()},{price},{price + 1},{price - 1},{price + 0.5},"
                f"{1000 + day},{price + 0.25}"
            )
    return lines


def check(raw, name="prices.csv"):
    with workspace() as (folder, root):
        path = folder / name
        path.write_bytes(raw)
        data = data_or_error(load_prices, path, root=root, names=path)
        if data is None:
            return
        prices = data.prices
        assert list(prices.columns) == list(COLUMNS)
        values = prices[["open", "high", "low", "close", "volume"]].to_numpy("float64")
        assert np.isfinite(values).all()
        assert (values[:, :4] > 0).all() and (values[:, 4] >= 0).all()
        assert prices["date"].notna().all()
        assert data.train_end < data.validation_end


@given(arbitrary_bytes)
def test_arbitrary_bytes(raw):
    check(raw)


# pandas picks the decompressor by the file's suffix.
SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".tar", ".tar.gz", ".zst")


@given(st.binary(max_size=512), st.sampled_from(SUFFIXES))
def test_arbitrary_bytes_named_as_compressed(raw, suffix):
    check(raw, name=f"prices.csv{suffix}")


GZIPPED = gzip.compress("\n".join(price_lines()).encode(), mtime=0)


@given(st.integers(0, len(GZIPPED) - 1), st.integers(0, 255))
def test_a_gzipped_file_with_one_byte_changed(at, value):
    check(GZIPPED[:at] + bytes([value]) + GZIPPED[at + 1 :], name="prices.csv.gz")


@given(hostile_file(price_lines()))
def test_a_valid_file_with_a_fault(raw):
    check(raw)


@given(hostile_file(price_lines()).map(gzip.compress))
def test_a_gzipped_file_with_a_fault(raw):
    check(raw, name="prices.csv.gz")


@given(truncated(GZIPPED))
def test_a_truncated_gzipped_file(raw):
    check(raw, name="prices.csv.gz")


@given(hostile_file(price_lines(days=5, tickers=("AAA",))))
def test_read_prices_for_predict(raw):
    with workspace() as (folder, _):
        path = folder / "recent.csv"
        path.write_bytes(raw)
        data_or_error(read_prices, path, names=path)


def test_the_base_file_is_valid(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("\n".join(price_lines()) + "\n")
    assert load_prices(path, root=tmp_path / "data").tickers == ["AAA", "BBB"]


# Regression tests: the shrunk examples fuzzing found, each a plain test.

HEADER = "Date,Open,High,Low,Close,Volume"


def write(tmp_path, text, name="prices.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize("raw", [b"\r,", b"\r\x00"])
def test_a_row_longer_than_the_header_is_not_taken_for_an_index(tmp_path, raw):
    # Found by test_arbitrary_bytes: pandas made the first column the index when
    # the first row had one field more than the header, and `index + 2` raised
    # TypeError on its MultiIndex or string index.
    path = write(tmp_path, raw)
    with pytest.raises(DataError, match=rf"^{path} has a header but no rows$"):
        read_prices(path)


def test_a_comma_at_the_end_of_every_row_is_refused_not_shifted(tmp_path):
    # The same bug on a plausible file: every column moved one to the left.
    rows = "".join(f"2020-01-0{day},10,11,9,10.5,100,\n" for day in range(1, 8))
    path = write(tmp_path, f"{HEADER}\n{rows}")
    with pytest.raises(DataError, match=rf"^{path} line 2: more fields than the header"):
        read_prices(path)


def test_a_date_out_of_pandas_range_names_its_line(tmp_path):
    # Found by test_a_valid_file_with_a_fault: the date "-1" parsed as year -1,
    # and the conversion to nanoseconds raised OutOfBoundsDatetime.
    path = write(tmp_path, f"{HEADER}\n2020-01-01,10,11,9,10.5,100\n-1,10,11,9,10.5,100\n")
    with pytest.raises(DataError, match=rf"^{path} line 3: date '-1' is out of range"):
        read_prices(path)


def test_utc_offsets_that_change_with_daylight_saving_time_are_read(tmp_path):
    # Found by test_a_valid_file_with_a_fault: pandas refuses a column whose UTC
    # offsets differ ("Mixed timezones detected"), and its ValueError escaped.
    rows = [("2020-03-06", "-05:00"), ("2020-03-09", "-04:00"), ("2020-11-02", "-05:00")]
    text = "".join(f"{day}T09:30:00{offset},10,11,9,10.5,100\n" for day, offset in rows)
    prices = read_prices(write(tmp_path, f"{HEADER}\n{text}"))
    assert [str(d.date()) for d in prices["date"]] == [day for day, _ in rows]


def test_three_dates_give_every_part_one(tmp_path):
    # Found by test_a_gzipped_file_with_a_fault (a file cut to 3 days): below 7
    # dates the cut gave validation no date, and below 4 cut dates out of order.
    rows = "".join(f"2020-01-0{day},10,11,9,10.5,100\n" for day in range(1, 4))
    data = load_prices(write(tmp_path, f"{HEADER}\n{rows}"), root=tmp_path / "data")
    assert data.counts() == {"prices": {"train": 1, "validation": 1, "test": 1}}


def test_too_few_dates_to_split_names_the_file(tmp_path):
    path = write(tmp_path, f"{HEADER}\n2020-01-01,10,11,9,10.5,100\n")
    with pytest.raises(DataError, match=rf"^{path}: 1 distinct dates; at least 3"):
        load_prices(path, root=tmp_path / "data")


def test_a_broken_deflate_stream_is_a_data_error(tmp_path):
    # Found by test_a_gzipped_file_with_one_byte_changed: zlib.error escaped.
    raw = gzip.compress(f"{HEADER}\n2020-01-01,10,11,9,10.5,100\n".encode(), mtime=0)
    path = write(tmp_path, raw[:10] + b"\x00" + raw[11:], name="prices.csv.gz")
    with pytest.raises(DataError, match=rf"^{path} is not a readable CSV file \(Error -3"):
        read_prices(path)


@pytest.mark.parametrize("suffix", [".xz", ".zip", ".tar"])
def test_a_file_that_is_not_what_its_suffix_says_is_a_data_error(tmp_path, suffix):
    # Found by test_arbitrary_bytes_named_as_compressed: lzma.LZMAError,
    # zipfile.BadZipFile and tarfile.ReadError (a message of five lines) escaped.
    path = write(tmp_path, b"Date,Open\n", name=f"prices.csv{suffix}")
    with pytest.raises(DataError, match=rf"^{path} is not a readable CSV file \([^\n]*\)$"):
        read_prices(path)
