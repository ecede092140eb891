"""`python -m apps.music <verb>`: the command line of the music app."""

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
from apps.music.config import PRESETS

APP = App(name="music", presets=PRESETS)

DATA_HELP = (
    "Your own tunes instead of music21's corpus: an .abc file, or a folder searched for "
    "*.abc files. Files that cannot be read or hold no X: tune are reported and skipped."
)

cli = app_group(
    APP,
    """Character-level ABC tunes with a stacked seqlib LSTM.

    \b
    prepare   read music21's ABC corpus, make the fixed split, build the TFDS dataset
    train     train a preset (checkpoints and logs in runs/music/<preset>/)
    evaluate  bits per character next to an n-gram; sampled tunes checked by music21
              -> reports/music/
    generate  sample tunes: .abc, .mid and a piano-roll .png each
    export    write a SavedModel for TensorFlow Serving -> models/music/<version>/
    """,
)

add_prepare_command(
    cli,
    APP,
    data_option(DATA_HELP),
    "Read the tunes, make (or reuse) the saved split, and show it.",
)
add_train_command(cli, APP, data=data_option(DATA_HELP))
add_evaluate_command(
    cli,
    APP,
    "Bits per character on the test split (model and n-gram); sampled tunes\n"
    "    checked with music21; write the report.",
    data=data_option("Default: the run's data."),
    options=[
        click.option(
            "--tunes",
            type=click.IntRange(min=1),
            help="Tunes to generate and check (default: the config's sample.evaluation_tunes, "
            "100).",
        )
    ],
)


def unescape_prefix(text):
    r"""A prefix typed on a command line: `\n` is a new line and `\\` a backslash."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "n\\":
            out.append("\n" if text[i + 1] == "n" else "\\")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@cli.command()
@click.option("--num", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "--prefix",
    default="X:1\\n",
    show_default=True,
    help=r"How every tune starts; \n is a new line, e.g. 'X:1\nM:6/8\nK:D\n'.",
)
@click.option("--temperature", type=click.FloatRange(min=0.0), default=0.8, show_default=True)
@click.option("--top-k", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--top-p",
    type=click.FloatRange(min=0.0, max=1.0, min_open=True),
    default=1.0,
    show_default=True,
)
@click.option(
    "--length",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Most characters sampled per tune after the prefix.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Folder for tune-NN.abc / .mid / .png and tunes.md. Default: reports/music/samples.",
)
@model_options(APP)
@user_errors
def generate(
    num, prefix, temperature, top_k, top_p, length, seed, out_dir, model_path, server, preset
):
    """Sample tunes; write each as ABC, MIDI and a piano roll, checked by music21.

    Tunes that music21 cannot read are kept and labelled INVALID.
    """
    pipeline = APP.pipeline()
    out_dir = out_dir or APP.report_dir() / "samples"
    model, vocabulary = pipeline.find_model(
        model_path, APP.run_dir(preset), APP.models_dir(), server
    )
    tunes = pipeline.generate(
        model,
        vocabulary,
        unescape_prefix(prefix),
        num=num,
        length=length,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
    )
    rows = APP.report().write_tunes(tunes, out_dir)
    for name, _, note in rows:
        click.echo(f"{name}\t{note}")
    parsed = sum(check.parsed for _, check, _ in rows)
    click.echo(f"{parsed} of {len(rows)} parsed by music21; files in {out_dir}/ (see tunes.md)")


add_export_command(cli, APP)

main = app_main(cli, APP)
