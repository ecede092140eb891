"""`python -m apps.export`: export every trained app for TensorFlow Serving.

For each app with a trained run (`runs/<app>/<preset>/`), writes
`models/<app>/<next version>/` unless the newest export was made from the same
weights (its `assets.extra/run.json` holds their fingerprint), then rewrites
`models/models.config` listing every exported model with the "latest" version
policy. Apps without a trained run are reported and skipped.
"""

import importlib
import json
import pathlib
import sys

import click

from apps.common.cli import user_errors, workdir

APPS = ("sentiment", "stocks", "music", "translation", "captioning")


def newest_record(models_dir, name):
    """`(version, run.json record or {})` of the newest export of `name`, or `(None, {})`."""
    from seqlib.export import EXTRA_ASSETS_DIR, latest_version

    version = latest_version(models_dir, name)
    if version is None:
        return None, {}
    from apps.common.run import RUN_RECORD

    path = pathlib.Path(models_dir) / name / str(version) / EXTRA_ASSETS_DIR / RUN_RECORD
    try:
        return version, json.loads(path.read_text())
    except (OSError, ValueError):
        return version, {}


def export_all(models_dir, apps=APPS, force=False, echo=click.echo):
    """Exports each trained app of `apps`; returns `{app: version dir or None}`."""
    from apps.common.run import Run
    from seqlib.export import write_models_config

    models_dir = pathlib.Path(models_dir)
    done = {}
    for name in apps:
        app = importlib.import_module(f"apps.{name}.cli").APP
        run_dir = app.run_dir()
        if not Run(run_dir).exists():
            echo(f"{name:<12} skipped: no trained run in {run_dir} (make {name})")
            done[name] = None
            continue
        version, record = newest_record(models_dir, name)
        if not force and record.get("weights_sha256") == Run(run_dir).fingerprint():
            done[name] = models_dir / name / str(version)
            echo(f"{name:<12} current: {done[name]} (made from these weights)")
            continue
        done[name] = pathlib.Path(app.pipeline().export(run_dir, models_dir))
        echo(f"{name:<12} exported: {done[name]}")
    if not any(done.values()):
        raise FileNotFoundError(
            "No trained app to export: run `make sentiment` (or another app) first."
        )
    config = write_models_config(models_dir)
    echo(f"TF Serving config: {config}")
    return done


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    help="Default: models/.",
)
@click.option("--app", "apps", multiple=True, type=click.Choice(APPS), help="Only these apps.")
@click.option("--force", is_flag=True, help="Export even when the newest export is current.")
@user_errors
def cli(models_dir, apps, force):
    """Export every trained app to models/<app>/<version>/ and write models/models.config."""
    export_all(models_dir or workdir() / "models", apps or APPS, force)


def main():
    cli(prog_name=f"{sys.executable.rsplit('/', 1)[-1]} -m apps.export")


if __name__ == "__main__":
    main()
