"""`python -m apps.stocks <verb>`: the command line of the stock app."""

import click

from apps.common.cli import (
    App,
    add_evaluate_command,
    add_export_command,
    add_prepare_command,
    add_train_command,
    app_group,
    app_main,
    data_option,
    model_options,
    user_errors,
)
from apps.stocks.config import PRESETS

APP = App(name="stocks", presets=PRESETS)

CSV_HELP = (
    "Your own daily prices instead of the sample stocks: a CSV file (or .csv.gz) with Date, "
    "Open, High, Low, Close, Volume, optionally Adj Close, and a Ticker column for several "
    "series; oldest first."
)


def _data_option(help_text=CSV_HELP):
    """`--data FILE`; `--csv`, its older name, still works."""
    return data_option(help_text, alias="--csv", file_only=True)


cli = app_group(
    APP,
    """Daily stock forecasts with a seqlib GRU / LSTM: a median and an interval per day.

    \b
    prepare   fetch the sample stocks, cut the chronological split, build the TFDS dataset
    train     train a preset (checkpoints and logs in runs/stocks/<preset>/)
    evaluate  the model next to persistence, moving average, ridge AR and GARCH(1,1)
              on the test period -> reports/stocks/
    predict   forecast the days after the last row of a ticker or a CSV file
    export    write a SavedModel for TensorFlow Serving -> models/stocks/<version>/
    """,
)

add_prepare_command(
    cli, APP, _data_option(), "Fetch the data, cut (or reuse) the saved split, and show it."
)
add_train_command(cli, APP, data=_data_option())
add_evaluate_command(
    cli,
    APP,
    "Score the model and the baselines per ticker on the test period; write the report.",
    data=_data_option("Default: the data the run was trained on."),
)


@cli.command()
@click.option(
    "--ticker",
    "tickers",
    multiple=True,
    metavar="NAME",
    help="A ticker of the sample stocks (or of --data); repeatable. Default: all of them.",
)
@_data_option("Forecast from the last rows of this file (same columns as for training).")
@click.option(
    "--horizon",
    type=click.IntRange(min=1),
    help="Days to print (at most the model's horizon; default: all of them).",
)
@model_options(APP)
@user_errors
def predict(tickers, data, horizon, model_path, server, preset):
    """Print the median forecast and its interval for each of the next days.

    The dates are the weekdays after the last row; exchange holidays are not
    skipped. Prices are in the units of the last close.
    """
    pipeline = APP.pipeline()
    model, run = pipeline.find_model(model_path, APP.run_dir(preset), APP.models_dir(), server)
    config = run.config() if run is not None else None
    predictions = pipeline.predict(
        model, config=config, data=data, tickers=list(tickers), horizon=horizon
    )
    for p in predictions:
        click.echo(f"{p.ticker}: last close {p.last_close:.2f} on {p.last_date.date()}")
        click.echo(f"  day  date          median   {p.level:.0%} interval")
        for day, (date, median, lower, upper) in enumerate(
            zip(p.dates, p.median, p.lower, p.upper), start=1
        ):
            click.echo(f"  +{day:<3} {date.date()}  {median:>8.2f}   [{lower:.2f}, {upper:.2f}]")


add_export_command(cli, APP)

main = app_main(cli, APP)
