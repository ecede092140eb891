"""The command line every app shares: `python -m apps.<app> <verb> [options]`.

An app describes itself once (`App`: its name and presets), makes its click
group with `app_group` and adds the verbs that work the same in every app
(`add_prepare_command`, `add_train_command`, `add_evaluate_command`,
`add_export_command`); its own verbs (`predict`, `generate`, `translate`,
`caption`) use the option decorators below. The options that mean the same
thing in every app (`--preset`, `--set`, `--data`, `--run-dir`,
`--report-dir`, `--resume`, `--strategy`, `--mixed-precision`,
`--jit-compile`, `--model`, `--server`) come from here, so a reader who knows
one app knows all five. `docs/apps.md` is the whole contract.

Nothing here imports TensorFlow: `--help` answers at once, and the verbs import
what they need when they run (`App.pipeline`, through
`apps.common.startup.import_tensorflow`, which keeps TensorFlow's start-up
lines off the terminal).

Errors for people: a verb that raises `ValueError` or `OSError` (bad input,
missing file, bad `--set`) prints one line, `Error: ...`, and exits with
status 1; `SEQLIB_DEBUG=1` shows the traceback instead.
"""

import dataclasses
import functools
import importlib
import os
import pathlib
import shutil
import sys
from collections.abc import Callable

import click

from seqlib.training.overrides import from_overrides

REPO = pathlib.Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class App:
    """What the shared command line needs to know about an app.

    Args:
        name: The app's name: `apps/<name>`, `runs/<name>`, `models/<name>`.
        presets: Named configs (frozen dataclasses with a `train` field holding
            a `TrainConfig`); the first is the default.
    """

    name: str
    presets: dict

    @property
    def default_preset(self):
        return next(iter(self.presets))

    def config(self, preset=None, overrides=()):
        """The preset's config with `--set` overrides applied."""
        preset = preset or self.default_preset
        if preset not in self.presets:
            raise ValueError(f"Expected one of {set(self.presets)}. Received: preset={preset!r}")
        return from_overrides(self.presets[preset], overrides)

    def run_dir(self, preset=None, run_dir=None):
        """`run_dir` when given (a `--run-dir`), else `runs/<app>/<preset>`."""
        if run_dir:
            return pathlib.Path(run_dir)
        return workdir() / "runs" / self.name / (preset or self.default_preset)

    def module(self, name):
        """The app's module `name`, imported on first use, after TensorFlow
        (without its start-up lines): TensorFlow loads only when a verb runs,
        never for `--help`."""
        from apps.common.startup import import_tensorflow

        import_tensorflow()
        return importlib.import_module(f"apps.{self.name}.{name}")

    def pipeline(self):
        """The app's `pipeline` module: its verbs."""
        return self.module("pipeline")

    def report(self):
        """The app's `report` module (its `summary(results)` is what `evaluate` prints)."""
        return self.module("report")

    def data_dir(self):
        return workdir() / "data" / self.name

    def report_dir(self):
        return workdir() / "reports" / self.name

    def models_dir(self):
        return workdir() / "models"


def workdir():
    """Where data, runs, reports and exports go: `$SEQLIB_HOME` or the repository."""
    return pathlib.Path(os.environ.get("SEQLIB_HOME", REPO))


