"""seqlib.training: config, overrides, schedules, loss, and the runner end to end.

The resume and two-worker tests run training in subprocesses (a killed process
and a TensorFlow cluster cannot live inside pytest's); their scripts are in
`training_helpers/`.
"""

import dataclasses
import enum
import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
import typing

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlib import layers
from seqlib.training import (
    SparseCategoricalCrossentropy,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    from_overrides,
    make_learning_rate,
    make_optimizer,
    progress,
    shuffle_for_epoch,
    sparse_categorical_crossentropy,
    train,
)

HELPERS = os.path.join(os.path.dirname(__file__), "training_helpers")
SUBPROCESS_TIMEOUT = 240
# Without TensorBoard every run warns that it writes no summaries.
pytestmark = pytest.mark.filterwarnings("ignore:TensorBoard is not installed")


# -- config and overrides -----------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": True}, "epochs"),
        ({"optimizer": "adagrad"}, "optimizer"),
        ({"lr_schedule": "linear"}, "lr_schedule"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"clipnorm": -1.0}, "clipnorm"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"strategy": "tpu"}, "strategy"),
        ({"mode": "lowest"}, "mode"),
        ({"warmup_steps": 10}, "warmup_steps=0"),
        ({"mixed_precision": "yes"}, "mixed_precision"),
    ],
)
def test_train_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=f"Expected `{message}`.*Received"):
        TrainConfig(**kwargs)


class Cell(enum.Enum):
    LSTM = "lstm"
    GRU = "gru"


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    units: int = 8
    cell: Cell = Cell.LSTM
    layer_sizes: tuple[int, ...] = (8, 8)


@dataclasses.dataclass(frozen=True)
class AppConfig:
    name: str = "demo"
    dropout: float = 0.1
    bidirectional: bool = False
    max_length: int | None = None
    attention: typing.Literal["luong", "bahdanau"] = "luong"
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)


def test_from_overrides_reads_values_by_field_type():
    config = from_overrides(
        AppConfig(),
        [
            "name=music",
            "dropout=0.25",
            "bidirectional=yes",
            "max_length=none",
            "attention=bahdanau",
            "model.units=32",
            "model.cell=GRU",
            "model.layer_sizes=16, 4",
        ],
    )
    assert config == AppConfig(
        name="music",
        dropout=0.25,
        bidirectional=True,
        max_length=None,
        attention="bahdanau",
        model=ModelConfig(units=32, cell=Cell.GRU, layer_sizes=(16, 4)),
    )
    assert from_overrides(config, ["max_length=12", "model.cell=lstm"]).max_length == 12
    train_config = from_overrides(TrainConfig(), ["epochs=3", "clipnorm=1", "jit_compile=false"])
    assert (train_config.epochs, train_config.clipnorm) == (3, 1.0)
    assert isinstance(train_config.clipnorm, float)


@pytest.mark.parametrize(
    "override, message",
    [
        ("epoch=3", r"Did you mean 'epochs'\?.*Received: key='epoch'"),
        ("epochs=three", r"Expected `epochs` to be an int\. Received: epochs='three'"),
        ("mixed_precision=maybe", r"Expected `mixed_precision` to be a bool"),
        ("clipnorm=big", r"Expected `clipnorm` to be a float or none"),
        ("epochs", r"Expected an override of the form key=value"),
        ("epochs=0", r"Expected `epochs` to be an integer >= 1"),  # the config's own check
    ],
)
def test_from_overrides_errors(override, message):
    with pytest.raises(ValueError, match=message):
        from_overrides(TrainConfig(), [override])


def test_from_overrides_errors_on_nested_and_literal_values():
    with pytest.raises(ValueError, match=r"one of \('luong', 'bahdanau'\)"):
        from_overrides(AppConfig(), ["attention=dot"])
    with pytest.raises(ValueError, match="dotted keys"):
        from_overrides(AppConfig(), ["model=big"])
    with pytest.raises(ValueError, match="a field of ModelConfig"):
        from_overrides(AppConfig(), ["model.unit=3"])


