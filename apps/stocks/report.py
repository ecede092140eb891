"""`reports/stocks/`: the markdown report and its figures, and `summary`, the
tables `evaluate` prints."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from apps.common.report import git_commit, markdown_table, plot_training_curves, write_report  # noqa: E402
from apps.stocks.baselines import (  # noqa: E402
    AR_LAGS,
    MOVING_AVERAGE,
    MOVING_AVERAGE_DAYS,
    PERSISTENCE,
    RIDGE,
    RIDGE_ALPHAS,
)

SHOWN_DAYS = 120  # the last days of the test part in the forecast plots


def plot_forecasts(test, predicted, path, level, days=SHOWN_DAYS):
    """Next-day median and interval against the actual close, one panel per ticker."""
    tickers = list(dict.fromkeys(test.ticker))
    fig, axes = plt.subplots(len(tickers), 1, figsize=(10, 2.6 * len(tickers)), squeeze=False)
    for ax, ticker in zip(axes[:, 0], tickers):
        rows = np.flatnonzero(test.ticker == ticker)[-days:]
        dates = test.dates[rows, 0]
        ax.fill_between(
            dates,
            predicted["lower"][rows, 0],
            predicted["upper"][rows, 0],
            color="tab:blue",
            alpha=0.25,
            label=f"model {level:.0%} interval",
        )
        ax.plot(dates, predicted["median"][rows, 0], color="tab:blue", lw=1.2, label="model median")
        ax.plot(dates, test.future[rows, 0], color="black", lw=1.0, label="actual close")
        ax.set_title(f"{ticker}: next-day forecast, last {len(rows)} test days", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_by_day(figures, path):
    """MAE relative to persistence (all systems, then a close-up of those near 1), and
    the interval's coverage, for each day ahead."""
    by_day = figures["by_day"]
    days = [row[0] for row in by_day]
    others = [name for name in figures["names"] if name != PERSISTENCE]
    near = [name for name in others if np.all(np.abs(figures["ratios"][name] - 1.0) < 0.1)]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, names, title in (
        (axes[0], others, "MAE / persistence MAE"),
        (axes[1], near, "the same, close up"),
    ):
        for name in names:
            ax.plot(days, figures["ratios"][name], "o-", label=name)
        ax.axhline(1.0, color="black", lw=0.8, ls="--", label=PERSISTENCE)
        ax.set_title(f"{title} (mean over tickers)", fontsize=10)
    coverage = [row[1 + len(others)] for row in by_day]
    axes[2].plot(days, coverage, "o-", label="model")
    axes[2].axhline(figures["level"], color="black", lw=0.8, ls="--", label="nominal")
    axes[2].set_ylim(0, 1)
    axes[2].set_title(f"coverage of the {figures['level']:.0%} interval", fontsize=10)
    for ax in axes:
        ax.set_xlabel("trading days ahead")
        ax.set_xticks(days)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(tables):
    """What `evaluate` prints: the next-day point and interval tables, per ticker."""
    return f"{markdown_table(*tables['point'])}\n\n{markdown_table(*tables['interval'])}"


def corrections_table(calibration):
    """`(header, rows)`: the shrinkage and conformal offsets per day ahead, pooled and
    per ticker (`apps.stocks.calibration`)."""
    horizon = len(calibration.shrinkage)
    rows = [("median shrinkage (lambda)", *calibration.shrinkage)]
    rows.append(("interval offset, pooled (scaled)", *calibration.pooled))
    rows.extend(
        (f"interval offset, {ticker} (scaled)", *offsets)
        for ticker, offsets in calibration.tickers.items()
    )
    return ["correction", *(f"day {h + 1}" for h in range(horizon))], rows


def findings(tables, level):
    """What the numbers say, computed from them (never more)."""
    point = tables["point"][1]
    interval = tables["interval"][1]
    model = [row for row in point if row[1] == "model"]
    ridge = [row for row in point if row[1] == RIDGE]
    ratios = [row[5] for row in model]
    below = [row[0] for row in model if row[5] < 1.0]
    model_cov = [row[1] for row in interval]
    garch_cov = [row[2] for row in interval]
    better_vol = [row[0] for row in interval if row[3] < row[4]]
    up_share = {row[0]: row[8] for row in interval}
    directed = [row for row in model if not isinstance(row[4], str)]
    directions = [row[4] for row in directed]
    above_up = [row[0] for row in directed if row[4] > up_share[row[0]]]
    lines = [
        f"- Next-day MAE of the model's median / persistence MAE: "
        f"{min(ratios):.3f} to {max(ratios):.3f}; below 1.00 on {len(below)} of {len(model)} "
        f"tickers{' (' + ', '.join(below) + ')' if below else ''}. The ridge autoregression: "
        f"{min(r[5] for r in ridge):.3f} to {max(r[5] for r in ridge):.3f}.",
        f"- Coverage of the model's {level:.0%} interval on the next day: "
        f"{min(model_cov):.1%} to {max(model_cov):.1%} (GARCH(1,1)'s normal interval: "
        f"{min(garch_cov):.1%} to {max(garch_cov):.1%}).",
        f"- Volatility (QLIKE, lower is better): the model beats GARCH(1,1) on "
        f"{len(better_vol)} of {len(interval)} tickers"
        f"{' (' + ', '.join(better_vol) + ')' if better_vol else ''}.",
        (
            f"- Next-day directional accuracy of the median: {min(directions):.1%} to "
            f"{max(directions):.1%}; above the share of up days (what 'always up' scores) on "
            f"{len(above_up)} of {len(directed)} tickers"
            f"{' (' + ', '.join(above_up) + ')' if above_up else ''}."
            if directions
            else "- The next-day median is persistence (its shrinkage is 0: the network's "
            "correction did not beat the random walk on the validation period), so it has no "
            "direction."
        ),
    ]
    return "\n".join(lines)


