"""What the validation period does to the forecast: a shrunk median and calibrated intervals.

The trained network says little about where a price goes next, and something
about how far it may go. Two corrections, both fitted on the validation
period after training and saved with the run (`calibration.json`), keep what
is said honest; `model.forecaster` applies them in the graph, so the export
serves the corrected forecast.

**Shrinkage of the median toward the random walk.** In scaled log-return
space (`model.py`) persistence forecasts 0 and the network forecasts a
correction `m`. Day h ahead uses `lambda_h * m`, and every quantile moves with
the median, so the interval keeps its width. `lambda_h` is the value on a grid
from 0 to 1 with the lowest validation error `|y - lambda m|`, kept only when
it beats persistence by more than twice the standard error of the mean
difference (a Diebold-Mariano test, its variance summed over `h` lags for
the overlap of h-day returns); otherwise it is 0 and the median *is*
persistence. The data must earn any departure from the random walk.

**Conformalised quantile regression** (Romano, Patterson & Candes 2019). On
the validation period, after shrinkage, each example scores
`E = max(lower - y, y - upper)` (negative inside the interval); the offset is
the ceil((n + 1) level)-th smallest score, and the interval becomes
`[lower - offset, upper + offset]`: exchangeable days then fall inside with
probability at least `level`. Offsets are fitted per horizon, pooled over the
tickers and per ticker (`calibration="ticker"` uses a ticker's own when it has
`MIN_TICKER_DAYS` validation days; any other ticker gets the pooled one).
`cross_check` is the evidence for the choice: each half of the validation
period calibrates the other.
"""

import dataclasses
import json
import math

import numpy as np

CALIBRATIONS = ("ticker", "pooled", "none")
SHRINKAGE_GRID = np.linspace(0.0, 1.0, 21)
MIN_TICKER_DAYS = 50


@dataclasses.dataclass(frozen=True)
class Calibration:
    """The corrections of one run, in scaled log-return units (see the module docstring).

    Args:
        level: The interval's nominal coverage, e.g. 0.8.
        shrinkage: `lambda_h` per day ahead, `(H,)`.
        pooled: The conformal offset per day ahead, `(H,)`, for any ticker.
        tickers: `{ticker: (H,) offsets}` for the tickers calibrated on their own.
        days: Validation examples the offsets were fitted on.
    """

    level: float
    shrinkage: tuple[float, ...]
    pooled: tuple[float, ...]
    tickers: dict = dataclasses.field(default_factory=dict)
    days: int = 0

    @classmethod
    def identity(cls, level, horizon):
        """No correction: the network's median and quantiles as they are."""
        return cls(level, (1.0,) * horizon, (0.0,) * horizon)

    def offsets(self, tickers=None):
        """`(N, H)` float32 offsets for `tickers`, or `(1, H)`, the pooled ones, for None."""
        if tickers is None:
            return np.asarray([self.pooled], "float32")
        return np.asarray([self.tickers.get(t, self.pooled) for t in tickers], "float32")

    def to_json(self):
        return json.dumps(
            {**dataclasses.asdict(self), "tickers": {t: list(o) for t, o in self.tickers.items()}},
            indent=1,
        )

    @classmethod
    def from_json(cls, text):
        raw = json.loads(text)
        return cls(
            level=raw["level"],
            shrinkage=tuple(raw["shrinkage"]),
            pooled=tuple(raw["pooled"]),
            tickers={t: tuple(o) for t, o in raw["tickers"].items()},
            days=raw.get("days", 0),
        )


def shift_median(scaled, shrinkage, median_index):
    """Moves every quantile of `(N, H, Q)` by `(lambda_h - 1) * median`, numpy."""
    median = scaled[..., median_index : median_index + 1]
    return scaled + (np.asarray(shrinkage)[None, :, None] - 1.0) * median


def hac_variance_of_mean(d, lags):
    """The variance of the mean of the series `d`, with Bartlett-weighted
    autocovariances up to `lags` (Newey & West 1987)."""
    d = np.asarray(d, "float64") - np.mean(d)
    n = len(d)
    total = d @ d / n
    for lag in range(1, min(lags, n - 1) + 1):
        total += 2.0 * (1.0 - lag / (lags + 1)) * (d[lag:] @ d[:-lag]) / n
    return max(total, 0.0) / n


def choose_shrinkage(median, target, grid=SHRINKAGE_GRID):
    """`lambda_h` per day ahead from validation `(N, H)` medians and targets (scaled)."""
    horizon = median.shape[1]
    chosen = []
    for h in range(horizon):
        base = np.abs(target[:, h])
        differences = [np.abs(target[:, h] - lam * median[:, h]) - base for lam in grid]
        best = int(np.argmin([d.mean() for d in differences]))
        d = differences[best]
        significant = d.mean() + 2.0 * math.sqrt(hac_variance_of_mean(d, lags=h + 1)) < 0.0
        chosen.append(float(grid[best]) if significant else 0.0)
    return tuple(chosen)


