"""`python -m apps.captioning <verb>`: the command line of the captioning app."""

import pathlib

import click

from apps.captioning.config import PRESETS
from apps.common.cli import (
    App,
    add_evaluate_command,
    add_export_command,
    add_prepare_command,
    add_seeds_command,
    add_train_command,
    app_group,
    app_main,
    data_option,
    model_options,
    user_errors,
)

APP = App(name="captioning", presets=PRESETS)

DATA_HELP = (
    "Your own captioned images instead of the generated scenes: a Flickr8k folder "
    "(captions.txt beside Images/) or a COCO folder (annotations/captions_*.json "
    "beside train2014/, val2014/)."
)
SKIP_BAD = click.option(
    "--skip-bad",
    is_flag=True,
    help="Leave out broken or missing images and empty captions of --data (with a note).",
)


def split_option(help_text):
    """`--split test|validation` (the verb receives `split_name`), test by default."""
    return click.option(
        "--split",
        "split_name",
        type=click.Choice(["test", "validation"]),
        default="test",
        show_default=True,
        help=help_text,
    )


cli = app_group(
    APP,
    """Image captioning with a seqlib Show-Attend-Tell model, beam search and sacreBLEU.

    \b
    prepare    draw the scenes (or read --data), build the TFDS dataset, show the splits
    train      train a preset (checkpoints and logs in runs/captioning/<preset>/)
    evaluate   BLEU-1..4 and exact match on the test split: greedy vs beam vs the
               most frequent caption -> reports/captioning/
    caption    caption image files; --show-attention draws where each word looked
    seeds      train the preset with seeds 1, 2, 3, score each; mean and spread
    export     write a SavedModel for TensorFlow Serving -> models/captioning/<version>/
    """,
)

add_prepare_command(
    cli,
    APP,
    data_option(DATA_HELP),
    "Draw (or read) the captioned images, make (or reuse) the split, and show it.",
    options=[SKIP_BAD],
)
add_train_command(cli, APP, data=data_option(DATA_HELP), options=[SKIP_BAD])
add_evaluate_command(
    cli,
    APP,
    "BLEU-1..4 and exact match on the test split, greedy and beam; write the report.",
    data=data_option("Default: the run's data."),
    options=[
        click.option(
            "--limit",
            type=click.IntRange(min=0),
            default=0,
            help="Score only the first N test images (0 = all).",
        ),
        split_option(
            "The split scored: validation for choices between variants (its held-out "
            "pairs are its own), test once, at the end."
        ),
    ],
)


@cli.command()
@click.argument("images", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--beam", type=click.IntRange(min=1), help="Beam width (default: the run's, 3).")
@click.option("--greedy", is_flag=True, help="Greedy search instead of beam search.")
@click.option(
    "--show-attention",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    help="Draw, per image, where the decoder looked for each word: DIR/<image name>.png.",
)
@model_options(APP)
@user_errors
def caption(images, beam, greedy, show_attention, model_path, server, preset):
    """Caption IMAGES (JPEG or PNG files), one caption per line."""
    if not images:
        raise click.UsageError("Give image files to caption.")
    if greedy and beam:
        raise click.UsageError("--greedy and --beam contradict each other.")
    pipeline = APP.pipeline()
    data = pipeline.read_images(images)
    captioner = pipeline.find_captioner(
        model_path,
        APP.run_dir(preset),
        APP.models_dir(),
        {"beam_width": beam} if beam else None,
        server,
    )
    for text in pipeline.caption(captioner, data, images, greedy, show_attention):
        click.echo(text)
    if show_attention:
        click.echo(f"attention: {show_attention}/", err=True)


add_export_command(cli, APP)


add_seeds_command(
    cli,
    APP,
    "The preset trained with several seeds (finished runs are reused), each scored; "
    "the table of each seed, the mean and the spread -> reports/captioning/seeds/.",
    options=(split_option("The split each seed is scored on."),),
)


main = app_main(cli, APP)
