"""The stock app's verbs: prepare, train, evaluate, predict, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/stocks/<preset>/` (the runner's checkpoints, logs and history,
plus `scaler.json` and `data.json`), so later verbs rebuild exactly the model
that was trained, with the scaling it was trained with.

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
import json
import os
import pathlib

import numpy as np
import pandas as pd
import tensorflow as tf

from apps.common import run as common_run
from apps.stocks import baselines, report
from apps.stocks.config import StocksConfig
from apps.stocks.model import (
    FEATURES,
    OHLCV,
    PinballLoss,
    build_model,
    forecaster,
    horizon_scale,
    interval_level,
    normal_width,
    ohlcv_features,
)
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
from seqlib.export import export_for_serving, float_input
from seqlib.training import make_strategy, shuffle_for_epoch
from seqlib.training import train as run_training

ADJUSTED = "adjusted"  # the signature that also takes Adj Close and adjusts inside


class Run(common_run.Run):
    """A stocks run: the runner's files plus `scaler.json` and `data.json`."""

    app = "stocks"
    config_class = StocksConfig

    @property
    def scaler_path(self):
        return self.path / "scaler.json"

    def scaler(self):
        return json.loads(self.scaler_path.read_text())

    def data(self):
        """`{"csv": path or None, "tickers": [...]}`: what the run was trained on."""
        return {"csv": None, "tickers": None, **super().data()}

    def build_model(self):
        return build_model(self.config(), self.scaler())


# -- data ---------------------------------------------------------------------


def load_data(config, csv=None, tickers=None):
    """The sample stocks of `config.data.tickers` by default, or a user's CSV file
    (all its tickers, or `tickers`), with the saved chronological split."""
    if csv:
        return load_prices(csv, tickers=tickers)
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


# -- verbs --------------------------------------------------------------------


def prepare(config, csv=None, build_tfds=True):
    """Fetches the data, cuts (or reads) the saved split, builds the TFDS dataset,
    and returns the description of the parts."""
    data = load_data(config, csv)
    data.check_lengths(config.data.window, config.data.horizon)
    if build_tfds and not csv:
        from datasets.stock_prices import build_tfds as build

        build()
    windows = make_windows(data, config.data.window, config.data.horizon)
    counts = ", ".join(f"{name} {len(windows[name])}" for name in PARTS)
    return (
        f"{data.describe()}\n"
        f"examples (window {config.data.window} days, horizon {config.data.horizon}): {counts}"
    )


def train(config, run_dir, csv=None, resume=False, verbose="auto"):
    """Trains with `seqlib.training.train`; returns its `TrainResult`."""
    if config.train.strategy == "multiworker":
        # Collective ops are configured at startup: the strategy comes first.
        make_strategy("multiworker")
    run = Run(pathlib.Path(run_dir))
    data = load_data(config, csv)
    data.check_lengths(config.data.window, config.data.horizon)
    if resume and run.scaler_path.is_file():
        scaler = run.scaler()
    else:
        if run.exists() and not resume:
            raise ValueError(
                f"{run.path} already holds a trained model: pass --resume to continue it, "
                "or --fresh to train again from scratch."
            )
        scaler = fit_scaler(data)
        run.path.mkdir(parents=True, exist_ok=True)
        run.scaler_path.write_text(json.dumps(scaler, indent=1) + "\n")
        run.save_data(csv=os.path.abspath(csv) if csv else None, tickers=data.tickers)

    windows = make_windows(data, config.data.window, config.data.horizon)
    batch_size = config.train.batch_size
    examples = tf.data.Dataset.from_tensor_slices(
        (windows["train"].ohlcv, windows["train"].scaled_targets(scaler))
    )

    def train_data(epoch):
        return shuffle_for_epoch(
            examples, epoch, buffer_size=len(windows["train"]), seed=config.train.seed
        ).batch(batch_size)

    validation = windows["validation"]
    return run_training(
        lambda: build_model(config, scaler),
        train_data,
        config.train,
        run.path,
        compile_kwargs={"loss": PinballLoss(config.model.quantiles)},
        validation_data=tf.data.Dataset.from_tensor_slices(
            (validation.ohlcv, validation.scaled_targets(scaler))
        ).batch(batch_size),
        resume=resume,
        app_config=config,
        verbose=verbose,
    )


