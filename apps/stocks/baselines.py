"""The baselines the model is measured against, and the scores, on the same test examples.

Point forecasts of the close, every day of the horizon, in price units:

- persistence: every future close equals the last one (a random walk's
  forecast, and on daily prices the one to beat);
- moving average: the mean of the last `MOVING_AVERAGE_DAYS` closes;
- ridge autoregression (scikit-learn): the log return from the last close
  to each future day, regressed on the last `AR_LAGS` daily log returns,
  all tickers pooled, fitted on the training examples with its penalty
  chosen by the validation examples' mean absolute error.

Volatility: GARCH(1,1) with a constant mean and normal errors (the `arch`
package), fitted per ticker on the training part's daily log returns, then
run forward with those parameters: each test day's forecast uses the returns
up to its origin and nothing after. Its one-day standard deviation is set next
to the model's, read from the model's interval as if it were normal, and its
normal interval of the same level next to the model's.
"""

import statistics
import warnings

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from apps.stocks.calibration import mean_interval_score
from datasets.stocks_data import adjustment_factors

MOVING_AVERAGE_DAYS = 5
AR_LAGS = 20
RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)

PERSISTENCE = "persistence"
MOVING_AVERAGE = f"moving average ({MOVING_AVERAGE_DAYS} days)"
RIDGE = f"ridge AR({AR_LAGS}) on returns"


def persistence(windows, horizon):
    return np.repeat(windows.last_close[:, None], horizon, axis=1)  # (N, H)


def moving_average(windows, horizon, days=MOVING_AVERAGE_DAYS):
    mean = windows.ohlcv[:, -days:, 3].astype("float64").mean(axis=1)  # (N,)
    return np.repeat(mean[:, None], horizon, axis=1)


def lagged_returns(windows, lags):
    closes = windows.ohlcv[:, -lags - 1 :, 3].astype("float64")  # (N, lags + 1)
    return np.diff(np.log(closes), axis=1)  # (N, lags)


def ridge_autoregression(windows, horizon, lags=AR_LAGS, alphas=RIDGE_ALPHAS):
    """Direct multi-day forecasts from a ridge regression on past returns; see the
    module docstring. Returns `(test forecasts (N, H), chosen alpha)`."""
    lags = min(lags, windows["train"].ohlcv.shape[1] - 1)
    train, validation, test = windows["train"], windows["validation"], windows["test"]

    def fit(alpha):
        return make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(
            lagged_returns(train, lags), train.log_returns
        )

    def validation_error(model):
        predicted = model.predict(lagged_returns(validation, lags))
        return np.abs(predicted - validation.log_returns).mean()

    models = {alpha: fit(alpha) for alpha in alphas}
    alpha = min(alphas, key=lambda a: validation_error(models[a]))
    returns = models[alpha].predict(lagged_returns(test, lags)).reshape(len(test), horizon)
    return test.last_close[:, None] * np.exp(returns), alpha


def predict_all(windows, horizon):
    """`{name: (N, H) test forecasts}` of every point baseline."""
    test = windows["test"]
    ridge, _ = ridge_autoregression(windows, horizon)
    return {
        PERSISTENCE: persistence(test, horizon),
        MOVING_AVERAGE: moving_average(test, horizon),
        RIDGE: ridge,
    }


def garch_forecasts(data, test, level):
    """GARCH(1,1) one-day forecasts for every test example.

    Returns `{"sigma", "lower", "upper"}`, `(N,)` each: the forecast standard
    deviation of the next day's log return, and the normal interval of `level`
    for the next close, in price units; and `"notes"`, one line per ticker whose
    fit did not converge.
    """
    from arch import arch_model

    z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
    sigma = np.full(len(test), np.nan)
    mean = np.full(len(test), np.nan)
    notes = []
    for ticker in dict.fromkeys(test.ticker):
        series = data.series(ticker)
        closes = series["close"].to_numpy("float64") * adjustment_factors(series)
        returns = 100.0 * np.diff(np.log(closes))  # percent; returns[i] ends on day i + 1
        train_returns = int((data.part_of(series["date"])[1:] == 0).sum())
        model = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist="normal")
        with warnings.catch_warnings():
            # Reported below, once per ticker, instead of as a warning per fit.
            warnings.simplefilter("ignore")
            fitted = model.fit(last_obs=train_returns, disp="off", options={"maxiter": 500})
        if fitted.convergence_flag != 0:
            notes.append(f"GARCH(1,1) for {ticker}: the optimizer did not converge")
        # Origin i (the forecast made after returns[i]) forecasts returns[i + 1].
        forecasts = fitted.forecast(horizon=1, start=0, reindex=False)
        variance = forecasts.variance.to_numpy()[:, 0]  # (days - 1,)
        means = forecasts.mean.to_numpy()[:, 0]
        day = {date: i for i, date in enumerate(series["date"].to_numpy())}
        rows = np.flatnonzero(test.ticker == ticker)
        origins = np.array([day[d] - 1 for d in test.origin[rows]])
        sigma[rows] = np.sqrt(variance[origins]) / 100.0
        mean[rows] = means[origins] / 100.0
    last = test.last_close
    return {
        "sigma": sigma,
        "lower": last * np.exp(mean - z * sigma),
        "upper": last * np.exp(mean + z * sigma),
        "notes": notes,
    }


