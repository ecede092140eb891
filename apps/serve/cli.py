"""`python -m apps.serve`: serve `models/` locally, as TensorFlow Serving would.

The same requests work here and against `tensorflow/serving` started on the same
directory (see serving/): `GET /v1/models/NAME`, `GET /v1/models/NAME/metadata`,
`POST /v1/models/NAME[/versions/N]:predict`. New versions written by `make
export` are picked up while it runs.
"""

import pathlib
import sys

import click

from apps.common.cli import user_errors, workdir


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    help="The exports to serve: <dir>/<model>/<version>/. Default: models/.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. There is no authentication: bind 0.0.0.0 only on a trusted network.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8501, show_default=True)
@click.option(
    "--max-request-mb",
    type=click.FloatRange(min=0.001),
    default=16.0,
    show_default=True,
    help="Larger request bodies are refused (413).",
)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0.0),
    default=2.0,
    show_default=True,
    help="How often new versions are looked for (0: never).",
)
@click.option("--quiet", is_flag=True, help="Do not log every request.")
@user_errors
def cli(models_dir, host, port, max_request_mb, poll_seconds, quiet):
    """Serve the exported models with TensorFlow Serving's REST API."""
    from apps.common.startup import import_tensorflow

    import_tensorflow()
    from seqlib.serving.server import make_server

    models_dir = models_dir or workdir() / "models"
    if not models_dir.is_dir():
        raise FileNotFoundError(f"No exports in {models_dir}: run `make export` first.")
    server = make_server(
        models_dir,
        host=host,
        port=port,
        max_request_bytes=int(max_request_mb * 2**20),
        poll_seconds=poll_seconds,
        quiet=quiet,
    )
    names = server.repository.names()
    url = f"http://{host}:{server.server_port}"
    if not names:
        click.echo(f"No model in {models_dir} yet; new exports are picked up.", err=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"Warning: {url} is open to the network, without authentication.", err=True)
    click.echo(f"REST API on {url}  (models: {', '.join(names) or 'none'}; Ctrl-C stops)")
    click.echo(f"playground: {url}/")
    if "sentiment" in names:
        click.echo(
            f'try:  curl -d \'{{"instances": ["what a lovely day"]}}\' '
            f"{url}/v1/models/sentiment:predict"
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main():
    cli(prog_name=f"{sys.executable.rsplit('/', 1)[-1]} -m apps.serve")