def user_errors(fn: Callable) -> Callable:
    """Turns the errors a user can cause into one line and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, OSError) as error:
            if os.environ.get("SEQLIB_DEBUG"):
                raise
            message = str(error).strip().splitlines()
            raise click.ClickException(message[0] if message else type(error).__name__) from None

    return wrapper


def config_options(app: App):
    """`--preset NAME` and `--set key=value` (repeatable)."""

    def decorate(fn):
        fn = click.option(
            "--set",
            "overrides",
            multiple=True,
            metavar="KEY=VALUE",
            help="Override a config field, e.g. --set train.epochs=3 --set model.cell=gru.",
        )(fn)
        return click.option(
            "--preset",
            type=click.Choice(list(app.presets)),
            default=app.default_preset,
            show_default=True,
            help="Named configuration.",
        )(fn)

    return decorate


def several_runs_options(app: App, folder: str, seed_help: str):
    """`--seed` (repeatable, default 1, 2, 3), `--runs-dir` and `--report-dir` of a
    verb that trains several runs (`ablations`, `seeds`): runs in
    `runs/<app>/<folder>/`, the report in `reports/<app>/<folder>/` by default."""

    def decorate(fn):
        for option in reversed(
            [
                click.option(
                    "--seed",
                    "seeds",
                    type=int,
                    multiple=True,
                    default=(1, 2, 3),
                    show_default=True,
                    help=seed_help,
                ),
                click.option(
                    "--runs-dir",
                    type=click.Path(file_okay=False, path_type=pathlib.Path),
                    help=f"Default: runs/{app.name}/{folder}.",
                ),
                click.option(
                    "--report-dir",
                    type=click.Path(file_okay=False, path_type=pathlib.Path),
                    help=f"Default: reports/{app.name}/{folder}.",
                ),
            ]
        ):
            fn = option(fn)
        return fn

    return decorate


def train_options(fn):
    """The training switches every app has; each maps onto a `TrainConfig` field."""
    options = [
        click.option(
            "--resume",
            is_flag=True,
            help="Continue the run in runs/<app>/<preset> from its last completed epoch.",
        ),
        click.option(
            "--strategy",
            type=click.Choice(["default", "mirrored", "multiworker"]),
            default=None,
            help="tf.distribute strategy; multiworker reads the cluster from TF_CONFIG.",
        ),
        click.option(
            "--mixed-precision/--no-mixed-precision",
            default=None,
            help="float16 compute with float32 weights (fast on GPUs).",
        ),
        click.option(
            "--jit-compile/--no-jit-compile", default=None, help="Compile the train step with XLA."
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def train_overrides(strategy=None, mixed_precision=None, jit_compile=None):
    """The `--set` strings that the training switches stand for."""
    overrides = []
    if strategy is not None:
        overrides.append(f"train.strategy={strategy}")
    if mixed_precision is not None:
        overrides.append(f"train.mixed_precision={mixed_precision}")
    if jit_compile is not None:
        overrides.append(f"train.jit_compile={jit_compile}")
    return overrides


def preset_option(app: App):
    """`--preset NAME`, for the verbs that read a trained run."""
    return click.option(
        "--preset",
        type=click.Choice(list(app.presets)),
        default=app.default_preset,
        show_default=True,
        help="Named configuration (picks runs/<app>/<preset>).",
    )


def model_options(app: App):
    """Where a predicting verb finds its model: `--model PATH` (a run or an
    export), `--server URL` (TF Serving's REST API), else `--preset`'s run, else
    the newest export. The verb receives `model_path`, `server` and `preset`."""

    def decorate(fn):
        fn = preset_option(app)(fn)
        fn = click.option(
            "--server",
            metavar="URL",
            help=f"Ask a model server instead: TF Serving or `python -m apps.serve`, e.g. "
            f"http://127.0.0.1:8501 (model {app.name}) or "
            f"http://HOST:8501/v1/models/NAME[/versions/N].",
        )(fn)
        return click.option(
            "--model",
            "model_path",
            type=click.Path(exists=True),
            help="A run directory or an export (default: the trained run, else the newest export).",
        )(fn)

    return decorate


def run_dir_option(app: App):
    return click.option(
        "--run-dir",
        type=click.Path(file_okay=False, path_type=pathlib.Path),
        help=f"Default: runs/{app.name}/<preset>.",
    )


def data_option(help_text, alias=None, file_only=False):
    """`--data PATH`: the user's data instead of the app's own (the verb receives
    `data`); `file_only` refuses a folder. `alias` is an older name kept
    working but not shown in `--help`."""
    path_type = click.Path(dir_okay=not file_only)

    def decorate(fn):
        fn = click.option("--data", "data", type=path_type, help=help_text)(fn)
        if alias:
            fn = click.option(alias, "data_alias", type=path_type, hidden=True)(fn)
            inner = fn

            @functools.wraps(inner)
            def merged(*args, data=None, data_alias=None, **kwargs):
                if data and data_alias:
                    raise click.UsageError(f"Give --data or {alias}, not both.")
                return inner(*args, data=data or data_alias, **kwargs)

            fn = merged
        return fn

    return decorate


def report_dir_option(app: App):
    return click.option(
        "--report-dir",
        type=click.Path(file_okay=False, path_type=pathlib.Path),
        help=f"Default: reports/{app.name}.",
    )


def app_group(app: App, doc: str):
    """The app's click group (`-h` and `--help`), documented by `doc`."""

    def cli():
        pass

    cli.__doc__ = doc
    return click.group(context_settings={"help_option_names": ["-h", "--help"]})(cli)


def app_main(group, app: App):
    """The app's `main()`: runs `group` as `python -m apps.<app>`."""

    def main():
        group(prog_name=f"{sys.executable.rsplit('/', 1)[-1]} -m apps.{app.name}")

    return main


def add_prepare_command(group, app: App, data: Callable, doc: str, options=()):
    """Adds `prepare`: `pipeline.prepare(config, data, **options)` returns the
    description of the splits, which is printed. `data` is the app's
    `data_option(...)`; `options` are the app's own click options, passed on by
    name."""

    def prepare(preset, overrides, data, **extra):
        click.echo(app.pipeline().prepare(app.config(preset, overrides), data, **extra))

    prepare.__doc__ = doc
    command = user_errors(prepare)
    for option in reversed(options):
        command = option(command)
    command = data(command)
    command = config_options(app)(command)
    return group.command(name="prepare")(command)


def add_evaluate_command(group, app: App, doc: str, data: Callable, options=()):
    """Adds `evaluate`: `pipeline.evaluate(run_dir, report_dir, data, say=...,
    **options)` scores the run and writes the report; `report.summary(results)`
    is printed, then where the report is. `options` are the app's own click
    options, passed on by name."""

    def evaluate(preset, run_dir, data, report_dir, **extra):
        report_dir = report_dir or app.report_dir()
        results = app.pipeline().evaluate(
            app.run_dir(preset, run_dir), report_dir, data, say=click.echo, **extra
        )
        click.echo(app.report().summary(results))
        click.echo(f"report: {report_dir}/report.md")

    evaluate.__doc__ = doc
    command = user_errors(evaluate)
    for option in reversed(options):
        command = option(command)
    command = report_dir_option(app)(command)
    command = data(command)
    command = run_dir_option(app)(command)
    command = preset_option(app)(command)
    return group.command(name="evaluate")(command)


def add_train_command(group, app: App, data: Callable, doc=None, options=()):
    """Adds the `train` verb every app has to `group`: `pipeline.train(config,
    run_dir, data=..., resume=..., **options)`. `data` is the app's
    `data_option(...)`; `options` are the app's own click options (beside
    `--data`), passed on by name."""

    def train(
        preset, overrides, resume, strategy, mixed_precision, jit_compile, run_dir, fresh, data,
        **extra,
    ):  # fmt: skip
        overrides = (*overrides, *train_overrides(strategy, mixed_precision, jit_compile))
        config = app.config(preset, overrides)
        run_dir = run_dir or app.run_dir(preset)
        if fresh and resume:
            raise click.UsageError("--fresh and --resume contradict each other.")
        if fresh and run_dir.exists():
            shutil.rmtree(run_dir)
        result = app.pipeline().train(config, run_dir, data=data, resume=resume, **extra)
        click.echo(
            f"trained {result.epochs_completed} epochs"
            + (" (stopped early)" if result.stopped_early else "")
            + f"; run in {result.run_dir}"
        )

    train.__doc__ = doc or (
        "Train a preset, watching the validation split.\n\n"
        "A checkpoint is written every epoch; --resume continues a run that was\n"
        "stopped, and ends where an uninterrupted run would have."
    )
    command = user_errors(train)
    command = click.option(
        "--fresh", is_flag=True, help="Delete the run directory first and train from scratch."
    )(command)
    command = run_dir_option(app)(command)
    for option in reversed(options):
        command = option(command)
    command = data(command)
    command = train_options(command)
    command = config_options(app)(command)
    return group.command(name="train")(command)


def add_seeds_command(group, app: App, doc: str, options=()):
    """Adds `seeds`: `pipeline.seeds(config, seeds, runs_dir, report_dir, say=...,
    **options)` trains the preset with each seed (in `runs/<app>/seeds/`, finished
    runs reused), scores each and writes the table of each seed, the mean and the
    spread (in `reports/<app>/seeds/`); where the report is is printed. `options`
    are the app's own click options, passed on by name."""

    def seeds(preset, overrides, seeds, runs_dir, report_dir, **extra):
        report_dir = report_dir or workdir() / "reports" / app.name / "seeds"
        app.pipeline().seeds(
            app.config(preset, overrides),
            seeds,
            runs_dir or app.run_dir("seeds"),
            report_dir,
            say=click.echo,
            **extra,
        )
        click.echo(f"report: {report_dir}/report.md")

    seeds.__doc__ = doc
    command = user_errors(seeds)
    for option in reversed(options):
        command = option(command)
    command = several_runs_options(
        app, "seeds", "Train the preset with each of these seeds (train.seed)."
    )(command)
    command = config_options(app)(command)
    return group.command(name="seeds")(command)


def add_export_command(group, app: App):
    """Adds the `export` verb every app has: `pipeline.export(run_dir, models_dir)`
    writes `models/<app>/<next version>/` and `models/models.config`."""

    def export(preset, run_dir, models_dir):
        path = app.pipeline().export(app.run_dir(preset, run_dir), models_dir or app.models_dir())
        click.echo(f"exported: {path}")

    export.__doc__ = f"Write models/{app.name}/<next version>/ and models/models.config."
    command = user_errors(export)
    command = click.option(
        "--models-dir",
        type=click.Path(file_okay=False, path_type=pathlib.Path),
        help="Default: models/.",
    )(command)
    command = run_dir_option(app)(command)
    command = preset_option(app)(command)
    return group.command(name="export")(command)
