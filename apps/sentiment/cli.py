"""`python -m apps.sentiment <verb>`: the command line of the sentiment app."""

import click

from apps.common.cli import (
    App,
    add_evaluate_command,
    add_export_command,
    add_prepare_command,
    add_seeds_command,
    add_train_command,
    app_group,
    app_main,
    config_options,
    data_option,
    model_options,
    several_runs_options,
    user_errors,
    workdir,
)
from apps.sentiment.config import PRESETS

APP = App(name="sentiment", presets=PRESETS)

DATA_HELP = (
    "Your own CSV instead of the tweets: Sentiment140's layout (no header; polarity 0/4 "
    "first, text last) or a header with `text` and `label` (0/1 or negative/positive)."
)

cli = app_group(
    APP,
    """Tweet sentiment with a bidirectional seqlib RNN and attention pooling.

    \b
    prepare   fetch the rated tweets, make the fixed split, build the TFDS dataset
    pretrain  pretrain the encoder as a language model (when the preset asks for it)
    train     train a preset (checkpoints and logs in runs/sentiment/<preset>/)
    evaluate  the model next to TF-IDF + logistic regression and VADER -> reports/sentiment/
    predict   label texts with the trained model or an export
    export    write a SavedModel for TensorFlow Serving -> models/sentiment/<version>/
    ablations what each ingredient (GloVe, the extra tweets, ...) adds, on validation
    seeds     train the preset with seeds 1, 2, 3, evaluate each; mean and spread
    """,
)

add_prepare_command(
    cli,
    APP,
    data_option(DATA_HELP, file_only=True),
    "Fetch the data, make (or reuse) the saved split, and show it.",
)


@cli.command()
@config_options(APP)
@user_errors
def pretrain(preset, overrides):
    """Pretrain the encoder as a language model on pretrain.corpus (cached under
    data/sentiment/encoders/, keyed by its config; train reuses it)."""
    config = APP.config(preset, overrides)
    if config.pretrain.corpus == "none":
        click.echo("pretrain.corpus is none: nothing to pretrain.")
        return
    APP.pipeline().pretrain(config, say=click.echo)


add_train_command(cli, APP, data=data_option(DATA_HELP, file_only=True))
add_evaluate_command(
    cli,
    APP,
    "Score the model and the baselines on the test split; write the report.",
    data=data_option("Default: the run's data.", file_only=True),
)


@cli.command()
@click.argument("texts", nargs=-1)
@click.option(
    "--file", "text_file", type=click.File("r", encoding="utf-8"), help="One text per line."
)
@click.option(
    "--why",
    is_flag=True,
    help="Also show the words that drove each answer: how much P(positive) drops "
    "(or rises) when the word is left out.",
)
@model_options(APP)
@user_errors
def predict(texts, text_file, why, model_path, server, preset):
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
        if why:
            effects = pipeline.word_effects(model, text)
            shown = ", ".join(f"{word} {effect:+.2f}" for word, effect in effects)
            click.echo(f"\twords that drove it (effect on P(positive)): {shown or '-'}")


add_export_command(cli, APP)


@cli.command()
@config_options(APP)
@several_runs_options(
    APP, "ablations", "Train every variant with each of these seeds (train.seed)."
)
@user_errors
def ablations(preset, overrides, seeds, runs_dir, report_dir):
    """What each ingredient adds: every variant of the preset (no GloVe, no extra
    tweets, pooled labels, ...) trained with several seeds and scored on the
    validation split -> reports/sentiment/ablations/."""
    from apps.sentiment.config import ABLATIONS, LEXICON_ABLATIONS

    pipeline = APP.pipeline()
    pipeline.ablations(
        APP.config(preset, overrides),
        ABLATIONS,
        seeds,
        runs_dir or APP.run_dir("ablations"),
        report_dir or workdir() / "reports" / "sentiment" / "ablations",
        lexicon=LEXICON_ABLATIONS,
        say=click.echo,
    )
    click.echo(f"report: {report_dir or 'reports/sentiment/ablations'}/report.md")


add_seeds_command(
    cli,
    APP,
    "The preset trained with several seeds (finished runs are reused), each "
    "evaluated on the test split and the sets beyond it; the table of each seed, "
    "the mean and the spread -> reports/sentiment/seeds/.",
    options=(data_option(DATA_HELP, file_only=True),),
)


main = app_main(cli, APP)
