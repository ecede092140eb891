"""The sentiment app end to end on a small CSV: every verb, the export served
without the project, resume, a refused run that leaves the run as it was, and
one-line errors for bad input."""

import json

import numpy as np
import pytest
from app_fixtures import SENTIMENT_TINY as TINY
from app_fixtures import sentiment_data
from click.testing import CliRunner

from apps.sentiment.cli import cli


@pytest.fixture()
def data(home):
    """`["--data", "<home>/tweets.csv"]`: 120 short labelled texts."""
    return sentiment_data(home)


def _invoke(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def test_every_verb_on_a_small_csv(home, data, model_server):
    from seqlib.export.testing import run_isolated

    result = _invoke("prepare", *data)
    assert result.exit_code == 0, result.output
    assert "train" in result.output and "test" in result.output

    result = _invoke("train", *data, *TINY)
    assert result.exit_code == 0, result.output
    run = home / "runs" / "sentiment" / "cpu-small"
    assert (run / "checkpoints" / "final.weights.h5").is_file()
    assert (run / "vocabulary.txt").is_file() and (run / "history.csv").is_file()
    assert json.loads((run / "data.json").read_text()) == {"data": data[1]}

    # The run remembers its data file, under the key of older runs too.
    (run / "data.json").write_text(json.dumps({"data_file": data[1]}) + "\n")
    result = _invoke("evaluate")
    assert result.exit_code == 0, result.output
    for system in ("model", "TF-IDF", "VADER", "majority"):
        assert system in result.output
    report = home / "reports" / "sentiment"
    for name in ("report.md", "confusion_matrix.png", "training_curves.png", "attention.png"):
        assert (report / name).is_file(), name
    assert "macro-F1" in (report / "report.md").read_text()

    result = _invoke("export")
    assert result.exit_code == 0, result.output
    export_dir = home / "models" / "sentiment" / "1"
    assert (export_dir / "saved_model.pb").is_file()
    assert "sentiment" in (home / "models" / "models.config").read_text()

    # The export answers like the checkpoint, in a process without the project.
    texts = ["i love it", "worst day", "meh"]
    from apps.sentiment import pipeline, serving

    model = pipeline.Run(run).load_model()
    expected = serving.positive_probability(model, texts)
    served = run_isolated(export_dir, {"text": np.array(texts, dtype=object)})
    np.testing.assert_allclose(served["positive_probability"], expected, atol=1e-5)
    labels = [label.decode() for label in served["label"]]
    assert labels == ["positive" if p > 0.5 else "negative" for p in expected]
    np.testing.assert_allclose(served["probability"], np.maximum(expected, 1 - expected), atol=1e-5)

    (home / "more.txt").write_text("so happy\n\nawful\n", encoding="utf-8")
    outputs = []
    for extra in (
        [],
        ["--model", str(home / "models" / "sentiment")],
        ["--server", model_server(home / "models")],  # TF Serving's REST API
    ):
        result = _invoke("predict", "i love it", "--file", str(home / "more.txt"), *extra)
        assert result.exit_code == 0, result.output
        lines = result.output.strip().splitlines()
        assert [line.split("\t")[2] for line in lines] == ["i love it", "so happy", "awful"]
        assert all(line.split("\t")[0] in ("positive", "negative") for line in lines)
        outputs.append(result.output)
    assert outputs[2] == outputs[1]  # the server answers as the export in process


def test_resume_continues_and_a_second_train_is_refused(home, data):
    one_epoch = [*TINY, "--set", "train.epochs=1"]
    assert _invoke("train", *data, *one_epoch).exit_code == 0
    result = _invoke("train", *data, *one_epoch)
    assert result.exit_code == 1 and "--resume" in result.output
    result = _invoke("train", *data, "--resume", *TINY)
    assert result.exit_code == 0, result.output
    assert "trained 2 epochs" in result.output
    # --fresh starts the existing run again, here named by --run-dir.
    run = home / "runs" / "sentiment" / "cpu-small"
    result = _invoke("train", *data, "--fresh", "--run-dir", str(run), *one_epoch)
    assert result.exit_code == 0 and "trained 1 epochs" in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["predict", "hello"], "No trained model"),
        (["train", "--set", "model.cell=transformer"], "cell"),
        (["train", "--set", "model.colour=red"], "colour"),
        (["train", "--data", "missing.csv"], "missing.csv"),
        (["prepare", "--data", "bad.csv"], "label"),
    ],
)
def test_user_mistakes_are_one_line_errors(home, args, message, monkeypatch):
    (home / "bad.csv").write_text("text,sentiment\nhello,1\n", encoding="utf-8")
    monkeypatch.chdir(home)
    result = _invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # click's usage line at most


def test_gpu_preset_builds_and_trains_in_mixed_precision(home, data):
    # The gpu-full recipe (2 bidirectional LSTM layers, mixed_float16), shrunk.
    result = _invoke("train", "--preset", "gpu-full", *data, *TINY, "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    from apps.sentiment import pipeline, serving

    run = pipeline.Run(home / "runs" / "sentiment" / "gpu-full")
    assert run.config().train.mixed_precision and run.config().model.layers == 2
    probabilities = serving.positive_probability(run.load_model(), ["good", "bad"])
    assert np.all(np.isfinite(probabilities))


def test_seeds_trains_each_seed_once_and_tables_the_spread(home, data):
    args = ("seeds", "--seed", "1", "--seed", "2", *data, *TINY, "--set", "train.epochs=1")
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    runs = home / "runs" / "sentiment" / "seeds"
    histories = [(runs / f"seed-{s}" / "history.csv").read_text() for s in (1, 2)]
    assert json.loads((runs / "seed-2" / "config.json").read_text())["app"]["train"]["seed"] == 2
    report = home / "reports" / "sentiment" / "seeds"
    text = (report / "report.md").read_text()
    for row in ("| model, seed 1 |", "| model, seed 2 |", "| **model, mean** |", "| model, sd |"):
        assert row in text, row
    f1 = [
        json.loads((report / f"seed-{s}" / "metrics.json").read_text())["test"]["model"]["macro_f1"]
        for s in (1, 2)
    ]
    assert f"**{np.mean(f1):.4f}**" in text and "VADER lexicon" in text
    assert "seed 2: tweets, test (macro-F1) " in result.output
    # A user's CSV has no sets beyond it: those columns say so.
    assert "| - |" in text
    # Finished runs are reused: nothing is trained again.
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    assert [(runs / f"seed-{s}" / "history.csv").read_text() for s in (1, 2)] == histories
