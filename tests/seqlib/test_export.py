"""Exports for TensorFlow Serving: versions, atomic writes, the model config, isolation.

The text classifier below holds a seqlib GRU; serving it in a process that cannot
import seqlib shows that an export needs TensorFlow only.
"""

import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlib.export import (
    EXTRA_ASSETS_DIR,
    MODELS_CONFIG,
    export_for_serving,
    label_outputs,
    latest_version,
    list_versions,
    read_models_config,
    text_input,
    write_models_config,
)
from seqlib.export.testing import (
    IsolatedProcessError,
    isolated_python,
    run_isolated,
    saved_model_cli_run,
    saved_model_cli_show,
)
from seqlib.layers import GRU

ATOL = 1e-5
LABELS = ["negative", "positive"]
TRAIN_TEXTS = ["good", "great", "good film", "great acting", "fine and good"]
TRAIN_TEXTS += ["bad", "awful", "bad film", "awful plot", "poor and bad"]
TRAIN_LABELS = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
SERVE_TEXTS = ["good", "bad", "a great film", "an awful plot", "unseen words only"]


class Doubler(tf.Module):
    """The smallest servable module: one variable, one named output."""

    def __init__(self):
        super().__init__()
        self.scale = tf.Variable(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"y": x * self.scale}


class TextClassifier(tf.Module):
    def __init__(self, model, labels):
        super().__init__()
        self.model = model
        self.labels = tf.constant(labels)

    @tf.function(input_signature=[text_input("texts")])
    def serve(self, texts):
        probabilities = self.model(texts, training=False)  # (batch, 2)
        index = tf.argmax(probabilities, axis=-1)
        return {
            "label": tf.gather(self.labels, index),
            "probability": tf.reduce_max(probabilities, axis=-1),
        }


@pytest.fixture
def doubler():
    return Doubler()


@pytest.fixture(scope="module")
def text_classifier():
    keras.utils.set_random_seed(7)
    vectorize = keras.layers.TextVectorization(max_tokens=32, output_sequence_length=4)
    vectorize.adapt(TRAIN_TEXTS)
    texts = keras.Input((), dtype="string")
    x = vectorize(texts)  # (batch, 4)
    x = keras.layers.Embedding(32, 8)(x)  # (batch, 4, 8)
    x = GRU(8)(x)  # (batch, 8)
    probabilities = keras.layers.Dense(2, activation="softmax")(x)  # (batch, 2)
    model = keras.Model(texts, probabilities)
    # Trained a little, so the two labels both show up and a swapped label would fail.
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    model.fit(tf.constant(TRAIN_TEXTS), np.array(TRAIN_LABELS), epochs=25, batch_size=10, verbose=0)
    return TextClassifier(model, LABELS)


@pytest.fixture(scope="module")
def text_export(text_classifier, tmp_path_factory):
    base_dir = tmp_path_factory.mktemp("exports")
    return export_for_serving(text_classifier, base_dir, "sentiment")


def _entries(model_dir):
    return sorted(os.listdir(model_dir))


# Versions.


def test_versions_are_numbered_in_order(doubler, tmp_path):
    first = export_for_serving(doubler, tmp_path, "doubler")
    second = export_for_serving(doubler, tmp_path, "doubler")

    assert first == str(tmp_path / "doubler" / "1")
    assert second == str(tmp_path / "doubler" / "2")
    assert {"saved_model.pb", "variables", "assets"} <= set(os.listdir(first))
    assert _entries(tmp_path / "doubler") == ["1", "2"]  # no temporary directory left
    assert list_versions(tmp_path, "doubler") == [1, 2]
    assert latest_version(tmp_path, "doubler") == 2
    assert latest_version(tmp_path, "unknown") is None


