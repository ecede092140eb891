"""The app contract (docs/apps.md), held for every app at once: a fast `--help`,
quiet start-up, one-line errors, a refused run that writes nothing, and (slow
tier) training that repeats itself to the bit."""

import importlib
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from app_fixtures import APPS, files, train_interrupted
from click.testing import CliRunner

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREDICTING_VERB = {
    "sentiment": "predict",
    "stocks": "predict",
    "music": "generate",
    "translation": "translate",
    "captioning": "caption",
}


def _invoke(app, *args):
    cli = importlib.import_module(f"apps.{app}.cli").cli
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("app", sorted(APPS))
def test_help_is_fast_and_names_every_verb(app):
    code = (
        f"import sys; from apps.{app}.cli import cli; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    done = subprocess.run(
        [sys.executable, "-m", f"apps.{app}", "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    for verb in ("prepare", "train", "evaluate", "export", PREDICTING_VERB[app]):
        assert verb in done.stdout
    train_help = subprocess.run(
        [sys.executable, "-m", f"apps.{app}", "train", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout
    for option in ("--data", "--run-dir", "--resume", "--fresh", "--preset", "--set"):
        assert option in train_help, (app, option)


@pytest.mark.parametrize("app", sorted(APPS))
def test_a_mistake_is_one_line_on_stderr_with_no_tensorflow_start_up_lines(app, tmp_path):
    # No trained run and no export: the verb imports TensorFlow, then fails.
    env = {
        **os.environ,
        "SEQLIB_HOME": str(tmp_path),
        "SEQLIB_DATA": str(tmp_path / "data"),
    }
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run(
        [sys.executable, "-m", f"apps.{app}", "export"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"Error: No trained model in {tmp_path}/runs/{app}/cpu-small: run "
        f"`python -m apps.{app} train` first."
    ]


@pytest.mark.parametrize("app", sorted(APPS))
def test_a_refused_run_writes_nothing_and_the_run_then_resumes(app, home, monkeypatch):
    """A run interrupted after its first epoch, then trained again with options that
    change what the app writes (a smaller vocabulary, other prices): refused without
    --resume and with it, before anything is written; the run then resumes as it was."""
    case = APPS[app]
    data = case.data(home)
    run = home / "run"
    cli = importlib.import_module(f"apps.{app}.cli").cli
    train_interrupted(cli, monkeypatch, *data, *case.tiny, "--run-dir", run)
    before = files(run)
    assert "checkpoints/state.json" in before and "data.json" in before
    assert "checkpoints/final.weights.h5" not in before

    changed = case.changed(home)
    for resume in ([], ["--resume"]):
        result = _invoke(app, "train", *data, *case.tiny, "--run-dir", run, *changed, *resume)
        assert result.exit_code == 1
        assert result.output.startswith("Error: ")
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert ("Received changes" if resume else "--resume") in result.output
        assert files(run) == before

    # The run is whole: it resumes, and trains the second epoch.
    result = _invoke(
        app, "train", *data, *case.tiny, "--run-dir", run, "--resume", "--set", "train.epochs=2"
    )
    assert result.exit_code == 0, result.output
    assert "trained 2 epochs" in result.output
    # What the app saved (vocabulary, scaler, data.json) was read back, not made anew.
    runner_files = ("checkpoints/", "logs/", "history.csv", "config.json")
    saved = {k: v for k, v in before.items() if not k.startswith(runner_files)}
    assert saved and {k: files(run)[k] for k in saved} == saved
    assert len((run / "history.csv").read_text().strip().splitlines()) == 3  # header, 2 epochs


def _weights(path):
    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, item: (
                arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    return arrays


@pytest.mark.slow
@pytest.mark.parametrize("app", sorted(APPS))
def test_the_same_config_and_seed_train_the_same_weights(app, home):
    case = APPS[app]
    data = case.data(home)
    weights = []
    for name in ("first", "second"):
        result = _invoke(app, "train", *data, *case.tiny, "--run-dir", home / name)
        assert result.exit_code == 0, result.output
        weights.append(_weights(home / name / "checkpoints" / "final.weights.h5"))
    assert weights[0].keys() == weights[1].keys() and weights[0]
    for key, value in weights[0].items():
        np.testing.assert_array_equal(value, weights[1][key], err_msg=f"{app}: {key}")
    assert (home / "first" / "history.csv").read_text() == (
        home / "second" / "history.csv"
    ).read_text()


def test_the_fixtures_cover_every_app():
    from apps.export import APPS as EXPORTED

    assert set(APPS) == set(EXPORTED) == set(PREDICTING_VERB)


@pytest.mark.slow
def test_the_captioning_model_at_full_size_trains_the_same_weights(home):
    # At cpu-small's sizes (unlike the tiny config) grappler's rewrites made two
    # runs of one epoch differ in every weight; `train.deterministic` (on in the
    # preset) is what makes them agree.
    small_data = ["--set", "data.scenes=512,64,64", "--set", "train.epochs=1"]
    weights = []
    for name in ("first", "second"):
        result = _invoke("captioning", "train", *small_data, "--run-dir", home / name)
        assert result.exit_code == 0, result.output
        weights.append(_weights(home / name / "checkpoints" / "final.weights.h5"))
    for key, value in weights[0].items():
        np.testing.assert_array_equal(value, weights[1][key], err_msg=key)