def write(report_dir, run, config, data, windows, tables, figures_data, predicted):
    """Writes report.md, metrics.json and the figures; returns the report's path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    level = figures_data["level"]
    test = windows["test"]
    plot_forecasts(test, predicted, report_dir / "forecast_vs_actual.png", level)
    plot_by_day(figures_data, report_dir / "error_by_horizon.png")
    curves = plot_training_curves(
        run.path, report_dir, title="stocks: pinball loss (scaled returns)"
    )
    metrics = {
        name: [dict(zip(header, row)) for row in rows] for name, (header, rows) in tables.items()
    }
    (report_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    ranges = data.date_ranges()
    first, last = ranges["test"]
    counts = {name: len(w) for name, w in windows.items()}
    lines = [
        "# Stock forecasting: model vs baselines",
        "",
        f"Commit `{git_commit()}`, run `{run.path}`. Data: {data.source}. Test part "
        f"{first.date()} .. {last.date()}: {counts['test']} forecasts (one per ticker and "
        f"origin day), the same for every system below. Prices are as quoted on each "
        "forecast's origin day (split- and dividend-adjusted within the window).",
        "",
        findings(tables, level),
        *(f"- {note}" for note in figures_data["notes"]),
        "",
        "## Next-day close, per ticker",
        "",
        markdown_table(*tables["point"]),
        "",
        f"The model is a seqlib {config.model.cell.upper()} ({config.model.layers} x "
        f"{config.model.units} units) over {config.data.window} days of OHLCV features, "
        f"forecasting quantiles {', '.join(f'{q:g}' for q in config.model.quantiles)} of the "
        f"next {config.data.horizon} closes; its point forecast is the median. "
        f"{MOVING_AVERAGE}: the mean of the last {MOVING_AVERAGE_DAYS} closes. {RIDGE}: scikit-learn's ridge "
        f"regression on the last {AR_LAGS} daily log returns (penalty from "
        f"{', '.join(f'{a:g}' for a in RIDGE_ALPHAS)}, chosen on the validation part). "
        "Persistence forecasts no change, so it has no direction.",
        "",
        "## Interval and volatility, next day",
        "",
        markdown_table(*tables["interval"]),
        "",
        f"Coverage: the share of test days whose close fell inside the {level:.0%} interval. "
        "sigma: the forecast standard deviation of the next day's log return; the model's is "
        "its interval's width read as a normal interval's. GARCH(1,1) (constant mean, normal "
        "errors, `arch`) is fitted on each ticker's training part and run forward with those "
        "parameters. Realized sigma: the root mean square of the test days' log returns.",
        "",
        "## By day ahead (all tickers)",
        "",
        markdown_table(*tables["by_day"]),
        "",
        *(
            [
                "## Calibration, per ticker and day ahead",
                "",
                markdown_table(*tables["calibration"]),
                "",
                f"Inside: the coverage lies in the central 95 % of what a calibrated {level:.0%} "
                "interval would give over that many days (binomial). Interval score (Gneiting "
                "& Raftery 2007), on log returns from the origin's close: the width, plus "
                f"{2 / (1 - level):g} times how far the close fell outside; lower is better. "
                "Empirical: the central interval of the ticker's training-part returns over "
                "the same number of days. GARCH(1,1) forecasts the next day only.",
                "",
            ]
            if "calibration" in tables
            else []
        ),
        "## What the validation period corrects",
        "",
        markdown_table(*tables["corrections"]),
        "",
        "Fitted on the validation period after training (`apps/stocks/calibration.py`), in "
        "units of the scaled log return (the return over h days divided by the training "
        "part's daily deviation times sqrt(h)). Shrinkage: the share of the network's "
        "correction to the random walk that the median keeps; 0 unless it beat persistence "
        "on the validation period by more than twice its standard error. Offsets: "
        "conformalised quantile regression (Romano, Patterson & Candes 2019), added to each "
        "side of the interval (negative narrows it).",
        "",
        *(
            [
                markdown_table(*tables["calibration_choice"]),
                "",
                "Each half of the validation period (by date) calibrates the other: the "
                f"tickers' coverage against {level:.0%} and the interval score, for each "
                f"way to calibrate. This run uses `{config.model.calibration}`.",
                "",
            ]
            if "calibration_choice" in tables
            else []
        ),
        "![error by horizon](error_by_horizon.png)",
        "",
        "## Forecasts against the actual closes",
        "",
        "![forecast vs actual](forecast_vs_actual.png)",
        "",
        "## Parts",
        "",
        "```",
        data.describe(),
        f"examples: {', '.join(f'{name} {n}' for name, n in counts.items())}",
        "```",
        "",
        "Examples are windows ending on an origin day with the next days' closes; each "
        "belongs to the part that holds all its forecast days. Scaling is fitted on the "
        "training part only.",
        "",
        "## Training curves",
        "",
        f"![training curves]({curves})",
        "",
    ]
    return write_report(report_dir, lines, config)