def test_next_version_follows_the_largest_numeric_directory(doubler, tmp_path):
    # An incomplete version still takes its number; other names are not versions.
    (tmp_path / "doubler" / "7").mkdir(parents=True)
    (tmp_path / "doubler" / "backup-12").mkdir()

    path = export_for_serving(doubler, tmp_path, "doubler")

    assert path.endswith(os.path.join("doubler", "8"))
    assert list_versions(tmp_path, "doubler") == [8]
    # A stray file cannot take a version's place either.
    (tmp_path / "doubler" / "9").write_text("not a version")
    assert export_for_serving(doubler, tmp_path, "doubler").endswith("10")


def test_explicit_version_is_never_overwritten(doubler, tmp_path):
    export_for_serving(doubler, tmp_path, "doubler", version=5)
    before = os.stat(tmp_path / "doubler" / "5" / "saved_model.pb").st_mtime_ns

    with pytest.raises(ValueError, match="never overwritten"):
        export_for_serving(doubler, tmp_path, "doubler", version=5)

    assert os.stat(tmp_path / "doubler" / "5" / "saved_model.pb").st_mtime_ns == before
    export_for_serving(doubler, tmp_path, "doubler", version=4)
    assert export_for_serving(doubler, tmp_path, "doubler").endswith("6")
    assert _entries(tmp_path / "doubler") == ["4", "5", "6"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model_name": ""}, "model name"),
        ({"model_name": ".hidden"}, "model name"),
        ({"model_name": "../up"}, "model name"),
        ({"model_name": MODELS_CONFIG}, "model name"),
        ({"version": 0}, "positive integer"),
        ({"version": True}, "positive integer"),
        ({"version": "2"}, "positive integer"),
        ({"signatures": {"predict": Doubler().serve}}, "'serving_default'"),
        ({"signatures": {"serving_default": lambda x: x}}, "tf.function"),
        ({"extra_assets": {"../config.json": "{}"}}, "plain file names"),
        ({"extra_assets": {"config.json": 1}}, "str or bytes"),
    ],
)
def test_invalid_arguments_are_refused_before_writing(doubler, tmp_path, kwargs, message):
    kwargs = {"model_name": "doubler", **kwargs}
    with pytest.raises(ValueError, match=message):
        export_for_serving(doubler, tmp_path, **kwargs)
    assert not (tmp_path / "doubler").exists() or _entries(tmp_path / "doubler") == []