def forecast(model, ohlcv, batch_size=512):
    """Forecasts in price units for `(N, W, 5)` windows, from a `Forecaster` or an export:
    `{"median", "lower", "upper"}` `(N, H)` and `"quantiles"` `(N, H, Q)`, numpy."""
    outputs = [model(ohlcv[i : i + batch_size]) for i in range(0, len(ohlcv), batch_size)]
    return {key: np.concatenate([np.asarray(o[key]) for o in outputs]) for key in outputs[0]}


def evaluate(run_dir, report_dir, csv=None):
    """The model and the baselines on the test part, per ticker; writes the report.

    Returns the report's tables as `{name: (header, rows)}`.
    """
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    config, scaler, saved = run.config(), run.scaler(), run.data()
    # A file given here brings its own tickers; otherwise the run's data again.
    data = (
        load_data(config, csv, None) if csv else load_data(config, saved["csv"], saved["tickers"])
    )
    data.check_lengths(config.data.window, config.data.horizon)
    windows = make_windows(data, config.data.window, config.data.horizon)
    test = windows["test"]
    predicted = forecast(Forecaster.from_keras(model, scaler, config), test.ohlcv)
    systems = {"model": predicted["median"]}
    systems.update(baselines.predict_all(windows, config.data.horizon))
    garch = baselines.garch_forecasts(data, test, level=interval_level(config.model.quantiles))
    tables, figures_data = baselines.score(
        test,
        systems,
        predicted,
        garch,
        scaler=scaler,
        quantiles=config.model.quantiles,
        normal_width=normal_width(config.model.quantiles),
    )
    report.write(
        report_dir=pathlib.Path(report_dir),
        run=run,
        config=config,
        data=data,
        windows=windows,
        tables=tables,
        figures_data=figures_data,
        predicted=predicted,
    )
    return tables


@dataclasses.dataclass(frozen=True)
class Forecaster:
    """What `predict` calls, from a run or an export.

    Args:
        call: `(N, W, 5)` float32 OHLCV -> dict of numpy forecasts in price units.
        window: Rows per window.
        horizon: Days forecast.
        level: The interval's nominal coverage, e.g. 0.8; None when `call`
            returns it as `level`.
    """

    call: object
    window: int
    horizon: int
    level: float | None

    def __call__(self, ohlcv):
        return {key: np.asarray(value) for key, value in self.call(ohlcv).items()}

    @classmethod
    def from_keras(cls, model, scaler, config):
        return cls(
            forecaster(model, scaler),
            config.data.window,
            config.data.horizon,
            interval_level(config.model.quantiles),
        )

    @classmethod
    def from_export(cls, model, source):
        """From a loaded export or a served model (`seqlib.serving.client.RemoteModel`)."""
        serve = model.signatures["serving_default"]
        spec = serve.structured_input_signature[1]["ohlcv"]
        horizon = serve.structured_outputs["median"].shape[1]
        if "level" in serve.structured_outputs:
            level = None  # each answer says it
        else:  # an export written before the `level` output
            config_file = pathlib.Path(source) / "assets.extra" / "config.json"
            if not config_file.is_file():
                raise ValueError(
                    f"{source} does not say its interval's coverage: export the model again"
                )
            level = interval_level(json.loads(config_file.read_text())["app"]["model"]["quantiles"])

        def call(ohlcv):
            return serve(ohlcv=tf.constant(ohlcv, tf.float32))

        return cls(call, int(spec.shape[1]), int(horizon), level)