# -- scores -------------------------------------------------------------------


def point_scores(actual, predicted, last_close):
    """MAE, RMSE and directional accuracy (None for a forecast of no change)."""
    error = predicted - actual
    moved = actual != last_close
    direction = np.sign(predicted - last_close)[moved]
    right = direction == np.sign(actual - last_close)[moved]
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "directional": float(right.mean()) if np.any(direction != 0) else None,
    }


def coverage(actual, lower, upper):
    return float(((actual >= lower) & (actual <= upper)).mean())


def qlike(returns, sigma):
    """Mean QLIKE loss of variance forecasts, log(sigma^2) + r^2 / sigma^2: lower is
    better, and the ranking is robust to the noise of r^2 as a proxy (Patton, 2011)."""
    variance = sigma**2
    return float(np.mean(np.log(variance) + returns**2 / variance))


def binomial_band(n, level, confidence=0.95):
    """The central `confidence` range of the coverage of `n` days by an interval of
    nominal `level` that is calibrated: `(low, high)` shares, from the binomial
    distribution's quantiles (e.g. 0.769-0.831 for 650 days at 0.8)."""
    from scipy.stats import binom

    tail = (1.0 - confidence) / 2.0
    return float(binom.ppf(tail, n, level) / n), float(binom.ppf(1.0 - tail, n, level) / n)


def interval_score(actual, lower, upper, level, last_close):
    """`calibration.mean_interval_score` of central `level` intervals in prices, on log
    returns from `last_close` (so tickers of any price compare)."""
    y, lo, up = (np.log(np.asarray(x, "float64") / last_close) for x in (actual, lower, upper))
    return mean_interval_score(y, lo, up, level)


def empirical_intervals(train, test, level):
    """The central `level` interval of each ticker's training-part returns over
    each horizon, from each test origin: `{"lower", "upper"}`, `(N, H)` prices.
    What a forecaster knows who only counts past returns."""
    lower, upper = np.zeros(test.future.shape), np.zeros(test.future.shape)
    tail = (1.0 - level) / 2.0
    for ticker in dict.fromkeys(test.ticker):
        returns = train.log_returns[train.ticker == ticker]  # (n, H)
        rows = test.ticker == ticker
        low, high = np.quantile(returns, [tail, 1.0 - tail], axis=0)  # (H,) each
        lower[rows] = test.last_close[rows, None] * np.exp(low)
        upper[rows] = test.last_close[rows, None] * np.exp(high)
    return {"lower": lower, "upper": upper}


def calibration(test, predicted, garch, empirical, level):
    """Rows per ticker and day ahead, then per ticker over all its days ahead
    (`"1-H"`, the band for its number of days), then all tickers pooled per day:
    days, the model's coverage, the 95 % binomial band around `level` for that
    many days and whether the coverage is inside it, and the interval scores of
    the model, of the empirical intervals and (day 1 only) of GARCH(1,1)."""
    rows = []
    horizon = test.future.shape[1]
    groups = [(t, test.ticker == t) for t in dict.fromkeys(test.ticker)]
    groups.append(("all", np.ones(len(test), bool)))
    systems = ((predicted["lower"], predicted["upper"]), (empirical["lower"], empirical["upper"]))
    for name, mask in groups:
        actual, last = test.future[mask], test.last_close[mask]
        days = int(mask.sum())
        low, high = binomial_band(days, level)
        covers, scores = [], []
        for h in range(horizon):
            y = actual[:, h]
            covers.append(coverage(y, predicted["lower"][mask, h], predicted["upper"][mask, h]))
            scores.append(
                [
                    interval_score(y, lower[mask, h], upper[mask, h], level, last)
                    for lower, upper in systems
                ]
            )
            day_one = interval_score(y, garch["lower"][mask], garch["upper"][mask], level, last)
            inside = "yes" if low <= covers[-1] <= high else "no"
            rows.append(
                (
                    name,
                    str(h + 1),
                    days,
                    covers[-1],
                    f"{low:.3f}-{high:.3f}",
                    inside,
                    *scores[-1],
                    day_one if h == 0 else "-",
                )
            )
        if name != "all" and horizon > 1:
            cover = float(np.mean(covers))
            inside = "yes" if low <= cover <= high else "no"
            rows.append(
                (
                    name,
                    f"1-{horizon}",
                    days,
                    cover,
                    f"{low:.3f}-{high:.3f}",
                    inside,
                    *np.mean(scores, axis=0).tolist(),
                    "-",
                )
            )
    return rows


