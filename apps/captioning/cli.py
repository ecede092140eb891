"""`python -m apps.captioning <verb>`: the command line of the captioning app."""

import pathlib
import sys

import click

from apps.captioning.config import PRESETS
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

APP = App(name="captioning", presets=PRESETS)

DATA_HELP = (
    "Your own captioned images instead of the generated scenes: a Flickr8k folder "
    "(captions.txt beside Images/) or a COCO folder (annotations/captions_*.json "
    "beside train2014/, val2014/)."
)
SKIP_BAD_HELP = "Leave out broken or missing images and empty captions of --data (with a note)."


def data_options():
    return [
        click.option("--data", "data_path", type=click.Path(), help=DATA_HELP),
        click.option("--skip-bad", is_flag=True, help=SKIP_BAD_HELP),
    ]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """Image captioning with a seqlib Show-Attend-Tell model, beam search and sacreBLEU.

    \b
    prepare    draw the scenes (or read --data), build the TFDS dataset, show the splits
    train      train a preset (checkpoints and logs in runs/captioning/<preset>/)
    evaluate   BLEU-1..4 and exact match on the test split: greedy vs beam vs the
               most frequent caption -> reports/captioning/
    caption    caption image files; --show-attention draws where each word looked
    export     write a SavedModel for TensorFlow Serving -> models/captioning/<version>/
    """


@cli.command()
@config_options(APP)
@click.option("--data", "data_path", type=click.Path(), help=DATA_HELP)
@click.option("--skip-bad", is_flag=True, help=SKIP_BAD_HELP)
@user_errors
def prepare(preset, overrides, data_path, skip_bad):
    """Draw (or read) the captioned images, make (or reuse) the split, and show it."""
    config = APP.config(preset, overrides)
    click.echo(APP.pipeline().prepare(config, data_path, skip_bad))


add_train_command(cli, APP, lambda: APP.pipeline().train, data_options=data_options())


@cli.command()
@preset_option(APP)
@run_dir_option(APP)
@click.option("--data", "data_path", type=click.Path(), help="Default: the run's data.")
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    help="Default: reports/captioning.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=0,
    help="Score only the first N test images (0 = all).",
)
@user_errors
def evaluate(preset, run_dir, data_path, report_dir, limit):
    """BLEU-1..4 and exact match on the test split, greedy and beam; write the report."""
    from apps.captioning.report import results_table

    report_dir = report_dir or APP.report_dir()
    results = APP.pipeline().evaluate(
        APP.run_dir(preset, run_dir), report_dir, data_path, limit, say=click.echo
    )
    click.echo(results_table(results))
    click.echo(f"report: {report_dir}/report.md")


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
    texts, ids, _ = pipeline.caption_images(captioner, data, greedy)
    for text in texts:
        click.echo(text)
    if show_attention:
        for image, image_ids, path, text in zip(
            data, ids, pipeline.attention_paths(images, show_attention), texts
        ):
            pipeline.show_attention(captioner, image, image_ids, path, title=text)
        click.echo(f"attention: {show_attention}/", err=True)


add_export_command(cli, APP)


def main():
    cli(prog_name=f"{sys.executable.rsplit('/', 1)[-1]} -m apps.captioning")
