"""`python -m apps.export` (every trained app, current exports kept) and the
command line of `python -m apps.serve`. The apps' own tests check each app's
answers through the server."""

import json
import subprocess
import sys

import pytest
import tensorflow as tf
from click.testing import CliRunner

from apps.common.cli import App


class Echo(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        return {"echo": text}


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """SEQLIB_HOME with a fake trained sentiment run; each app's export writes a
    toy SavedModel with the run's export assets, as the real exports do."""
    from apps.common.run import Run
    from seqlib.export import export_for_serving

    monkeypatch.setenv("SEQLIB_HOME", str(tmp_path))
    run = tmp_path / "runs" / "sentiment" / "cpu-small"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "final.weights.h5").write_bytes(b"weights 1")
    (run / "config.json").write_text("{}\n")

    class Pipeline:
        def __init__(self, name):
            self.name = name

        def export(self, run_dir, models_dir):
            assets = Run(run_dir).export_assets()
            return export_for_serving(Echo(), models_dir, self.name, extra_assets=assets)

    monkeypatch.setattr(App, "pipeline", lambda app: Pipeline(app.name))
    return tmp_path


def test_export_all_exports_trained_apps_once_per_weights(home):
    from apps.export import export_all

    models = home / "models"
    said = []
    done = export_all(models, apps=("sentiment", "stocks"), echo=said.append)
    assert done == {"sentiment": models / "sentiment" / "1", "stocks": None}
    assert "stocks       skipped: no trained run" in said[1]
    record = json.loads((models / "sentiment" / "1" / "assets.extra" / "run.json").read_text())
    assert (
        record["run"].endswith("runs/sentiment/cpu-small") and len(record["weights_sha256"]) == 64
    )
    config = (models / "models.config").read_text()
    assert 'name: "sentiment"' in config and "stocks" not in config

    said.clear()
    assert export_all(models, apps=("sentiment",), echo=said.append)["sentiment"].name == "1"
    assert "current" in said[0]  # the same weights: no new version
    (home / "runs/sentiment/cpu-small/checkpoints/final.weights.h5").write_bytes(b"weights 2")
    assert export_all(models, apps=("sentiment",), echo=said.append)["sentiment"].name == "2"
    assert export_all(models, ("sentiment",), force=True, echo=said.append)["sentiment"].name == "3"


def test_export_all_without_a_trained_app_is_an_error(home):
    from apps.export import cli

    result = CliRunner().invoke(cli, ["--app", "music", "--app", "stocks"])
    assert result.exit_code == 1
    assert "No trained app to export" in result.output
    assert len(result.output.strip().splitlines()) == 3  # two skips, one error line


def test_serve_help_does_not_import_tensorflow_and_mistakes_are_one_line(tmp_path):
    code = (
        "import sys; from apps.serve.cli import cli; import apps.export; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from apps.serve.cli import cli

    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "--max-request-mb" in result.output
    result = CliRunner().invoke(cli, ["--models-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "No exports in" in result.output
    result = CliRunner().invoke(cli, ["--port", "70000"])
    assert result.exit_code == 2 and "70000" in result.output
