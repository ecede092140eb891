"""`python -m apps.sentiment <verb>`: the command line of the sentiment app."""

import pathlib
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
from apps.sentiment.config import PRESETS

APP = App(name="sentiment", presets=PRESETS)

DATA_HELP = (
    "Your own CSV instead of the tweets: Sentiment140's layout (no header; polarity 0/4 "
    "first, text last) or a header with `text` and `label` (0/1 or negative/positive)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """Tweet sentiment with a bidirectional seqlib RNN and attention pooling.

    \b
    prepare   fetch the rated tweets, make the fixed split, build the TFDS dataset
    train     train a preset (checkpoints and logs in runs/sentiment/<preset>/)
    evaluate  the model next to TF-IDF + logistic regression and VADER -> reports/sentiment/
    predict   label texts with the trained model or an export
    export    write a SavedModel for TensorFlow Serving -> models/sentiment/<version>/
    """


@cli.command()
@config_options(APP)
@click.option("--data", "data_file", type=click.Path(dir_okay=False), help=DATA_HELP)
@user_errors
def prepare(preset, overrides, data_file):
    """Fetch the data, make (or reuse) the saved split, and show it."""
    config = APP.config(preset, overrides)
    click.echo(APP.pipeline().prepare(config, data_file))


add_train_command(
    cli,
    APP,
    lambda: APP.pipeline().train,
    data_options=[
        click.option("--data", "data_file", type=click.Path(dir_okay=False), help=DATA_HELP)
    ],
)


@cli.command()
@preset_option(APP)
@run_dir_option(APP)
@click.option(
    "--data", "data_file", type=click.Path(dir_okay=False), help="Default: the run's data."
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    help="Default: reports/sentiment.",
)
@user_errors
def evaluate(preset, run_dir, data_file, report_dir):
    """Score the model and the baselines on the test split; write the report."""
    from apps.common.report import markdown_table

    report_dir = report_dir or APP.report_dir()
    rows = APP.pipeline().evaluate(APP.run_dir(preset, run_dir), report_dir, data_file)
    click.echo(markdown_table(["system (test split)", "accuracy", "macro-F1"], rows))
    click.echo(f"report: {report_dir}/report.md")


@cli.command()
@click.argument("texts", nargs=-1)
@click.option(
    "--file", "text_file", type=click.File("r", encoding="utf-8"), help="One text per line."
)
@model_options(APP)
@user_errors
def predict(texts, text_file, model_path, server, preset):
    """Print label, probability and text for TEXTS (or --file)."""
    texts = list(texts)
    if text_file is not None:
        texts += [line.rstrip("\n") for line in text_file if line.strip()]
    if not texts:
        raise click.UsageError('Give texts to label, e.g. predict "what a day!", or --file FILE.')
    pipeline = APP.pipeline()
    model = pipeline.find_model(model_path, APP.run_dir(preset), APP.models_dir(), server)
    for label, probability, text in pipeline.predict(model, texts):
        click.echo(f"{label}\t{probability:.3f}\t{text}")


add_export_command(cli, APP)


def main():
    cli(prog_name=f"{sys.executable.rsplit('/', 1)[-1]} -m apps.sentiment")