def score(test, systems, predicted, garch, scaler, quantiles, normal_width, empirical=None):
    """Per-ticker and per-day scores on the test examples.

    Args:
        test: The test `Windows`.
        systems: `{name: (N, H) forecasts}`, the model's median first and
            persistence among them.
        predicted: The model's forecasts (`lower`, `upper`, `quantiles`).
        garch: `garch_forecasts`' output.
        scaler: The run's scaling (for the model's volatility).
        quantiles: The model's levels.
        normal_width: Standard deviations between the outermost levels of a normal.
        empirical: `empirical_intervals`' output, for the calibration table; None
            leaves that table out.

    Returns:
        `(tables, figures)`: `tables` maps a name to `(header, rows)` for the
        report; `figures` holds the per-day arrays the figures plot.
    """
    level = round(quantiles[-1] - quantiles[0], 6)
    horizon = test.future.shape[1]
    names = list(systems)
    point_rows, interval_rows = [], []
    ratios = {name: np.zeros(horizon) for name in names}
    tickers = list(dict.fromkeys(test.ticker))
    for ticker in tickers:
        rows = test.ticker == ticker
        actual, last = test.future[rows], test.last_close[rows]
        base = point_scores(actual[:, 0], systems[PERSISTENCE][rows, 0], last)["mae"]
        for name in names:
            scores = point_scores(actual[:, 0], systems[name][rows, 0], last)
            direction = scores["directional"]
            point_rows.append(
                (
                    ticker,
                    name,
                    scores["mae"],
                    scores["rmse"],
                    "n/a" if direction is None else direction,
                    scores["mae"] / base,
                )
            )
            for h in range(horizon):
                mae = np.abs(systems[name][rows, h] - actual[:, h]).mean()
                ratios[name][h] += mae / np.abs(last - actual[:, h]).mean() / len(tickers)
        returns = np.log(actual[:, 0] / last)  # (n,) next-day log returns
        # The model's one-day deviation: its interval, read as a normal one.
        width = np.log(predicted["upper"][rows, 0] / predicted["lower"][rows, 0])
        model_sigma = width / normal_width
        up = float((returns[returns != 0] > 0).mean())
        interval_rows.append(
            (
                ticker,
                coverage(actual[:, 0], predicted["lower"][rows, 0], predicted["upper"][rows, 0]),
                coverage(actual[:, 0], garch["lower"][rows], garch["upper"][rows]),
                qlike(returns, model_sigma),
                qlike(returns, garch["sigma"][rows]),
                float(model_sigma.mean()),
                float(garch["sigma"][rows].mean()),
                float(np.sqrt(np.mean(returns**2))),
                up,
            )
        )

    by_day = []
    for h in range(horizon):
        actual, last = test.future[:, h], test.last_close
        direction = point_scores(actual, systems[names[0]][:, h], last)["directional"]
        by_day.append(
            (
                h + 1,
                *(float(ratios[name][h]) for name in names if name != PERSISTENCE),
                coverage(actual, predicted["lower"][:, h], predicted["upper"][:, h]),
                direction,
            )
        )
    pct = f"{level:.0%}"
    tables = {
        "point": (
            ["ticker", "system", "MAE", "RMSE", "directional accuracy", "MAE / persistence MAE"],
            point_rows,
        ),
        "interval": (
            [
                "ticker",
                f"model {pct} coverage",
                f"GARCH {pct} coverage",
                "model QLIKE",
                "GARCH QLIKE",
                "model mean sigma",
                "GARCH mean sigma",
                "realized sigma",
                "share of up days",
            ],
            interval_rows,
        ),
        "by_day": (
            [
                "day ahead",
                *(f"{name} / persistence MAE" for name in names if name != PERSISTENCE),
                f"model {pct} coverage",
                "model directional accuracy",
            ],
            by_day,
        ),
    }
    if empirical is not None:
        tables["calibration"] = (
            [
                "ticker",
                "day ahead",
                "days",
                f"model {pct} coverage",
                "95 % binomial band",
                "inside",
                "model interval score",
                "empirical interval score",
                "GARCH interval score",
            ],
            calibration(test, predicted, garch, empirical, level),
        )
    figures = {
        "ratios": ratios,
        "level": level,
        "by_day": by_day,
        "names": names,
        "notes": garch["notes"],
    }
    return tables, figures
