"""The command line every app shares: `python -m apps.<app> <verb> [options]`.

An app describes itself once (`App`: its name, config class and presets) and
builds its click group with `app_group`; the options that mean the same thing
in every app (`--preset`, `--set`, `--resume`, `--strategy`,
`--mixed-precision`, `--jit-compile`) come from the decorators below, so a
reader who knows one app knows all five.

Nothing here imports TensorFlow: `--help` answers at once, and the verbs import
what they need when they run.

Errors for people: a verb that raises `ValueError` or `OSError` (bad input,
missing file, bad `--set`) prints one line, `Error: ...`, and exits with
status 1; `SEQLIB_DEBUG=1` shows the traceback instead.
"""

import dataclasses
import functools
import os
import pathlib
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

    def run_dir(self, preset=None):
        return workdir() / "runs" / self.name / (preset or self.default_preset)

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