def test_config_round_trips_through_json():
    config = from_overrides(AppConfig(), ["model.cell=GRU", "model.layer_sizes=3,4"])
    data = json.loads(json.dumps(config_to_dict(config)))
    assert config_from_dict(AppConfig, data) == config
    assert config_from_dict(TrainConfig, config_to_dict(TrainConfig(epochs=2))) == TrainConfig(
        epochs=2
    )
    with pytest.raises(ValueError, match="unknown keys"):
        config_from_dict(TrainConfig, {"epochs": 2, "momentun": 0.9})


# -- schedules, clipping, loss, data helpers -----------------------------------


def test_learning_rate_schedules_match_their_formulas():
    lr, steps, epochs = 0.1, 10, 4
    total = steps * epochs
    at = lambda schedule, step: float(schedule(step))

    assert make_learning_rate(TrainConfig(learning_rate=lr), steps) == lr

    cosine = make_learning_rate(
        TrainConfig(learning_rate=lr, epochs=epochs, lr_schedule="cosine", min_lr_ratio=0.1), steps
    )
    for step in (0, 10, 20, 40, 55):
        fraction = min(step, total) / total
        expected = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * fraction)))
        assert at(cosine, step) == pytest.approx(expected, rel=1e-5)

    warmup = make_learning_rate(
        TrainConfig(learning_rate=lr, epochs=epochs, lr_schedule="warmup_cosine", warmup_steps=8),
        steps,
    )
    assert at(warmup, 0) == 0.0
    assert at(warmup, 4) == pytest.approx(lr / 2, rel=1e-5)
    assert at(warmup, 8) == pytest.approx(lr, rel=1e-5)
    middle = 8 + (total - 8) // 2
    assert at(warmup, middle) == pytest.approx(lr / 2, rel=1e-5)
    assert at(warmup, total) == pytest.approx(0.0, abs=1e-7)

    exponential = make_learning_rate(
        TrainConfig(learning_rate=lr, lr_schedule="exponential", lr_decay_rate=0.5), steps
    )
    assert at(exponential, 20) == pytest.approx(lr * 0.25, rel=1e-5)
    assert at(exponential, 15) == pytest.approx(lr * 0.5**1.5, rel=1e-5)


def test_clipnorm_clips_the_global_norm():
    config = TrainConfig(optimizer="sgd", learning_rate=1.0, clipnorm=0.5)
    optimizer = make_optimizer(config, steps_per_epoch=1)
    assert optimizer.global_clipnorm == 0.5 and optimizer.clipnorm is None
    a = keras.Variable(np.zeros(3, "float32"))
    b = keras.Variable(np.zeros(4, "float32"))
    grads = [np.full(3, 3.0, "float32"), np.full(4, 4.0, "float32")]
    optimizer.apply_gradients(zip(grads, [a, b]))
    update = np.concatenate([np.asarray(a), np.asarray(b)])
    # The joint update has norm 0.5 and the gradients' direction: per-variable
    # clipping would give each variable norm 0.5.
    np.testing.assert_allclose(np.linalg.norm(update), 0.5, rtol=1e-5)
    direction = -np.concatenate(grads) / np.linalg.norm(np.concatenate(grads))
    np.testing.assert_allclose(update / np.linalg.norm(update), direction, rtol=1e-5)