class StocksServing(tf.Module):
    """What TensorFlow Serving calls: raw daily rows in, forecasts in price units out.

    `serving_default` takes `ohlcv`, `(batch, W, 5)` float32 rows of open, high,
    low, close and volume, oldest first, with no split inside the window (adjust
    them, or use the `adjusted` signature). `adjusted` takes `ohlcv_adj_close`,
    `(batch, W, 6)`, the same columns and the adjusted close, and adjusts for
    splits and dividends inside the graph, relative to the last row. Both return
    `median`, `lower`, `upper` `(batch, H)` and `quantiles` `(batch, H, Q)` in
    the units of the last row's close, `last_close` `(batch,)`, and `level`
    `(batch,)`, the nominal coverage of [lower, upper] (e.g. 0.8), so that a
    client of the server needs nothing but the answer.
    """

    def __init__(self, model, scaler, window, level):
        super().__init__()
        self.model = model
        self.level = float(level)
        self._forecast = forecaster(model, scaler)
        self.serve = tf.function(
            self._serve, input_signature=[float_input((window, 5), "ohlcv")], autograph=False
        )
        self.serve_adjusted = tf.function(
            self._serve_adjusted,
            input_signature=[float_input((window, 6), "ohlcv_adj_close")],
            autograph=False,
        )

    def _serve(self, ohlcv):
        out = dict(self._forecast(ohlcv))
        out["last_close"] = ohlcv[:, -1, 3]
        out["level"] = tf.fill(tf.shape(ohlcv)[:1], self.level)
        return out

    def _serve_adjusted(self, ohlcv_adj_close):
        rows = tf.cast(ohlcv_adj_close, tf.float64)  # float64: ratios of large volumes
        factors = rows[..., 5] / rows[..., 3]  # (batch, W)
        relative = factors / factors[:, -1:]
        prices = rows[..., :4] * relative[..., None]  # (batch, W, 4)
        volume = rows[..., 4:5] / relative[..., None]  # (batch, W, 1)
        return self._serve(tf.cast(tf.concat([prices, volume], axis=-1), tf.float32))


def export(run_dir, models_dir):
    """Exports the trained model to `models_dir/stocks/<next version>/`."""
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    config = run.config()
    module = StocksServing(
        model, run.scaler(), config.data.window, interval_level(config.model.quantiles)
    )
    return export_for_serving(
        module,
        models_dir,
        "stocks",
        signatures={"serving_default": module.serve, ADJUSTED: module.serve_adjusted},
        extra_assets={
            **run.export_assets(),
            "scaler.json": run.scaler_path.read_text(),
        },
    )


def find_model(model_path, run_dir, models_dir, server=None):
    """What `predict` uses: `--model PATH` (a run or an export, or an export's
    parent), or the model at `--server URL`, else the run's checkpoint, else the
    newest export. Returns `(Forecaster, Run or None)`."""

    def from_run(path):
        run = Run(path)
        return Forecaster.from_keras(run.load_model(), run.scaler(), run.config()), run

    def from_export(model, source):
        return Forecaster.from_export(model, source), None

    return common_run.find_model(
        "stocks", model_path, run_dir, models_dir, from_run, from_export, server
    )


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One ticker's forecast from its last `window` days."""

    ticker: str
    last_date: pd.Timestamp
    last_close: float
    dates: list  # the next weekdays (exchange holidays are not known here)
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float


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


def predict(model, config=None, csv=None, tickers=(), horizon=None):
    """Forecasts the days after the last row of each ticker: of `csv`, or of the
    sample stocks (the run's tickers, or `tickers`). Returns `[Prediction]`."""
    horizon = horizon or model.horizon
    if not 1 <= horizon <= model.horizon:
        raise ValueError(
            f"Expected --horizon from 1 to {model.horizon}, the days this model forecasts. "
            f"Received: horizon={horizon}"
        )
    if csv:
        prices = read_prices(csv)
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
    names, dates, windows = last_windows(prices, model.window)
    out = model(windows)
    predictions = []
    for i, (ticker, date) in enumerate(zip(names, dates)):
        predictions.append(
            Prediction(
                ticker=ticker,
                last_date=date,
                last_close=float(windows[i, -1, 3]),
                dates=list(pd.bdate_range(date + pd.Timedelta(days=1), periods=horizon)),
                median=out["median"][i, :horizon],
                lower=out["lower"][i, :horizon],
                upper=out["upper"][i, :horizon],
                level=model.level if model.level is not None else float(out["level"][i]),
            )
        )
    return predictions