def conformity_scores(scaled, target):
    """`max(lower - y, y - upper)`, `(N, H)`: how far outside the interval each target fell."""
    return np.maximum(scaled[..., 0] - target, target - scaled[..., -1])


def conformal_offset(scores, level):
    """The ceil((n + 1) level)-th smallest of `(n, H)` scores, per column (the largest
    when there are too few for that rank)."""
    n = len(scores)
    rank = min(math.ceil((n + 1) * level), n)
    return np.sort(scores, axis=0)[rank - 1]


def apply(scaled, offsets):
    """Widens (or narrows) the outermost levels of `(N, H, Q)` by `(N or 1, H)` offsets;
    never past the next level in, so the quantiles still do not cross."""
    out = np.array(scaled, dtype="float64", copy=True)
    out[..., 0] = np.minimum(out[..., 0] - offsets, out[..., 1])
    out[..., -1] = np.maximum(out[..., -1] + offsets, out[..., -2])
    return out


def fit(scaled, target, tickers, level, median_index, calibration="ticker", shrink=True):
    """The `Calibration` of validation forecasts `(N, H, Q)` and targets `(N, H)` (scaled).

    `calibration` is one of `CALIBRATIONS`; `shrink=False` keeps the network's
    median (lambda = 1).
    """
    horizon = scaled.shape[1]
    if len(scaled) == 0:
        # Nothing to say anything with: the random walk, and the intervals as trained.
        return Calibration(level, (0.0 if shrink else 1.0,) * horizon, (0.0,) * horizon)
    shrinkage = choose_shrinkage(scaled[..., median_index], target) if shrink else (1.0,) * horizon
    shifted = shift_median(scaled, shrinkage, median_index)
    scores = conformity_scores(shifted, target)
    if calibration == "none":
        return Calibration(level, shrinkage, (0.0,) * horizon, days=len(scaled))
    pooled = tuple(float(x) for x in conformal_offset(scores, level))
    own = {}
    if calibration == "ticker":
        for ticker in dict.fromkeys(tickers):
            rows = tickers == ticker
            if rows.sum() >= MIN_TICKER_DAYS:
                own[str(ticker)] = tuple(float(x) for x in conformal_offset(scores[rows], level))
    return Calibration(level, shrinkage, pooled, own, days=len(scaled))


def mean_interval_score(target, lower, upper, level):
    """Mean interval score of central `level` intervals (Gneiting & Raftery 2007, eq. 43):
    `(u - l) + 2/a (l - y)+ + 2/a (y - u)+`, `a = 1 - level`; lower is better."""
    a = 1.0 - level
    return float(
        np.mean(
            (upper - lower)
            + 2.0 / a * np.maximum(lower - target, 0.0)
            + 2.0 / a * np.maximum(target - upper, 0.0)
        )
    )


def interval_score(scaled, target, level):
    """`mean_interval_score` of the outermost levels of `(N, H, Q)`, scaled units."""
    return mean_interval_score(target, scaled[..., 0], scaled[..., -1], level)


def cross_check(scaled, target, tickers, origins, level, median_index):
    """Each half of the validation period (by date) calibrates the other, for each of
    `CALIBRATIONS`. Returns rows `(calibration, mean |coverage - level| over the
    tickers and halves, worst |coverage - level|, interval score)`."""
    if len(scaled) == 0:
        return []
    middle = np.sort(origins)[len(origins) // 2]
    halves = (origins < middle, origins >= middle)
    rows = []
    for calibration in CALIBRATIONS:
        gaps, scores = [], []
        for fit_half, check_half in (halves, halves[::-1]):
            if not fit_half.any() or not check_half.any():
                continue
            fitted = fit(
                scaled[fit_half],
                target[fit_half],
                tickers[fit_half],
                level,
                median_index,
                calibration,
            )
            checked = apply(
                shift_median(scaled[check_half], fitted.shrinkage, median_index),
                fitted.offsets(list(tickers[check_half])),
            )
            inside = (target[check_half] >= checked[..., 0]) & (
                target[check_half] <= checked[..., -1]
            )
            for ticker in dict.fromkeys(tickers[check_half]):
                gaps.append(abs(inside[tickers[check_half] == ticker].mean() - level))
            scores.append(interval_score(checked, target[check_half], level))
        if gaps:
            rows.append(
                (calibration, float(np.mean(gaps)), float(np.max(gaps)), float(np.mean(scores)))
            )
    return rows