def numpy_smoothed_crossentropy(labels, logits, smoothing):
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs = log_probs - np.log(np.exp(log_probs).sum(-1, keepdims=True))
    classes = logits.shape[-1]
    targets = np.eye(classes)[labels] * (1 - smoothing) + smoothing / classes
    return -(targets * log_probs).sum(-1)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_label_smoothed_loss_matches_numpy(smoothing):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype("float32")  # (batch, time, classes)
    labels = rng.integers(0, 7, size=(3, 5))
    expected = numpy_smoothed_crossentropy(labels, logits.astype("float64"), smoothing)

    per_position = sparse_categorical_crossentropy(
        labels, logits, from_logits=True, label_smoothing=smoothing
    )
    np.testing.assert_allclose(per_position, expected, rtol=1e-5)
    loss = SparseCategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)
    np.testing.assert_allclose(loss(labels, logits), expected.mean(), rtol=1e-5)

    # Probabilities, and keras' own smoothing of one-hot labels, agree too.
    probs = keras.ops.softmax(logits)
    ours = SparseCategoricalCrossentropy(label_smoothing=smoothing)(labels[..., None], probs)
    theirs = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)(
        np.eye(7)[labels], probs
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    if smoothing == 0.0:
        keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        np.testing.assert_allclose(loss(labels, logits), keras_loss(labels, logits), rtol=1e-5)


def test_label_smoothed_loss_ignores_a_class_and_serializes():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 5, 7)).astype("float32")
    labels = rng.integers(1, 7, size=(3, 5))
    labels[:, 3:] = 0  # padding
    loss = SparseCategoricalCrossentropy(from_logits=True, label_smoothing=0.2, ignore_class=0)
    expected = numpy_smoothed_crossentropy(labels, logits.astype("float64"), 0.2)
    # The mean runs over the kept positions only, as in keras' `ignore_class`.
    np.testing.assert_allclose(loss(labels, logits), expected[:, :3].mean(), rtol=1e-5)

    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, SparseCategoricalCrossentropy)
    assert (restored.label_smoothing, restored.ignore_class) == (0.2, 0)
    with pytest.raises(ValueError, match="label_smoothing"):
        SparseCategoricalCrossentropy(label_smoothing=1.5)


def test_shuffle_for_epoch_depends_only_on_seed_and_epoch():
    examples = tf.data.Dataset.range(20)
    order = lambda epoch, seed=3: [int(v) for v in shuffle_for_epoch(examples, epoch, 20, seed)]
    first = order(1)
    assert sorted(first) == list(range(20))
    # Iterating again, or after other epochs, gives the same order.
    assert order(0) != first and order(1) == first
    dataset = shuffle_for_epoch(examples, 1, 20, 3)
    assert [int(v) for v in dataset] == [int(v) for v in dataset] == first
    assert order(1, seed=4) != first
    assert order(tf.constant(1, tf.int64)) == first


def test_progress_yields_every_item(capsys):
    assert list(progress(range(5), desc="Counting")) == list(range(5))
    assert list(progress(iter("abc"))) == ["a", "b", "c"]  # no length: counts
    assert list(progress([1, 2], verbose=0)) == [1, 2]
    out = capsys.readouterr().out
    assert "Counting" in out and "5/5" in out


# -- the runner ------------------------------------------------------------------


def regression_data(n=64, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = x @ rng.normal(size=(features, 1)).astype("float32")
    return x, y


def dense_model(features=4, kernel_initializer="glorot_uniform"):
    return keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(1, kernel_initializer=kernel_initializer, use_bias=False),
        ]
    )


def test_train_writes_the_run_directory(tmp_path):
    x, y = regression_data()
    examples = tf.data.Dataset.from_tensor_slices((x, y))
    config = TrainConfig(epochs=2, batch_size=16, learning_rate=0.05, seed=3)
    app_config = AppConfig(name="writes")

    def train_data(epoch):
        return shuffle_for_epoch(examples, epoch, 64, config.seed).batch(config.batch_size)

    result = train(
        dense_model,
        train_data,
        config,
        tmp_path,
        compile_kwargs={"loss": "mse"},
        validation_data=examples.take(16).batch(16),
        app_config=app_config,
        verbose=0,
    )
    assert (result.initial_epoch, result.epochs_completed) == (0, 2)
    assert not result.stopped_early and not result.terminated_on_nan
    assert len(result.history["loss"]) == 2

    checkpoints = os.listdir(tmp_path / "checkpoints")
    for name in ("epoch-001.weights.h5", "epoch-002.weights.h5", "best.weights.h5"):
        assert name in checkpoints
    assert {"final.weights.h5", "state.json", "epoch-002.state.npz"} <= set(checkpoints)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert config_from_dict(TrainConfig, saved["train"]) == config
    assert config_from_dict(AppConfig, saved["app"]) == app_config
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert lines[0].split(",")[:3] == ["epoch", "loss", "val_loss"] and len(lines) == 3
    # TensorBoard is a dependency: the event files must be there.
    events = [f for _, _, files in os.walk(tmp_path / "logs") for f in files]
    assert any(f.startswith("events.out.tfevents") for f in events), events

    # The final checkpoint holds the returned weights.
    reloaded = dense_model()
    reloaded.load_weights(tmp_path / "checkpoints" / "final.weights.h5")
    np.testing.assert_array_equal(reloaded.get_weights()[0], result.model.get_weights()[0])

    # A run directory is not silently reused...
    with pytest.raises(ValueError, match="already holds a training run"):
        train(dense_model, train_data, config, tmp_path, compile_kwargs={"loss": "mse"})
    # ...resuming a finished run trains no further...
    again = train(
        dense_model,
        train_data,
        config,
        tmp_path,
        compile_kwargs={"loss": "mse"},
        validation_data=examples.take(16).batch(16),
        resume=True,
        verbose=0,
    )
    assert again.epochs_completed == 2 and again.history == {}
    np.testing.assert_array_equal(again.model.get_weights()[0], result.model.get_weights()[0])
    # ...even once its epoch checkpoints are cleared away (it reads the final weights)...
    for name in os.listdir(tmp_path / "checkpoints"):
        if name.startswith("epoch-"):
            os.remove(tmp_path / "checkpoints" / name)
    again = train(
        dense_model, train_data, config, tmp_path, compile_kwargs={"loss": "mse"},
        resume=True, verbose=0,
    )  # fmt: skip
    assert again.epochs_completed == 2
    np.testing.assert_array_equal(again.model.get_weights()[0], result.model.get_weights()[0])
    # ...and resuming with a different recipe is refused.
    with pytest.raises(ValueError, match="learning_rate"):
        train(
            dense_model,
            train_data,
            dataclasses.replace(config, learning_rate=0.1),
            tmp_path,
            compile_kwargs={"loss": "mse"},
            resume=True,
        )


