"""Daily stock prices: the bokeh sample stocks, users' CSV files, and a chronological split.

The default data are the daily prices of AAPL, IBM, MSFT and GOOG from
2000-03-01 (GOOG from its listing, 2004-08-19) to 2013-03-01: open, high, low,
close and volume as traded (not adjusted) and the source's split- and
dividend-adjusted close. They ship as `bokeh_sampledata/_data/stocks.csv.gz`
in the `bokeh_sampledata==2026.1` wheel on PyPI, fetched (and pinned by hash)
through `datasets.fetch`; the package itself is never installed or imported.
The file is Quandl's WIKI prices, which Quandl placed in the public domain.

Rules applied here:

- every file, the default one included, goes through the same reader
  (`read_prices`), which refuses, in one line naming the line and the value:
  missing columns, rows longer than the header, unparsable dates or dates
  outside 1677-09-22 .. 2262-04-11, dates out of order or repeated within a
  ticker, missing, non-numeric or non-positive prices, negative volumes, and a
  high below the low. A timestamp's date is the day as quoted, whatever its
  UTC offset (offsets may change with daylight saving time);
- the split is chronological and shared by every ticker: the distinct dates
  of the whole file are cut 70 / 10 / 20 % into train, validation and test
  (each part at least one date), so no ticker trains on a day on which another
  one is tested. The two cut dates
  are saved as `<root>/stocks/split.json` (`<root>/stocks/user-<sha8>/` for a
  user's file) with the source's SHA-256, and reused by every later load;
- `adjust` removes splits and dividends: open, high, low and close are
  multiplied by `adj_close / close` relative to a reference day and volume
  divided by it, so the prices are as quoted on that day and a 2-for-1 split
  is no longer a 50% fall. Without an adjusted close the prices are used as
  they are.

`StockData.prices` is a pandas DataFrame with the columns

```
ticker     str             "AAPL"; the file's name (without suffixes) when it has no Ticker column
date       datetime64[ns]  the trading day
open, high, low, close     float64, > 0
volume     float64         >= 0
adj_close  float64         > 0; NaN throughout when the file has none
```

sorted by ticker, then date. The data root is `$SEQLIB_DATA` when set, else
`<repo>/data` (git-ignored).
"""

from __future__ import annotations

import dataclasses
import hashlib
import lzma
import math
import os
import re
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from datasets import fetch
from datasets.fetch import DataError, data_root, path_text, read_bytes, shown, shown_names
from datasets.saved_split import SavedSplit
from datasets.splits import ROOT_HELP, run_main

__all__ = [
    "COLUMNS",
    "DEFAULT_TICKERS",
    "DataError",
    "PARTS",
    "StockData",
    "adjust",
    "adjustment_factors",
    "chronological_cuts",
    "data_root",
    "load_default",
    "load_prices",
    "read_prices",
    "source_file",
]

COLUMNS = ("ticker", "date", "open", "high", "low", "close", "volume", "adj_close")
PRICE_COLUMNS = ("open", "high", "low", "close")
PARTS = ("train", "validation", "test")

# The wheel that carries the sample stocks, pinned by hash.
PACKAGE = "bokeh_sampledata"
PACKAGE_VERSION = "2026.1"
PACKAGE_SHA256 = "f40331a40ca30c64a1c1471835aad9006b61b0d9731a3f649ee8cbbf48d3822f"
STOCKS_MEMBER = "bokeh_sampledata/_data/stocks.csv.gz"
# The file also holds FB, listed in 2012: too short for a 70 / 10 / 20 split of 2000-2013.
DEFAULT_TICKERS = ("AAPL", "IBM", "MSFT", "GOOG")

FRACTIONS = {"train": 0.7, "validation": 0.1, "test": 0.2}
SPLIT_FORMAT = 1

