"""What the stock model reads: the daily prices with their chronological split, the
windows cut from them, the scaling, and the `tf.data` pipelines of training.

No look-ahead, by construction:

- the parts are cut by date (`datasets.stocks_data`), the same dates for
  every ticker;
- an example is a window of `W` days ending on day t (the forecast's origin)
  and the closes of days t+1..t+H; it belongs to the part that holds all of
  t+1..t+H, and examples whose days straddle two parts are dropped. A training
  example therefore reads and predicts training days only, while a test
  example may read days before the test part, as a forecaster would;
- each window is adjusted for splits and dividends relative to its own last
  day (prices as quoted on the origin day), so it depends on nothing outside
  its days;
- the scaling (feature means and deviations, the return scale) is fitted on
  the training part's days alone.

`tests/apps/test_stocks.py` checks it: changing every price of the test part
leaves the training and validation examples, the scaling and the trained
weights bit-identical.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from apps.stocks.model import FEATURES, OHLCV, horizon_scale, ohlcv_features
from datasets.stocks_data import (
    DEFAULT_TICKERS,
    PARTS,
    DataError,
    adjust,
    adjustment_factors,
    load_default,
    load_prices,
    read_prices,
)
from seqlib.training import shuffle_for_epoch


def load_data(config, data=None, tickers=None):
    """The sample stocks of `config.data.tickers` by default, or a user's CSV file
    `data` (all its tickers, or `tickers`), with the saved chronological split."""
    if data:
        return load_prices(data, tickers=tickers)
    return load_default(tickers or config.data.tickers)


@dataclasses.dataclass(frozen=True)
class Windows:
    """The examples of one part, every array indexed by example.

    Args:
        ohlcv: `(N, W, 5)` float32 windows, prices as quoted on the origin day.
        future: `(N, H)` float64 closes of the next H days, in the same units.
        ticker: `(N,)` the ticker of each example.
        origin: `(N,)` datetime64 the last day of each window.
        dates: `(N, H)` datetime64 the days of `future`.
    """

    ohlcv: np.ndarray
    future: np.ndarray
    ticker: np.ndarray
    origin: np.ndarray
    dates: np.ndarray

    @property
    def last_close(self):
        return self.ohlcv[:, -1, 3].astype("float64")

    @property
    def log_returns(self):
        """`(N, H)` log(close[t+h] / close[t])."""
        return np.log(self.future / self.last_close[:, None])

    def scaled_targets(self, scaler):
        return (self.log_returns / horizon_scale(scaler, self.future.shape[1])).astype("float32")

    def select(self, mask):
        return Windows(*(getattr(self, f.name)[mask] for f in dataclasses.fields(self)))

    def __len__(self):
        return len(self.ohlcv)


def make_windows(data, window, horizon):
    """`{part: Windows}` for train, validation and test (see the module docstring)."""
    pieces = {name: [] for name in PARTS}
    for ticker in data.tickers:
        series = data.series(ticker)
        days = len(series)
        part = data.part_of(series["date"])  # (days,)
        dates = series["date"].to_numpy()
        origins = np.arange(window - 1, days - horizon)  # (n,)
        if len(origins) == 0:
            continue
        first, last = part[origins + 1], part[origins + horizon]
        rows = origins[:, None] + np.arange(-window + 1, horizon + 1)  # (n, W + H)
        raw = series[list(OHLCV)].to_numpy("float64")[rows]  # (n, W + H, 5)
        adjusted = adjust(raw, adjustment_factors(series)[rows], window - 1)
        for index, name in enumerate(PARTS):
            keep = (first == index) & (last == index)
            pieces[name].append(
                Windows(
                    ohlcv=adjusted[keep, :window].astype("float32"),
                    future=adjusted[keep, window:, 3],
                    ticker=np.full(int(keep.sum()), ticker, dtype=object),
                    origin=dates[origins[keep]],
                    dates=dates[rows[keep, window:]],
                )
            )
    out = {}
    for name, parts in pieces.items():
        out[name] = Windows(
            *(
                np.concatenate([getattr(p, f.name) for p in parts])
                for f in dataclasses.fields(Windows)
            )
        )
    return out


def fit_scaler(data):
    """The scaling, from the training part's days only.

    Returns `{"feature_mean", "feature_std"}` (5 floats each, in `FEATURES` order)
    and `"return_scale"`, the standard deviation of daily close log returns.
    """
    rows = []
    for ticker in data.tickers:
        series = data.series(ticker)
        train = series[data.part_of(series["date"]) == 0]
        if len(train) < 2:
            continue
        # Adjusted relative to the last training day: nothing later is read.
        ohlcv = adjust(
            train[list(OHLCV)].to_numpy("float64"), adjustment_factors(train), len(train) - 1
        )
        features = ohlcv_features(ohlcv[None].astype("float32"))  # (1, days - 1, 5)
        rows.append(np.asarray(features, dtype="float64")[0])
    if not rows:
        raise DataError("no training days to fit the scaling on")
    rows = np.concatenate(rows)  # (train days, 5)
    std = rows.std(axis=0)
    return {
        "features": list(FEATURES),
        "feature_mean": rows.mean(axis=0).tolist(),
        "feature_std": np.where(std > 0, std, 1.0).tolist(),
        "return_scale": float(rows[:, 0].std()),
        "train_days": len(rows),
    }


def training_batches(config, windows, scaler):
    """`train_data(epoch)` for the runner: the training windows and their scaled
    targets in an order drawn from `(train.seed, epoch)`, in batches."""
    train = windows["train"]
    examples = tf.data.Dataset.from_tensor_slices((train.ohlcv, train.scaled_targets(scaler)))

    def train_data(epoch):
        return shuffle_for_epoch(
            examples, epoch, buffer_size=len(train), seed=config.train.seed
        ).batch(config.train.batch_size)

    return train_data


def validation_batches(config, windows, scaler):
    """The validation windows and their scaled targets, in order, in batches."""
    validation = windows["validation"]
    return tf.data.Dataset.from_tensor_slices(
        (validation.ohlcv, validation.scaled_targets(scaler))
    ).batch(config.train.batch_size)


def latest_prices(config=None, data=None, tickers=()):
    """The prices a forecast starts from: the rows of the CSV file `data`, or of
    the sample stocks (`tickers`, else the run's `config.data.tickers`, else the
    default ones), only `tickers` when given."""
    if data:
        prices = read_prices(data)
    else:
        prices = load_default(
            tickers or (config.data.tickers if config else DEFAULT_TICKERS)
        ).prices
    if tickers:
        missing = [t for t in tickers if t not in set(prices["ticker"])]
        if missing:
            have = ", ".join(dict.fromkeys(prices["ticker"]))
            raise DataError(f"no ticker {', '.join(missing)} in the data; it has {have}")
        prices = prices[prices["ticker"].isin(tickers)]
    return prices


def last_windows(prices, window):
    """`(tickers, last dates, (T, W, 5) windows)` from the last `window` rows of each ticker."""
    tickers, dates, windows = [], [], []
    for ticker, series in prices.groupby("ticker", sort=False):
        if len(series) < window:
            raise DataError(
                f"{ticker} has {len(series)} rows; the model reads windows of {window} days "
                "(the last day is the forecast's origin)"
            )
        series = series.iloc[-window:]
        raw = series[list(OHLCV)].to_numpy("float64")
        windows.append(adjust(raw, adjustment_factors(series), window - 1).astype("float32"))
        tickers.append(ticker)
        dates.append(series["date"].iloc[-1])
    return tickers, dates, np.stack(windows)