def test_train_rejects_bad_arguments(tmp_path):
    x, y = regression_data(16)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match="compile_kwargs"):
        train(dense_model, data, TrainConfig(), tmp_path, compile_kwargs={"optimizer": "sgd"})
    with pytest.raises(ValueError, match="validation_data"):
        train(dense_model, data, TrainConfig(early_stopping_patience=1), tmp_path)
    with pytest.raises(ValueError, match="train_data"):
        train(dense_model, [x, y], TrainConfig(), tmp_path)


def run_resume_script(tmp_path, name, *args):
    return subprocess.Popen(
        [
            sys.executable,
            os.path.join(HELPERS, "resume_run.py"),
            "--run-dir",
            str(tmp_path / name),
            "--out",
            str(tmp_path / f"{name}.npz"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_all(processes, expected_codes):
    try:
        outputs = [p.communicate(timeout=SUBPROCESS_TIMEOUT) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err), code in zip(processes, outputs, expected_codes):
        assert p.returncode == code, f"exit code {p.returncode}, stderr:\n{err[-6000:]}"


def test_resume_after_a_kill_matches_the_uninterrupted_run(tmp_path):
    # An LSTM with input and recurrent dropout and a Dropout layer, Adam with a
    # warmup-cosine schedule, clipping and early stopping: everything a resume
    # has to restore. The killed run dies during epoch 3, after its batch 2.
    whole = run_resume_script(tmp_path, "whole")
    killed = run_resume_script(tmp_path, "resumed", "--kill-epoch", "2", "--kill-batch", "2")
    wait_all([whole, killed], [0, 17])
    state = json.loads((tmp_path / "resumed" / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 2
    wait_all([run_resume_script(tmp_path, "resumed", "--resume")], [0])

    expected = np.load(tmp_path / "whole.npz")
    resumed = np.load(tmp_path / "resumed.npz")
    assert int(resumed["initial_epoch"]) == 2
    assert set(expected.files) == set(resumed.files)
    for name in expected.files:
        if name != "initial_epoch":
            # weights, optimizer variables (step, moments) and dropout RNG state
            np.testing.assert_array_equal(resumed[name], expected[name], err_msg=name)
    history = lambda name: (tmp_path / name / "history.csv").read_text()
    assert history("resumed") == history("whole")
    assert len(history("whole").splitlines()) == 5


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_identically_and_match_one_process(tmp_path):
    hosts = [f"127.0.0.1:{port}" for port in free_ports(2)]
    workers = []
    for index in range(2):
        tf_config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), KERAS_BACKEND="tensorflow")
        command = [
            sys.executable,
            os.path.join(HELPERS, "multiworker_run.py"),
            "--run-dir",
            str(tmp_path / "run"),  # shared, as on a cluster file system
            "--out",
            str(tmp_path / f"worker{index}.npz"),
        ]
        workers.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    wait_all(workers, [0, 0])

    chief, other = (np.load(tmp_path / f"worker{i}.npz") for i in range(2))
    for name in chief.files:
        np.testing.assert_array_equal(chief[name], other[name], err_msg=name)
    assert chief["loss"][-1] < chief["loss"][0]
    # Only the chief wrote the run directory.
    assert "epoch-003.weights.h5" in os.listdir(tmp_path / "run" / "checkpoints")
    assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 4

    # Two workers with half a batch each take the steps of one process.
    spec = importlib.util.spec_from_file_location(
        "multiworker_run", os.path.join(HELPERS, "multiworker_run.py")
    )
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    single = helper.run(tmp_path / "single", "default")
    np.testing.assert_allclose(single.history["loss"], chief["loss"], rtol=1e-5)
    for i, weight in enumerate(single.model.get_weights()):
        np.testing.assert_allclose(weight, chief[f"weight{i}"], atol=1e-5)


def test_early_stopping_stops_when_val_loss_rises_and_restores_the_best(tmp_path):
    # Train on y = x, validate on y = -x: from a zero kernel every step towards
    # the training target moves away from the validation one, so val_loss
    # rises from the first epoch on.
    x = np.random.default_rng(0).normal(size=(32, 1)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x)).batch(8)
    validation = tf.data.Dataset.from_tensor_slices((x, -x)).batch(8)
    config = TrainConfig(epochs=10, optimizer="sgd", learning_rate=0.05, early_stopping_patience=1)
    result = train(
        lambda: dense_model(1, kernel_initializer="zeros"),
        data,
        config,
        tmp_path,
        compile_kwargs={"loss": "mse"},
        validation_data=validation,
        verbose=0,
    )
    val_loss = result.history["val_loss"]
    assert result.stopped_early and result.epochs_completed == 2
    assert val_loss[1] > val_loss[0]
    best = dense_model(1)
    best.load_weights(tmp_path / "checkpoints" / "epoch-001.weights.h5")
    np.testing.assert_array_equal(result.model.get_weights()[0], best.get_weights()[0])


def test_terminate_on_nan_stops_and_keeps_no_nan_checkpoint(tmp_path):
    x, y = regression_data(48)
    y[40] = np.nan  # batch 5 of 6 in epoch 1
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    result = train(
        dense_model,
        data,
        TrainConfig(epochs=5, monitor="loss"),
        tmp_path,
        compile_kwargs={"loss": "mse"},
        verbose=0,
    )
    assert result.terminated_on_nan and len(result.history["loss"]) == 1
    assert result.epochs_completed == 0
    assert not math.isfinite(result.history["loss"][0])
    # Nothing to resume from: no epoch ended with a finite loss.
    assert not os.path.exists(tmp_path / "checkpoints" / "state.json")


def test_keep_checkpoints_prunes_old_epochs(tmp_path):
    x, y = regression_data(32)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    train(
        dense_model,
        data,
        TrainConfig(epochs=3, keep_checkpoints=1, monitor="loss"),
        tmp_path,
        compile_kwargs={"loss": "mse"},
        verbose=0,
    )
    names = sorted(os.listdir(tmp_path / "checkpoints"))
    assert [n for n in names if n.startswith("epoch-")] == [
        "epoch-003.state.npz",
        "epoch-003.weights.h5",
    ]


class InitialWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [w.copy() for w in self.model.get_weights()]


def lstm_model():
    return keras.Sequential(
        [
            keras.Input((5, 3)),
            layers.LSTM(4, dropout=0.2),
            # Outputs and the loss stay float32 under mixed precision.
            keras.layers.Dense(1, dtype="float32"),
        ]
    )


@pytest.mark.parametrize(
    "options",
    [{"mixed_precision": True}, {"jit_compile": True}, {"strategy": "mirrored"}],
    ids=["mixed_float16", "xla", "mirrored"],
)
def test_train_options_run_an_epoch(tmp_path, options):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None]
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    policy = keras.config.dtype_policy().name
    initial = InitialWeights()

    result = train(
        lstm_model,
        data,
        TrainConfig(epochs=1, learning_rate=0.01, **options),
        tmp_path,
        compile_kwargs={"loss": "mse"},
        callbacks=[initial],
        verbose=0,
    )
    assert math.isfinite(result.history["loss"][0])
    assert all(
        not np.array_equal(a, b)
        for a, b in zip(initial.weights, result.model.get_weights(), strict=True)
    )
    assert keras.config.dtype_policy().name == policy  # restored after the run
    if options.get("mixed_precision"):
        assert result.model.layers[0].compute_dtype == "float16"
        assert isinstance(result.model.optimizer, keras.optimizers.LossScaleOptimizer)
    if options.get("jit_compile"):
        assert result.model.jit_compile


def test_check_run_dir_is_the_one_may_i_train_here_check(tmp_path):
    from seqlib.training import check_run_dir

    @dataclasses.dataclass(frozen=True)
    class AppConfig:
        vocabulary: int = 100
        train: TrainConfig = TrainConfig(epochs=2)

    app = AppConfig()
    # An empty or missing directory, or one where no epoch completed, is free.
    assert check_run_dir(tmp_path / "missing", app.train, resume=False) is None
    x, y = regression_data(32)
    examples = tf.data.Dataset.from_tensor_slices((x, y))
    train(
        dense_model,
        examples.batch(16),
        app.train,
        tmp_path,
        compile_kwargs={"loss": "mse"},
        app_config=app,
        verbose=0,
    )
    with pytest.raises(ValueError, match="already holds a training run"):
        check_run_dir(tmp_path, app.train, resume=False, app_config=app)
    assert check_run_dir(tmp_path, app.train, resume=True, app_config=app)["epoch"] == 2
    # More epochs may be asked of a resumed run; nothing else of either config.
    more = dataclasses.replace(app, train=dataclasses.replace(app.train, epochs=4))
    assert check_run_dir(tmp_path, more.train, resume=True, app_config=more)["epoch"] == 2
    changed = dataclasses.replace(app, vocabulary=50)
    with pytest.raises(ValueError, match="vocabulary"):
        check_run_dir(tmp_path, changed.train, resume=True, app_config=changed)
    # A run saved before a field existed was trained as the field's default says.
    record = json.loads((tmp_path / "config.json").read_text())
    del record["app"]["vocabulary"], record["train"]["clipnorm"]
    (tmp_path / "config.json").write_text(json.dumps(record))
    assert check_run_dir(tmp_path, app.train, resume=True, app_config=app)["epoch"] == 2
    with pytest.raises(ValueError, match=r"'vocabulary': \(100, 50\)"):
        check_run_dir(tmp_path, changed.train, resume=True, app_config=changed)
    clipped = dataclasses.replace(app.train, clipnorm=1.0)
    with pytest.raises(ValueError, match="clipnorm"):
        check_run_dir(tmp_path, clipped, resume=True, app_config=app)


def test_fit_verbosity_is_one_line_per_epoch_off_a_terminal(monkeypatch):
    import io

    from seqlib.training import fit_verbosity

    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert fit_verbosity("auto") == 2
    assert fit_verbosity(0) == 0 and fit_verbosity(1) == 1


def test_a_run_in_a_log_writes_one_line_per_epoch(tmp_path, capsys):
    x, y = regression_data(32)
    examples = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    train(
        dense_model, examples, TrainConfig(epochs=3), tmp_path,
        compile_kwargs={"loss": "mse"}, verbose=2,
    )  # fmt: skip
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("loss: " in line for line in lines)


def test_a_deterministic_run_leaves_the_process_as_it_found_it(tmp_path):
    from tensorflow.python.framework import config as tf_config

    x, y = regression_data(32)
    examples = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    runs = []
    for name in ("a", "b"):
        runs.append(
            train(
                dense_model,
                examples,
                TrainConfig(epochs=2, deterministic=True),
                tmp_path / name,
                compile_kwargs={"loss": "mse"},
                verbose=0,
            ).model.get_weights()
        )
        assert not tf_config.is_op_determinism_enabled()
        assert not tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer")
    for first, second in zip(*runs):
        np.testing.assert_array_equal(first, second)
