"""The stock app's verbs: prepare, train, evaluate, predict, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/stocks/<preset>/` (the runner's checkpoints, logs and history,
plus `scaler.json`, `data.json` and `calibration.json`), so later verbs
rebuild exactly the model that was trained, with the scaling it was trained
with and the calibration fitted after it (`apps.stocks.calibration`). How the data are cut
so that no test-period value reaches training: `apps.stocks.data`.
"""

import dataclasses
import json
import pathlib

import numpy as np
import pandas as pd

from apps.common import run as common_run
from apps.stocks import baselines, calibration, report
from apps.stocks.config import StocksConfig
from apps.stocks.data import (
    PARTS,
    fit_scaler,
    last_windows,
    latest_prices,
    load_data,
    make_windows,
    training_batches,
    validation_batches,
)
from apps.stocks.model import PinballLoss, build_model, interval_level, normal_width
from apps.stocks.serving import ADJUSTED, BY_TICKER, Forecaster, StocksServing, forecast
from datasets.saved_split import write_atomic
from datasets.stocks_data import COLUMNS
from seqlib.export import export_for_serving
from seqlib.training import make_strategy
from seqlib.training import train as run_training

# The playground's sample tickers (`serving/playground/js/stocks.js` reads them):
# written by `prepare` from the sample stocks, git-ignored like the data.
PLAYGROUND_SAMPLES = (
    pathlib.Path(__file__).resolve().parents[2] / "serving/playground/samples/stocks.csv"
)
PLAYGROUND_DAYS = 160


class Run(common_run.Run):
    """A stocks run: the runner's files plus `scaler.json`, `data.json` and
    `calibration.json`."""

    app = "stocks"
    config_class = StocksConfig

    @property
    def scaler_path(self):
        return self.path / "scaler.json"

    def scaler(self):
        return json.loads(self.scaler_path.read_text())

    def data(self):
        """`{"data": path or None, "tickers": [...]}`: what the run was trained on."""
        return {"data": None, "tickers": None, **super().data()}

    def build_model(self):
        return build_model(self.config(), self.scaler())

    @property
    def calibration_path(self):
        return self.path / "calibration.json"

    def calibration(self, model=None):
        """The run's `Calibration`, fitted on the validation period (and saved) when
        the run has none yet."""
        if not self.calibration_path.is_file():
            calibrate(self, model or self.load_model())
        return calibration.Calibration.from_json(self.calibration_path.read_text())

    def forecaster(self, model=None):
        model = model or self.load_model()
        return Forecaster.from_keras(model, self.scaler(), self.config(), self.calibration(model))


def calibrate(run, model, windows=None):
    """Fits the run's shrinkage and conformal offsets on the validation period and
    saves them; returns the cross-check rows (`calibration.cross_check`)."""
    config, scaler = run.config(), run.scaler()
    if windows is None:
        saved = run.data()
        prices = load_data(config, saved["data"], saved["tickers"])
        windows = make_windows(prices, config.data.window, config.data.horizon)
    validation = windows["validation"]
    scaled = np.asarray(model.predict(validation.ohlcv, batch_size=512, verbose=0), "float64")
    target = validation.scaled_targets(scaler).astype("float64")
    quantiles = config.model.quantiles
    median_index = quantiles.index(0.5)
    fitted = calibration.fit(
        scaled,
        target,
        validation.ticker,
        interval_level(quantiles),
        median_index,
        config.model.calibration,
        config.model.shrinkage,
    )
    write_atomic(run.calibration_path, fitted.to_json() + "\n")
    return calibration.cross_check(
        scaled,
        target,
        validation.ticker,
        validation.origin,
        interval_level(quantiles),
        median_index,
    )


# -- verbs --------------------------------------------------------------------


def prepare(config, data=None, build_tfds=True):
    """Fetches the data, cuts (or reads) the saved split, builds the TFDS dataset,
    and returns the description of the parts. The sample stocks (no `data`) also
    give the playground its sample tickers: the last `PLAYGROUND_DAYS` of each, in
    `PLAYGROUND_SAMPLES`."""
    prices = load_data(config, data)
    prices.check_lengths(config.data.window, config.data.horizon)
    if build_tfds and not data:
        from datasets.stock_prices import build_tfds as build

        build()
    windows = make_windows(prices, config.data.window, config.data.horizon)
    counts = ", ".join(f"{name} {len(windows[name])}" for name in PARTS)
    description = (
        f"{prices.describe()}\n"
        f"examples (window {config.data.window} days, horizon {config.data.horizon}): {counts}"
    )
    if data:
        return description
    # The last days of each ticker, in the columns of the sample file.
    rows = prices.prices.groupby("ticker").tail(PLAYGROUND_DAYS).astype({"volume": "int64"})
    rows = rows.sort_values(["ticker", "date"], kind="stable")[list(COLUMNS)]
    rows.columns = ["Ticker", "Date", "Open", "High", "Low", "Close", "Volume", "Adj Close"]
    write_atomic(PLAYGROUND_SAMPLES, rows.to_csv(index=False, date_format="%Y-%m-%d"))
    return f"{description}\nplayground sample prices: {PLAYGROUND_SAMPLES}"