# Header spellings accepted for each column (compared lower-cased, without
# spaces, dashes and underscores).
_ALIASES = {
    "ticker": ("ticker", "symbol", "name"),
    "date": ("date", "day", "timestamp"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "volume": ("volume",),
    "adj_close": ("adjclose", "adjustedclose"),
}
_REQUIRED = ("date", "open", "high", "low", "close", "volume")


def source_file(root: str | os.PathLike | None = None) -> Path:
    """Returns the local path of the sample stocks file, fetching the pinned wheel if needed."""
    return fetch.package_file(PACKAGE, PACKAGE_VERSION, STOCKS_MEMBER, PACKAGE_SHA256, root)


@dataclasses.dataclass(frozen=True, eq=False)
class StockData:
    """Daily prices of one or more tickers and the dates that cut them into parts.

    Args:
        prices: DataFrame with `COLUMNS`, sorted by ticker and date.
        train_end: The last date of the training part.
        validation_end: The last date of the validation part; later dates are test.
        source: Where the rows came from, in words.
        split_path: The saved split file the cut dates come from.
    """

    prices: pd.DataFrame
    train_end: pd.Timestamp
    validation_end: pd.Timestamp
    source: str = ""
    split_path: Path | None = None

    @property
    def tickers(self) -> list[str]:
        return list(dict.fromkeys(self.prices["ticker"]))

    def series(self, ticker: str) -> pd.DataFrame:
        """One ticker's rows, oldest first, indexed from 0."""
        if ticker not in self.tickers:
            raise DataError(
                f"no ticker {ticker!r} in {self.source}; it has {', '.join(self.tickers)}"
            )
        return self.prices[self.prices["ticker"] == ticker].reset_index(drop=True)

    def part_of(self, dates) -> np.ndarray:
        """The part of each date: 0 train, 1 validation, 2 test."""
        dates = pd.to_datetime(pd.Series(dates)).to_numpy()
        return (dates > np.datetime64(self.validation_end)).astype(int) + (
            dates > np.datetime64(self.train_end)
        ).astype(int)

    def counts(self) -> dict[str, dict[str, int]]:
        """Trading days per ticker and part."""
        out = {}
        for ticker in self.tickers:
            part = self.part_of(self.series(ticker)["date"])
            out[ticker] = {name: int((part == i).sum()) for i, name in enumerate(PARTS)}
        return out

    def date_ranges(self) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
        """The first and last date of each part, over all tickers."""
        dates = self.prices["date"]
        part = self.part_of(dates)
        return {
            name: (dates[part == i].min(), dates[part == i].max()) for i, name in enumerate(PARTS)
        }

    def restrict(self, tickers: Sequence[str]) -> StockData:
        """The same data and cut dates, for some tickers only (in the order given)."""
        missing = [t for t in tickers if t not in self.tickers]
        if missing:
            raise DataError(
                f"no ticker {', '.join(missing)} in {self.source}; it has {', '.join(self.tickers)}"
            )
        frames = [self.series(t) for t in tickers]
        return dataclasses.replace(self, prices=pd.concat(frames, ignore_index=True))

    def check_lengths(self, window: int, horizon: int) -> None:
        """Raises DataError unless every ticker has a window and a horizon of days in
        the training part and a horizon of days in validation and in test."""
        for ticker, counts in self.counts().items():
            needed = {"train": window + horizon, "validation": horizon, "test": horizon}
            for name, days in counts.items():
                if days < needed[name]:
                    raise DataError(
                        f"{ticker} has {days} trading days in the {name} part "
                        f"({_describe_part(self, name)}); at least {needed[name]} are needed "
                        f"(window {window}, horizon {horizon}): give a longer series, or leave "
                        "the ticker out"
                    )

    def describe(self) -> str:
        """Trading days per ticker and part, and each part's dates."""
        lines = [f"source: {self.source}"] if self.source else []
        if self.split_path is not None:
            lines.append(f"split:  {self.split_path}")
        for name in PARTS:
            lines.append(f"{name + ':':<12}{_describe_part(self, name)}")
        lines.append(f"{'ticker':<10}" + "".join(f"{name:>12}" for name in PARTS) + f"{'all':>8}")
        for ticker, counts in self.counts().items():
            lines.append(
                f"{ticker:<10}"
                + "".join(f"{counts[name]:>12}" for name in PARTS)
                + f"{sum(counts.values()):>8}"
            )
        if self.prices["adj_close"].isna().any():
            lines.append("note: no adjusted close: prices are used as they are (splits included)")
        return "\n".join(lines)


def _describe_part(data: StockData, name: str) -> str:
    first, last = data.date_ranges()[name]
    if pd.isna(first):
        return "no days"
    return f"{first.date()} .. {last.date()}"


# ---------------------------------------------------------------------------
# Reading


def read_prices(path: str | os.PathLike, ticker: str | None = None) -> pd.DataFrame:
    """Reads and checks a CSV file of daily prices (plain or `.gz`).

    The header needs Date, Open, High, Low, Close and Volume (any case and
    order; `Adj Close` optional, other columns ignored). A `Ticker` (or
    `Symbol`) column holds several series; without one, the file is one series
    named `ticker`, or the file's name.

    Args:
        path: The CSV file.
        ticker: The name of a single series without a Ticker column.

    Returns:
        A DataFrame with `COLUMNS`, sorted by ticker (in order of appearance)
        and date.

    Raises:
        DataError: one line naming the first problem and where it is.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            # A first row longer than the header: pandas would drop its last fields.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # index_col=False: never take the first column for the index, which
            # pandas does when the first row has one field more than the header.
            raw = pd.read_csv(
                path, dtype=str, keep_default_na=False, skip_blank_lines=False, index_col=False
            )
    except pd.errors.ParserWarning:
        raise DataError(
            f"{path} line 2: more fields than the header has names; "
            "does every line end with a comma?"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except ImportError as error:  # a `.zst` file without the zstandard package
        raise DataError(f"{path} cannot be decompressed here ({_parser_problem(error)})") from None
    except (
        ValueError,  # pandas' ParserError, UnicodeDecodeError, a zip of several files
        OSError,  # gzip.BadGzipFile, bz2's invalid data
        EOFError,  # a truncated compressed file
        zlib.error,
        lzma.LZMAError,
        zipfile.BadZipFile,
        tarfile.TarError,
    ) as error:
        raise DataError(f"{path} is not a readable CSV file ({_parser_problem(error)})") from None
    # The header is line 1; blank lines are kept while reading so that the
    # line numbers in messages are the file's.
    raw.index = raw.index + 2
    raw = raw[~(raw == "").all(axis=1)]
    if raw.empty:
        raise DataError(f"{path} has a header but no rows")
    columns = _match_columns(path, list(raw.columns))

    frame = pd.DataFrame(index=raw.index)
    if "ticker" in columns:
        names = raw[columns["ticker"]].str.strip()
        empty = names == ""
        if empty.any():
            raise DataError(f"{path} line {names.index[empty][0]}: the ticker is empty")
        frame["ticker"] = names
    else:
        frame["ticker"] = ticker or path.name.split(".")[0]
    frame["date"] = _parse_dates(path, raw[columns["date"]])
    for name in ("open", "high", "low", "close", "volume"):
        frame[name] = _parse_numbers(path, raw[columns[name]], name)
    if "adj_close" in columns:
        frame["adj_close"] = _parse_numbers(path, raw[columns["adj_close"]], "adj_close")
    else:
        frame["adj_close"] = np.nan
    _check_values(path, frame, has_adj_close="adj_close" in columns)
    _check_dates(path, frame)
    # Each ticker's rows are in date order (checked above); gather them by ticker.
    frame = pd.concat([rows for _, rows in frame.groupby("ticker", sort=False)])
    return frame[list(COLUMNS)].reset_index(drop=True)


def _parser_problem(error: Exception) -> str:
    message = " ".join(str(error).split())
    # The C parser counts lines from 1 with the header; it says "line N" already.
    message = re.sub(r"^Error tokenizing data\. C error: ", "", message)
    return message or type(error).__name__


def _normalise(name: str) -> str:
    return "".join(ch for ch in name.strip().lower() if ch not in " _-.")


def _match_columns(path: Path, header: list[str]) -> dict[str, str]:
    found = {}
    for column in header:
        key = _normalise(column)
        for name, aliases in _ALIASES.items():
            if key in aliases and name not in found:
                found[name] = column
    missing = [name for name in _REQUIRED if name not in found]
    if missing:
        wanted = ", ".join(n.capitalize() for n in missing)
        raise DataError(
            f"{path}: no {wanted} column; found columns {shown_names(header)} "
            "(expected Date, Open, High, Low, Close, Volume; Adj Close and Ticker optional)"
        )
    return found


def _parse_dates(path: Path, text: pd.Series) -> pd.Series:
    text = text.str.strip()
    # ISO dates (the common case, and the sample file) are read exactly; other
    # spellings go through pandas' inference, which fixes one format from the
    # first value and applies it to all.
    dates = _to_datetime(text, format="ISO8601")
    if dates.isna().any() and not dates.isna().all():
        bad = dates.isna()
        raise DataError(
            f"{path} line {text.index[bad][0]}: unparsable date {shown(text[bad].iloc[0])} "
            "(expected YYYY-MM-DD)"
        )
    if dates.isna().all():
        dates = _to_datetime(text)
        bad = dates.isna()
        if bad.any():
            raise DataError(
                f"{path} line {text.index[bad][0]}: unparsable date {shown(text[bad].iloc[0])} "
                "(expected YYYY-MM-DD)"
            )
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    dates = dates.dt.normalize()
    # pandas parses years 1 to 9999; nanoseconds since 1970 reach 1677 to 2262 only.
    out = (dates < pd.Timestamp.min) | (dates > pd.Timestamp.max)
    if out.any():
        raise DataError(
            f"{path} line {text.index[out][0]}: date {shown(text[out].iloc[0])} is out of "
            f"range ({pd.Timestamp.min.date() + pd.Timedelta(days=1)} to "
            f"{pd.Timestamp.max.date()})"
        )
    return dates.astype("datetime64[ns]")


def _to_datetime(text: pd.Series, **options) -> pd.Series:
    """`pd.to_datetime(text, errors="coerce", **options)`, with NaT for what does not parse.

    Timestamps whose UTC offsets differ from row to row (daylight saving time)
    make pandas refuse the whole column; they are then read one by one, each
    keeping its own wall-clock time: the date is the day as quoted.
    """
    try:
        return pd.to_datetime(text, errors="coerce", **options)
    except (ValueError, OverflowError):
        return pd.to_datetime(text.map(lambda value: _wall_clock(value, options)))


def _wall_clock(value: str, options: dict) -> pd.Timestamp:
    try:
        stamp = pd.to_datetime(value, **options)
    except (ValueError, OverflowError):
        return pd.NaT
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _parse_numbers(path: Path, text: pd.Series, name: str) -> pd.Series:
    text = text.str.strip().str.replace(",", "", regex=False)
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = numbers.isna() | ~np.isfinite(numbers)
    if bad.any():
        line, value = text.index[bad][0], text[bad].iloc[0]
        what = "is missing" if value == "" else f"is not a number ({shown(value)})"
        raise DataError(f"{path} line {line}: {_label(name)} {what}")
    return numbers


def _label(name: str) -> str:
    return "Adj Close" if name == "adj_close" else name.capitalize()


def _check_values(path: Path, frame: pd.DataFrame, has_adj_close: bool) -> None:
    names = [*PRICE_COLUMNS, "adj_close"] if has_adj_close else list(PRICE_COLUMNS)
    for name in names:
        bad = frame[name] <= 0
        if bad.any():
            line = frame.index[bad][0]
            raise DataError(
                f"{path} line {line}: {_label(name)} is {frame[name][line]:g}; "
                "prices must be positive"
            )
    bad = frame["volume"] < 0
    if bad.any():
        line = frame.index[bad][0]
        raise DataError(f"{path} line {line}: Volume is {frame['volume'][line]:g}; it must be >= 0")
    bad = frame["high"] < frame["low"]
    if bad.any():
        line = frame.index[bad][0]
        raise DataError(
            f"{path} line {line}: High {frame['high'][line]:g} is below Low "
            f"{frame['low'][line]:g}; are the columns swapped?"
        )


def _check_dates(path: Path, frame: pd.DataFrame) -> None:
    for ticker, rows in frame.groupby("ticker", sort=False):
        step = rows["date"].diff()
        where = f" (ticker {ticker})" if frame["ticker"].nunique() > 1 else ""
        repeated = step == pd.Timedelta(0)
        if repeated.any():
            line = rows.index[repeated][0]
            raise DataError(
                f"{path} line {line}: date {rows['date'][line].date()} is repeated{where}; "
                "keep one row per trading day"
            )
        backwards = step < pd.Timedelta(0)
        if backwards.any():
            line = rows.index[backwards][0]
            raise DataError(
                f"{path} line {line}: date {rows['date'][line].date()} comes after a later date"
                f"{where}; sort the rows oldest first"
            )


# ---------------------------------------------------------------------------
# Adjusting


def adjustment_factors(series: pd.DataFrame) -> np.ndarray:
    """Each day's `adj_close / close` of one ticker, `(days,)`; ones without an adjusted close.

    Only ratios of these factors matter (`adjust`), and the ratio of two days'
    factors holds the splits and dividends between them and nothing else.
    """
    adj = series["adj_close"].to_numpy("float64")
    if np.isnan(adj).any():
        return np.ones(len(series))
    return adj / series["close"].to_numpy("float64")


def adjust(ohlcv: np.ndarray, factors: np.ndarray, reference: int) -> np.ndarray:
    """Prices without splits and dividends, as quoted on day `reference`.

    Args:
        ohlcv: `(..., days, 5)` open, high, low, close, volume.
        factors: `(..., days)` from `adjustment_factors`.
        reference: The day (index on the days axis) whose prices stay as quoted.

    Returns:
        float64 `ohlcv` with prices multiplied by `factors / factors[reference]`
        and volumes divided by it: a 2-for-1 split is no longer a 50% fall and a
        doubling of volume.
    """
    relative = factors / np.take(factors, [reference], axis=-1)  # (..., days)
    out = np.array(ohlcv, dtype="float64")
    out[..., :4] *= relative[..., None]
    out[..., 4] /= relative
    return out


# ---------------------------------------------------------------------------
# Splitting


def chronological_cuts(dates, fractions=FRACTIONS) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The last dates of the train and validation parts: the distinct `dates`,
    oldest first, cut at 70% and 80% (`fractions`); every part keeps at least one
    date (which matters below 7 dates)."""
    days = np.sort(pd.unique(pd.to_datetime(pd.Series(dates)).to_numpy()))
    if len(days) < 3:
        raise DataError(f"{len(days)} distinct dates; at least 3 are needed to split")
    # Leave a date for validation and one for test: rounding 70 % up alone
    # gave train every date but one below 7 dates, and validation none.
    train = min(len(days) - 2, max(1, math.ceil(fractions["train"] * len(days))))
    validation = min(
        len(days) - 1,
        max(train + 1, math.ceil((fractions["train"] + fractions["validation"]) * len(days))),
    )
    return pd.Timestamp(days[train - 1]), pd.Timestamp(days[validation - 1])


def _load_or_create_split(
    split_path: Path, prices: pd.DataFrame, source: dict, path: Path
) -> tuple:
    saved_split = SavedSplit(
        split_path,
        SPLIT_FORMAT,
        made="cut",
        redo="cut the dates again",
        source_words=("a source", "the source"),
    )

    def cut() -> dict:
        try:
            train_end, validation_end = chronological_cuts(prices["date"])
        except DataError as error:
            raise DataError(f"{path}: {error}") from None
        return {
            "fractions": FRACTIONS,
            "rule": "distinct dates of the whole file, oldest first, cut by fraction; "
            "a date belongs to the last part whose end it does not pass",
            "train_end": str(train_end.date()),
            "validation_end": str(validation_end.date()),
            "days": int(prices["date"].nunique()),
        }

    saved = saved_split.load_or_create(source, cut, ensure_ascii=True)
    return pd.Timestamp(saved["train_end"]), pd.Timestamp(saved["validation_end"])


# ---------------------------------------------------------------------------
# Loading


def load_default(
    tickers: Sequence[str] = DEFAULT_TICKERS, root: str | os.PathLike | None = None
) -> StockData:
    """The sample stocks (fetched once), with the saved split, for `tickers`.

    The cut dates come from the whole file, whichever tickers are asked for, so
    every choice of tickers shares them.
    """
    root = data_root(root)
    path = source_file(root)
    prices = read_prices(path)
    source = {
        "package": f"{PACKAGE}=={PACKAGE_VERSION}",
        "wheel_sha256": PACKAGE_SHA256,
        "file": STOCKS_MEMBER,
        "sha256": fetch.sha256_of(path),
    }
    train_end, validation_end = _load_or_create_split(
        root / "stocks" / "split.json", prices, source, path
    )
    data = StockData(
        prices=prices,
        train_end=train_end,
        validation_end=validation_end,
        source=f"Quandl WIKI prices from {PACKAGE}=={PACKAGE_VERSION}",
        split_path=root / "stocks" / "split.json",
    )
    return data.restrict(list(tickers))


def load_prices(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    tickers: Sequence[str] | None = None,
) -> StockData:
    """A user's CSV file (see `read_prices`) with its own saved split.

    The split is saved under `<root>/stocks/user-<first 8 hex of the file's
    SHA-256>/split.json`.
    """
    path = Path(path)
    prices = read_prices(path)
    digest = hashlib.sha256(read_bytes(path)).hexdigest()
    split_path = data_root(root) / "stocks" / f"user-{digest[:8]}" / "split.json"
    source = {"file": path_text(path.resolve()), "sha256": digest}
    train_end, validation_end = _load_or_create_split(split_path, prices, source, path)
    data = StockData(
        prices=prices,
        train_end=train_end,
        validation_end=validation_end,
        source=str(path),
        split_path=split_path,
    )
    return data.restrict(list(tickers)) if tickers else data


def _arguments(parser) -> None:
    parser.add_argument("--csv", help="a CSV file of daily prices instead of the sample stocks")
    parser.add_argument("--root", help=ROOT_HELP)


def _load(args) -> StockData:
    return load_prices(args.csv, root=args.root) if args.csv else load_default(root=args.root)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m datasets.stocks_data [--csv FILE]`: fetch, split, describe."""
    return run_main(argv, "python -m datasets.stocks_data", __doc__, _arguments, _load)


if __name__ == "__main__":
    raise SystemExit(main())