def test_signature_outputs_must_be_named(tmp_path):
    class Bare(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def serve(self, x):
            return x * 2.0  # TF Serving would call it "output_0"

    with pytest.raises(ValueError, match="dict from output names"):
        export_for_serving(Bare(), tmp_path, "bare")
    with pytest.raises(ValueError, match="`serve` tf.function"):
        export_for_serving(tf.Module(), tmp_path, "bare")


def test_failed_export_leaves_nothing_behind(doubler, tmp_path, monkeypatch):
    export_for_serving(doubler, tmp_path, "doubler")
    config_before = (tmp_path / MODELS_CONFIG).read_text()

    def partial_save(obj, export_dir, signatures=None, options=None):
        with open(os.path.join(export_dir, "saved_model.pb"), "wb") as f:
            f.write(b"half a graph")
        raise RuntimeError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", partial_save)
    with pytest.raises(RuntimeError, match="disk full"):
        export_for_serving(doubler, tmp_path, "doubler")
    with pytest.raises(RuntimeError, match="disk full"):
        export_for_serving(doubler, tmp_path, "other")

    assert _entries(tmp_path / "doubler") == ["1"]
    assert _entries(tmp_path / "other") == []
    assert (tmp_path / MODELS_CONFIG).read_text() == config_before


def test_version_appearing_during_export(doubler, tmp_path, monkeypatch):
    real_save = tf.saved_model.save

    def save_while_another_exports(obj, export_dir, signatures=None, options=None):
        real_save(obj, export_dir, signatures=signatures, options=options)
        other = tmp_path / "doubler" / "1"
        other.mkdir(exist_ok=True)
        (other / "saved_model.pb").write_bytes(b"another export")

    monkeypatch.setattr(tf.saved_model, "save", save_while_another_exports)
    # A requested version is refused...
    with pytest.raises(ValueError, match="meanwhile"):
        export_for_serving(doubler, tmp_path, "doubler", version=1)
    assert _entries(tmp_path / "doubler") == ["1"]
    assert (tmp_path / "doubler" / "1" / "saved_model.pb").read_bytes() == b"another export"
    # ...an automatic one takes the next number.
    assert export_for_serving(doubler, tmp_path, "doubler").endswith("2")
    assert _entries(tmp_path / "doubler") == ["1", "2"]


def test_extra_assets_travel_with_the_version(doubler, tmp_path):
    path = export_for_serving(
        doubler,
        tmp_path,
        "doubler",
        extra_assets={"config.json": '{"units": 8}', "blob.bin": b"\x89PNG\x00"},
    )
    extra = os.path.join(path, EXTRA_ASSETS_DIR)
    with open(os.path.join(extra, "config.json"), encoding="utf-8") as f:
        assert f.read() == '{"units": 8}'
    with open(os.path.join(extra, "blob.bin"), "rb") as f:
        assert f.read() == b"\x89PNG\x00"


def test_cudnn_ops_warn_that_the_export_needs_a_gpu(tmp_path):
    class NeedsGPU(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            # Traced, never run: the op only needs to be in the graph.
            size = tf.raw_ops.CudnnRNNParamsSize(
                num_layers=1, num_units=4, input_size=3, T=tf.float32, S=tf.int32
            )
            return {"y": x + tf.cast(size, tf.float32)}

    with pytest.warns(UserWarning, match="GPU-only ops"):
        export_for_serving(NeedsGPU(), tmp_path, "gpu")


# The model config file.

EXPECTED_CONFIG = """model_config_list {
  config {
    name: "sentiment"
    base_path: "/models/sentiment"
    model_platform: "tensorflow"
    model_version_policy {
      latest {
        num_versions: 1
      }
    }
  }
}
"""


def test_models_config_lists_every_exported_model(doubler, tmp_path):
    export_for_serving(doubler, tmp_path, "sentiment")
    assert (tmp_path / MODELS_CONFIG).read_text() == EXPECTED_CONFIG

    # Not models: a folder without a complete version, a temporary folder, a file.
    (tmp_path / "empty" / "3").mkdir(parents=True)
    (tmp_path / ".tmp-stale").mkdir()
    (tmp_path / "notes.txt").write_text("not a model")
    export_for_serving(doubler, tmp_path, "stocks")
    export_for_serving(doubler, tmp_path, "stocks")

    assert read_models_config(tmp_path) == [
        {
            "name": name,
            "base_path": f"/models/{name}",
            "model_platform": "tensorflow",
            "latest_versions": 1,
        }
        for name in ("sentiment", "stocks")
    ]
    text = (tmp_path / MODELS_CONFIG).read_text()
    assert re.findall(r'name: "([^"]*)"', text) == ["sentiment", "stocks"]
    assert not [name for name in os.listdir(tmp_path) if name.startswith(f".{MODELS_CONFIG}")]


def test_models_config_serving_root(doubler, tmp_path):
    export_for_serving(doubler, tmp_path, "sentiment", serving_root="gs://bucket/models/")
    assert read_models_config(tmp_path)[0]["base_path"] == "gs://bucket/models/sentiment"

    write_models_config(tmp_path, serving_root=None)
    assert read_models_config(tmp_path)[0]["base_path"] == str(tmp_path / "sentiment")

    with pytest.raises(ValueError, match="serving_root"):
        write_models_config(tmp_path, serving_root="")


def test_models_config_without_models_is_valid(tmp_path):
    write_models_config(tmp_path)
    assert read_models_config(tmp_path) == []


# Serving without the project.


def test_isolated_process_cannot_import_the_project(tmp_path):
    # The editable install puts seqlib on the path of any process using this
    # interpreter: `-I` and a directory outside the repository do not stop it...
    plain = subprocess.run(
        [sys.executable, "-I", "-c", "import seqlib"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert plain.returncode == 0, plain.stderr
    # ...the blocker does; every isolated child checks it before running anything.
    assert isolated_python("print('started')") == "started\n"
    for name in ("seqlib", "seqlib.layers", "apps", "datasets"):
        package = name.partition(".")[0]  # importing seqlib.layers imports seqlib first
        with pytest.raises(IsolatedProcessError, match=f"{package} is blocked"):
            isolated_python(f"import {name}")


def test_text_model_serves_the_same_without_seqlib(text_classifier, text_export):
    expected = text_classifier.serve(tf.constant(SERVE_TEXTS))

    served = run_isolated(text_export, {"texts": np.array(SERVE_TEXTS)})

    assert set(served) == {"label", "probability"}
    assert served["label"].dtype == object and served["probability"].dtype == np.float32
    np.testing.assert_array_equal(served["label"], expected["label"].numpy())
    np.testing.assert_allclose(served["probability"], expected["probability"].numpy(), atol=ATOL)
    # Training separated the obvious cases.
    assert list(served["label"][:2]) == [b"positive", b"negative"]


def test_checkpoint_holds_each_weight_once(text_classifier, text_export):
    keys = [
        key
        for key, _ in tf.train.list_variables(os.path.join(text_export, "variables", "variables"))
        if key.endswith("VARIABLE_VALUE")
    ]
    assert len(keys) == len(text_classifier.model.trainable_weights)  # embedding, GRU, dense


def test_saved_model_cli_runs_the_text_model(text_classifier, text_export):
    # The TF1 loader restores variables as TF Serving does; `tf.saved_model.load`
    # alone would not catch a variable the restore op misses.
    expected = text_classifier.serve(tf.constant(["good", "bad"]))["label"].numpy()

    report = saved_model_cli_run(text_export, {"texts": ["good", "bad"]})

    label_block = report.split("Result for output key label:")[1].split("Result for")[0]
    assert re.findall(r"b'(\w+)'", label_block) == [label.decode() for label in expected]
    assert "Result for output key probability:" in report


def test_saved_model_cli_show_lists_the_contract(text_export):
    report = saved_model_cli_show(text_export)

    serving = report.split("signature_def['serving_default']:")[1]
    assert "inputs['texts'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)" in serving
    assert "outputs['label'] tensor_info:\n        dtype: DT_STRING" in serving
    assert "outputs['probability'] tensor_info:\n        dtype: DT_FLOAT" in serving
    assert "Method name is: tensorflow/serving/predict" in serving


def test_isolated_failures_report_the_error(text_export, tmp_path):
    with pytest.raises(IsolatedProcessError, match="no signature 'predict'") as caught:
        run_isolated(text_export, {"texts": np.array(["good"])}, signature="predict")
    assert caught.value.returncode != 0
    assert "serving_default" in caught.value.stderr
    with pytest.raises(ValueError, match="saved_model.pb"):
        run_isolated(tmp_path, {"texts": np.array(["good"])})


# Signature helpers.


def test_label_outputs():
    softmax = label_outputs(tf.constant([[0.2, 0.8], [0.7, 0.3]]), LABELS)
    np.testing.assert_array_equal(softmax["label"].numpy(), [b"positive", b"negative"])
    np.testing.assert_allclose(softmax["probability"].numpy(), [0.8, 0.7])

    sigmoid = label_outputs(tf.constant([[0.9], [0.25]]), LABELS)
    np.testing.assert_array_equal(sigmoid["label"].numpy(), [b"positive", b"negative"])
    np.testing.assert_allclose(sigmoid["probability"].numpy(), [0.9, 0.75])

    with pytest.raises(ValueError, match="one label per output unit"):
        label_outputs(tf.constant([[0.2, 0.3, 0.5]]), LABELS)