def train(config, run_dir, data=None, resume=False, verbose="auto"):
    """Trains with `seqlib.training.train` on the sample stocks, or on the user's
    CSV file `data`; returns its `TrainResult`."""
    if config.train.strategy == "multiworker":
        # Collective ops are configured at startup: the strategy comes first.
        make_strategy("multiworker")
    run = Run(pathlib.Path(run_dir))
    resuming = run.begin_training(config, resume)
    prices = load_data(config, data)
    prices.check_lengths(config.data.window, config.data.horizon)
    if resuming:
        scaler = run.scaler()
    else:
        scaler = fit_scaler(prices)
        run.save_data(data, tickers=prices.tickers)
        run.scaler_path.write_text(json.dumps(scaler, indent=1) + "\n")

    windows = make_windows(prices, config.data.window, config.data.horizon)
    result = run_training(
        lambda: build_model(config, scaler),
        training_batches(config, windows, scaler),
        config.train,
        run.path,
        compile_kwargs={"loss": PinballLoss(config.model.quantiles)},
        validation_data=validation_batches(config, windows, scaler),
        resume=resume,
        app_config=config,
        verbose=verbose,
    )
    calibrate(run, run.load_model(), windows)
    return result


def evaluate(run_dir, report_dir, data=None, say=print):
    """The model and the baselines on the test part, per ticker; writes the report.
    `data` is a CSV file to evaluate on instead of the run's data (it brings its
    own tickers); `say` prints progress (there is none to print).

    Returns the report's tables as `{name: (header, rows)}`.
    """
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    config, scaler, saved = run.config(), run.scaler(), run.data()
    prices = (
        load_data(config, data, None)
        if data
        else load_data(config, saved["data"], saved["tickers"])
    )
    prices.check_lengths(config.data.window, config.data.horizon)
    windows = make_windows(prices, config.data.window, config.data.horizon)
    test = windows["test"]
    # The run's own data: the calibration is fitted again (the same), with its evidence.
    checks = None if data else calibrate(run, model, windows)
    predicted = forecast(run.forecaster(model), test.ohlcv, test.ticker)
    systems = {"model": predicted["median"]}
    systems.update(baselines.predict_all(windows, config.data.horizon))
    garch = baselines.garch_forecasts(prices, test, level=interval_level(config.model.quantiles))
    tables, figures_data = baselines.score(
        test,
        systems,
        predicted,
        garch,
        scaler=scaler,
        quantiles=config.model.quantiles,
        normal_width=normal_width(config.model.quantiles),
        empirical=baselines.empirical_intervals(
            windows["train"], test, interval_level(config.model.quantiles)
        ),
    )
    tables["corrections"] = report.corrections_table(run.calibration(model))
    if checks:
        tables["calibration_choice"] = (
            [
                "calibration",
                "mean gap, coverage to level",
                "worst gap",
                "interval score (scaled)",
            ],
            checks,
        )
    report.write(
        report_dir=pathlib.Path(report_dir),
        run=run,
        config=config,
        data=prices,
        windows=windows,
        tables=tables,
        figures_data=figures_data,
        predicted=predicted,
    )
    return tables


def export(run_dir, models_dir):
    """Exports the trained model to `models_dir/stocks/<next version>/`."""
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    config = run.config()
    module = StocksServing(
        model,
        run.scaler(),
        config.data.window,
        interval_level(config.model.quantiles),
        run.calibration(model),
    )
    return export_for_serving(
        module,
        models_dir,
        "stocks",
        signatures={
            "serving_default": module.serve,
            ADJUSTED: module.serve_adjusted,
            BY_TICKER: module.serve_by_ticker,
        },
        extra_assets={
            **run.export_assets(),
            "scaler.json": run.scaler_path.read_text(),
            "calibration.json": run.calibration_path.read_text(),
        },
    )


def find_model(model_path, run_dir, models_dir, server=None):
    """What `predict` uses: `--model PATH` (a run or an export, or an export's
    parent), or the model at `--server URL`, else the run's checkpoint, else the
    newest export. Returns `(Forecaster, Run or None)`."""

    def from_run(path):
        run = Run(path)
        return run.forecaster(), run

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


def predict(model, config=None, data=None, tickers=(), horizon=None):
    """Forecasts the days after the last row of each ticker: of the CSV file
    `data`, or of the sample stocks (the run's tickers, or `tickers`). Returns
    `[Prediction]`."""
    horizon = horizon or model.horizon
    if not 1 <= horizon <= model.horizon:
        raise ValueError(
            f"Expected --horizon from 1 to {model.horizon}, the days this model forecasts. "
            f"Received: horizon={horizon}"
        )
    prices = latest_prices(config, data, tickers)
    names, dates, windows = last_windows(prices, model.window)
    out = model(windows, names)
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
