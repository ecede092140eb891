"""`python -m apps.translation <verb>`: the command line of the translation app."""

import pathlib

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
from apps.translation.config import PRESETS

APP = App(name="translation", presets=PRESETS)

DATA_HELP = (
    "Your own pairs instead of Tatoeba's: a UTF-8 file of tab-separated lines, "
    "english<TAB>other[<TAB>attribution] (the layout of manythings.org's files)."
)

cli = app_group(
    APP,
    """Spanish-English translation with a seqlib Seq2Seq, beam search and sacreBLEU.

    \b
    prepare    read Tatoeba's pairs, make the fixed split, build the TFDS dataset
    train      train a preset (checkpoints and logs in runs/translation/<preset>/)
    evaluate   sacreBLEU and chrF on the test split: greedy vs beam, and any
               --compare runs (no attention, reversed source) -> reports/translation/
    translate  translate sentences or a file; --show-attention draws the heat-map
    export     write a SavedModel for TensorFlow Serving -> models/translation/<version>/
    """,
)

add_prepare_command(
    cli,
    APP,
    data_option(DATA_HELP),
    "Read the pairs, make (or reuse) the saved split, and show it.",
)
add_train_command(cli, APP, data=data_option(DATA_HELP))
add_evaluate_command(
    cli,
    APP,
    "sacreBLEU and chrF on the test split, greedy and beam; write the report.",
    data=data_option("Default: the run's data."),
    options=[
        click.option(
            "--compare",
            multiple=True,
            type=click.Path(file_okay=False, exists=True),
            help="Another run to score on the same test set (repeatable), e.g. a model "
            "trained with --set model.attention=none.",
        ),
        click.option(
            "--limit",
            type=click.IntRange(min=0),
            default=0,
            help="Score only the first N test sentences (0 = all).",
        ),
    ],
)


@cli.command()
@click.argument("sentences", nargs=-1)
@click.option(
    "--file",
    "file_path",
    type=click.File("r", encoding="utf-8"),
    help="Translate every line of this file ('-' reads standard input).",
)
@click.option("--beam", type=click.IntRange(min=1), help="Beam width (default: the run's, 5).")
@click.option(
    "--length-penalty",
    type=click.FloatRange(min=0.0),
    help="GNMT alpha (default: the run's, 0.6).",
)
@click.option("--greedy", is_flag=True, help="Greedy search instead of beam search.")
@click.option(
    "--show-attention",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    help="Draw the attention heat-map of the first sentence into this PNG.",
)
@model_options(APP)
@user_errors
def translate(
    sentences, file_path, beam, length_penalty, greedy, show_attention, model_path, server, preset
):
    """Translate SENTENCES (or the lines of --file), one translation per line."""
    sentences = list(sentences)
    if file_path is not None:
        sentences += [line.rstrip("\n") for line in file_path]
    if not sentences:
        raise click.UsageError("Give sentences to translate, or --file FILE.")
    if greedy and beam:
        raise click.UsageError("--greedy and --beam contradict each other.")
    overrides = {}
    if beam:
        overrides["beam_width"] = beam
    if length_penalty is not None:
        overrides["length_penalty"] = length_penalty
    pipeline = APP.pipeline()
    translator = pipeline.find_translator(
        model_path, APP.run_dir(preset), APP.models_dir(), overrides, server
    )
    for text in pipeline.translate(translator, sentences, greedy, show_attention):
        click.echo(text)
    if show_attention:
        click.echo(f"attention: {show_attention}", err=True)


add_export_command(cli, APP)

main = app_main(cli, APP)
