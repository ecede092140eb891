"""`python -m apps.stocks <verb>`: the command line of the stock app."""

import sys

import click

from apps.common.cli import (
    App,
    add_export_command,
    add_train_command,
    config_options,
    model_options,
    preset_option,
    run_dir_option,
    user_errors,
)
from apps.stocks.config import PRESETS

APP = App(name="stocks", presets=PRESETS)

CSV_HELP = (
    "Your own daily prices instead of the sample stocks: a CSV file (or .csv.gz) with Date, "
    "Open, High, Low, Close, Volume, optionally Adj Close, and a Ticker column for several "
    "series; oldest first."
)


def _csv_option(help_text=CSV_HELP):
    return click.option("--csv", "csv", type=click.Path(dir_okay=False), help=help_text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """Daily stock forecasts with a seqlib GRU / LSTM: a median and an interval per day.

    \b
    prepare   fetch the sample stocks, cut the chronological split, build the TFDS dataset
    train     train a preset (checkpoints and logs in runs/stocks/<preset>/)
    evaluate  the model next to persistence, moving average, ridge AR and GARCH(1,1)
              on the test period -> reports/stocks/
    predict   forecast the days after the last row of a ticker or a CSV file
    export    write a SavedModel for TensorFlow Serving -> models/stocks/<version>/
    """


@cli.command()
@config_options(APP)
@_csv_option()
@user_errors
def prepare(preset, overrides, csv):
    """Fetch the data, cut (or reuse) the saved split, and show it."""
    config = APP.config(preset, overrides)
    click.echo(APP.pipeline().prepare(config, csv))


add_train_command(cli, APP, lambda: APP.pipeline().train, data_options=[_csv_option()])


@cli.command()
@preset_option(APP)
@run_dir_option(APP)
@_csv_option("Default: the data the run was trained on.")
@click.option("--report-dir", type=click.Path(file_okay=False), help="Default: reports/stocks.")
@user_errors
def evaluate(preset, run_dir, csv, report_dir):
    """Score the model and the baselines per ticker on the test period; write the report."""
    from apps.common.report import markdown_table

    report_dir = report_dir or APP.report_dir()
    tables = APP.pipeline().evaluate(APP.run_dir(preset, run_dir), report_dir, csv)
    header, rows = tables["point"]
    click.echo(markdown_table(header, rows))
    click.echo()
    header, rows = tables["interval"]
    click.echo(markdown_table(header, rows))
    click.echo(f"report: {report_dir}/report.md")


@cli.command()
@click.option(
    "--ticker",
    "tickers",
    multiple=True,
    metavar="NAME",
    help="A ticker of the sample stocks (or of --csv); repeatable. Default: all of them.",
)
@_csv_option("Forecast from the last rows of this file (same columns as for training).")
@click.option(
    "--horizon",
    type=click.IntRange(min=1),
    help="Days to print (at most the model's horizon; default: all of them).",
)
@model_options(APP)
@user_errors
def predict(tickers, csv, horizon, model_path, server, preset):
    """Print the median forecast and its interval for each of the next days.

    The dates are the weekdays after the last row; exchange holidays are not
    skipped. Prices are in the units of the last close.
    """
    pipeline = APP.pipeline()
    model, run = pipeline.find_model(model_path, APP.run_dir(preset), APP.models_dir(), server)
    config = run.config() if run is not None else None
    predictions = pipeline.predict(
        model, config=config, csv=csv, tickers=list(tickers), horizon=horizon
    )
    for p in predictions:
        click.echo(f"{p.ticker}: last close {p.last_close:.2f} on {p.last_date.date()}")
        click.echo(f"  day  date          median   {p.level:.0%} interval")
        for day, (date, median, lower, upper) in enumerate(
            zip(p.dates, p.median, p.lower, p.upper), start=1
        ):
            click.echo(f"  +{day:<3} {date.date()}  {median:>8.2f}   [{lower:.2f}, {upper:.2f}]")


add_export_command(cli, APP)


def main():
    cli(prog_name=f"{sys.executable.rsplit('/', 1)[-1]} -m apps.stocks")
