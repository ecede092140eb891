"""`train`: the one training loop of every app, built on `keras.Model.fit`.

What a run writes, under `run_dir`:

- `config.json`: the `TrainConfig`, the app's config, the seqlib version and the
  git commit of the code.
- `checkpoints/epoch-00k.weights.h5` after every epoch `k` (model and optimizer),
  `checkpoints/best.weights.h5` (the best epoch by `config.monitor`),
  `checkpoints/final.weights.h5` (the returned weights: early stopping's best
  epoch if it stopped the run, else the last), and the resume record
  (`state.json` and `epoch-00k.state.npz`, see `seqlib.training.run_state`).
- `logs/`: TensorBoard summaries (`logs/train`, `logs/validation`), when the
  `tensorboard` package is installed (a warning says so when it is not).
- `history.csv`: one row per epoch; a resumed run drops the rows of epochs it
  runs again and appends to the rest.

Resume guarantee. A run killed at any point and restarted with `resume=True`
continues from its last completed epoch and ends with the same weights, bit for
bit, as the run that was never interrupted, provided that:

1. the training data is a `train_data(epoch)` callable whose order depends only
   on the epoch (e.g. `shuffle_for_epoch`), not a dataset that reshuffles on each
   iteration: that order depends on how many epochs ran in this process;
2. `build_model`, `compile_kwargs` and the config (other than `epochs` and
   `keep_checkpoints`) are the same, and the run is on the same devices, number
   of workers and TensorFlow build (floating-point results are not portable
   across them);
3. the model draws its randomness from `keras.random.SeedGenerator`s it owns,
   as keras' and seqlib's layers do.

How: the checkpoint restores the weights and the optimizer (so its step counter
and the learning-rate schedule continue); the saved non-trainable variables
restore every `SeedGenerator`, so dropout draws the masks it would have drawn;
`fit(initial_epoch=k)` restarts the epoch count, and the data of epochs
`k, k + 1, ...` is rebuilt from the epoch numbers; early stopping, the `best`
checkpoint and `history.csv` continue where they were. Work done in the epoch
that was interrupted is discarded.

A run that finished (all epochs, or stopped early) is not trained further by
`resume=True` unless `epochs` was raised; a run stopped by a NaN loss resumes
from its last finite epoch.
"""

import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import keras
import tensorflow as tf

import seqlib
from seqlib.training.config import TrainConfig
from seqlib.training.optimizers import make_optimizer
from seqlib.training.overrides import config_to_dict
from seqlib.training.run_state import (
    FINAL_WEIGHTS,
    RunState,
    read_state,
    restore_final,
    restore_state,
)
from seqlib.training.strategies import is_chief, make_strategy

# Config fields a resumed run may change: neither alters the arithmetic of the
# epochs already run.
_RESUMABLE_CHANGES = ("epochs", "keep_checkpoints")


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What `train` returns.

    Args:
        model: The trained, compiled model (with the best weights if early
            stopping stopped the run).
        history: `History.history` of the epochs run by this call; the whole
            run's history is in `run_dir/history.csv`.
        initial_epoch: The number of epochs already completed when this call
            started (non-zero when resuming).
        epochs_completed: The number of completed epochs of the run.
        stopped_early: Whether early stopping ended the run.
        terminated_on_nan: Whether a NaN or infinite loss ended the run.
        run_dir: The run directory.
    """

    model: keras.Model
    history: dict
    initial_epoch: int
    epochs_completed: int
    stopped_early: bool
    terminated_on_nan: bool
    run_dir: str


def train(
    build_model,
    train_data,
    config,
    run_dir,
    *,
    compile_kwargs=None,
    validation_data=None,
    steps_per_epoch=None,
    resume=False,
    callbacks=(),
    app_config=None,
    verbose="auto",
):
    """Builds, compiles and fits a model, writing a resumable run to `run_dir`.

    The order of work: make the strategy, seed everything (`config.seed`), set
    the dtype policy, then inside the strategy's scope call `build_model()`,
    make the optimizer (`make_optimizer`: schedule and global-norm clipping) and
    compile with `jit_compile`; on resume, load the last completed epoch; then
    `model.fit` with `ModelCheckpoint` (each epoch and best), `EarlyStopping`
    (`restore_best_weights=True`, if `config.early_stopping_patience` is set),
    `TerminateOnNaN`, `TensorBoard`, `CSVLogger` and the resume record
    (`RunState`), followed by `callbacks`. The global dtype policy is restored
    afterwards, so `mixed_precision` does not leak into later models.

    Under `config.strategy="multiworker"`, every worker runs the same program
    and calls `train` with the same arguments; the program must call
    `make_strategy("multiworker")` first, before it builds its datasets
    (TensorFlow configures collective ops only at startup). The chief writes
    `run_dir`, the others write to a temporary directory they delete at the end
    (they still read `run_dir` to resume, so it must be on a shared file
    system). Datasets are sharded by element (`AutoShardPolicy.DATA`) and
    batches must have the global batch size.

    Args:
        build_model: A callable returning an uncompiled `keras.Model`. It is
            called inside the strategy scope, under the run's dtype policy and
            seed; it is called again when resuming, and must build the same model.
        train_data: Either a callable `epoch -> tf.data.Dataset` of the batches
            of that epoch, where `epoch` is a scalar `tf.int64` tensor (traced
            once: use it for seeds, e.g. `shuffle_for_epoch`, not in python
            `if`s), or a batched `tf.data.Dataset` iterated once per epoch. Only
            the callable gives an exact resume (see the module docstring).
            Elements are `(x, y)` or `(x, y, sample_weight)`.
        config: A `seqlib.training.TrainConfig`.
        run_dir: The directory of the run; created if missing.
        compile_kwargs: Keyword arguments of `model.compile` other than
            `optimizer`, `jit_compile` and `steps_per_execution`, e.g.
            `{"loss": ..., "metrics": [...]}`.
        validation_data: An optional batched `tf.data.Dataset` evaluated after
            every epoch.
        steps_per_epoch: Batches per epoch. Needed when it cannot be read from
            the dataset's cardinality (e.g. after `filter`); with a callable,
            each epoch's dataset is cut to this many batches.
        resume: Continue the run in `run_dir` from its last completed epoch.
            Without it, a `run_dir` that already holds a run is an error.
        callbacks: Extra `keras.callbacks.Callback`s, run after the runner's.
        app_config: The app's config dataclass, saved in `config.json` beside
            `config`.
        verbose: `model.fit`'s verbosity; `"auto"` is keras' progress bar on a
            terminal and one line per epoch otherwise (`fit_verbosity`).

    Returns:
        A `TrainResult`.

    Example:

    >>> def build_model():
    ...     return keras.Sequential([keras.Input((None, 8)), seqlib.layers.LSTM(32),
    ...                              keras.layers.Dense(2)])
    >>> def train_data(epoch):
    ...     return shuffle_for_epoch(examples, epoch, 1000, seed=config.seed).batch(32)
    >>> result = train(build_model, train_data, TrainConfig(epochs=3), "runs/demo",
    ...                compile_kwargs={"loss": SparseCategoricalCrossentropy(from_logits=True)},
    ...                validation_data=validation.batch(32))
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"Expected a TrainConfig. Received: config={config!r}")
    if not callable(build_model):
        raise ValueError(f"Expected `build_model` to be a callable. Received: {build_model!r}")
    compile_kwargs = dict(compile_kwargs or {})
    reserved = sorted({"optimizer", "jit_compile", "steps_per_execution"} & set(compile_kwargs))
    if reserved:
        raise ValueError(
            f"Expected `compile_kwargs` without {reserved}: the runner sets them from the "
            f"config. Received: compile_kwargs keys={sorted(compile_kwargs)}"
        )
    monitor_available = validation_data is not None or not config.monitor.startswith("val_")
    if config.early_stopping_patience is not None and not monitor_available:
        raise ValueError(
            f"Expected `validation_data` for early stopping on monitor={config.monitor!r}, "
            "or a training metric as `monitor` (e.g. monitor='loss'). Received: validation_data=None"
        )

    run_dir = os.fspath(run_dir)
    checkpoint_dir = os.path.join(run_dir, "checkpoints")
    state = check_run_dir(run_dir, config, resume, app_config)
    initial_epoch = state["epoch"] if state else 0
    verbose = fit_verbosity(verbose)

    # A multi-worker strategy must exist before TensorFlow runs anything else.
    strategy = make_strategy(config.strategy)
    chief = is_chief(strategy)
    write_dir = run_dir if chief else tempfile.mkdtemp(prefix="seqlib-worker-")
    write_checkpoints = os.path.join(write_dir, "checkpoints")
    os.makedirs(write_checkpoints, exist_ok=True)

    keras.utils.set_random_seed(config.seed)
    previous_graph_options = tf.config.optimizer.get_experimental_options()
    if config.deterministic:
        was_deterministic = _op_determinism(True)
        # Grappler's rewrites of the train step let the order of floating-point
        # sums depend on thread scheduling (seen in the captioning model: its
        # gradients differ by ~1e-9 from call to call); without them the step
        # runs as written, and the same run gives the same weights.
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    previous_policy = keras.config.dtype_policy()
    try:
        if config.mixed_precision:
            keras.config.set_dtype_policy("mixed_float16")
        if chief:
            _write_config(run_dir, config, app_config)

        first_epoch_data, dataset, steps = _training_data(
            train_data, initial_epoch, config.epochs, steps_per_epoch
        )
        if validation_data is not None:
            validation_data = _shard_by_element(validation_data)

        model = _build_and_compile(
            build_model, config, compile_kwargs, strategy, steps, first_epoch_data
        )
        early_stopping = None
        if config.early_stopping_patience is not None:
            early_stopping = keras.callbacks.EarlyStopping(
                monitor=config.monitor,
                mode=config.mode,
                patience=config.early_stopping_patience,
                restore_best_weights=True,
                verbose=1 if verbose else 0,
            )
        best_weights = None
        if state is not None:
            finished = state["stop_training"] or initial_epoch >= config.epochs
            with strategy.scope():
                # A finished run reads its final weights: its epoch checkpoints may be gone.
                if not (finished and restore_final(model, checkpoint_dir)):
                    best_weights = restore_state(
                        model, checkpoint_dir, state, best_weights=early_stopping is not None
                    )
            if finished:
                # Already finished: return what it finished with.
                if best_weights is not None:
                    model.set_weights(best_weights)
                return TrainResult(
                    model=model,
                    history={},
                    initial_epoch=initial_epoch,
                    epochs_completed=initial_epoch,
                    stopped_early=bool(state["stop_training"]),
                    terminated_on_nan=False,
                    run_dir=run_dir,
                )

        best_checkpoint = None
        if monitor_available:
            best_checkpoint = keras.callbacks.ModelCheckpoint(
                os.path.join(write_checkpoints, "best.weights.h5"),
                monitor=config.monitor,
                mode=config.mode,
                save_best_only=True,
                save_weights_only=True,
            )
        run_state = RunState(
            write_checkpoints,
            early_stopping=early_stopping,
            best_checkpoint=best_checkpoint,
            resumed=state,
            best_weights=best_weights,
            keep_checkpoints=config.keep_checkpoints,
            write=chief,
        )
        history_path = os.path.join(write_dir, "history.csv")
        _truncate_history(history_path, initial_epoch)
        # Order matters at the end of an epoch: `run_state` records the files
        # and progress the callbacks before it have just written.
        run_callbacks = [
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.ModelCheckpoint(
                os.path.join(write_checkpoints, "epoch-{epoch:03d}.weights.h5"),
                save_weights_only=True,
            ),
            best_checkpoint,
            keras.callbacks.CSVLogger(history_path, append=True),
            _tensorboard(os.path.join(write_dir, "logs")),
            EpochLine(config.epochs) if verbose == 2 and chief else None,
            early_stopping,
            run_state,
            *callbacks,
        ]
        history = model.fit(
            dataset,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps if callable(train_data) else steps_per_epoch,
            validation_data=validation_data,
            callbacks=[c for c in run_callbacks if c is not None],
            # 2 is one line per epoch, written by `EpochLine` (keras' own adds an
            # "Epoch k/n" line before each).
            verbose=1 if verbose == 1 and chief else 0,
            # The order of the data is the data's own (see `shuffle_for_epoch`).
            shuffle=False,
        )
        # `save_weights` from every worker, as TensorFlow's multi-worker guide
        # asks: it may involve collective ops.
        model.save_weights(os.path.join(write_checkpoints, FINAL_WEIGHTS))
        # An epoch cut short by a NaN loss did not complete.
        epochs_completed = initial_epoch + len(history.epoch) - int(run_state.terminated_on_nan)
        return TrainResult(
            model=model,
            history=dict(history.history),
            initial_epoch=initial_epoch,
            epochs_completed=epochs_completed,
            stopped_early=early_stopping is not None and early_stopping.stopped_epoch > 0,
            terminated_on_nan=run_state.terminated_on_nan,
            run_dir=run_dir,
        )
    finally:
        keras.config.set_dtype_policy(previous_policy)
        if config.deterministic:
            tf.config.optimizer.set_experimental_options(
                {"disable_meta_optimizer": False, **previous_graph_options}
            )
            _op_determinism(was_deterministic)
        if not chief:
            shutil.rmtree(write_dir, ignore_errors=True)


def _build_and_compile(build_model, config, compile_kwargs, strategy, steps, first_epoch_data):
    with strategy.scope():
        model = build_model()
        if not isinstance(model, keras.Model):
            raise ValueError(
                f"Expected `build_model()` to return a keras.Model. Received: {model!r}"
            )
        model.compile(
            optimizer=_optimizer(config, steps),
            jit_compile=config.jit_compile,
            steps_per_execution=config.steps_per_execution,
            **compile_kwargs,
        )
        multiworker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        if not model.built or multiworker:
            # Restoring a checkpoint needs the variables to exist.
            sample_batch = next(iter(first_epoch_data.take(1)))
            if not model.built:
                x, _, _ = keras.utils.unpack_x_y_sample_weight(sample_batch)
                model(x, training=False)
            if multiworker:
                _adapt_for_multiworker(model, sample_batch)
    return model


def _adapt_for_multiworker(model, batch):
    """Works around two keras 3 bugs with `MultiWorkerMirroredStrategy`.

    Both are keras-team/keras#20585. (1) `fit` builds a distributed model from
    the mean over replicas of its first batch, a reduction that fails for
    `(x, y)` batches under this strategy. Only the batch's shapes and dtypes
    are read, so build from a local batch instead and skip keras' step. (2) The
    per-step logs are reduced across workers along axis 0, which scalars do not
    have: give them one, of length 1, so the reduction is the mean over replicas.
    """
    model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None

    def with_axis(step):
        def step_with_axis(data):
            logs = step(data)
            return {
                name: keras.ops.expand_dims(value, 0) if len(value.shape) == 0 else value
                for name, value in logs.items()
            }

        return step_with_axis

    model.train_step = with_axis(model.train_step)
    model.test_step = with_axis(model.test_step)


def _tensorboard(log_dir):
    # TensorFlow does not depend on TensorBoard; without it `tf.summary` fails
    # on the first write, so leave the logs out rather than the run.
    if importlib.util.find_spec("tensorboard") is None:
        warnings.warn(
            f"TensorBoard is not installed: no summaries are written to {log_dir}. "
            "Install it with `pip install tensorboard`.",
            stacklevel=3,
        )
        return None
    # The graph summary costs a trace per run and is rarely read.
    return keras.callbacks.TensorBoard(log_dir, write_graph=False)


def _optimizer(config, steps):
    if steps is None:
        if config.lr_schedule != "constant":
            raise ValueError(
                f"Expected `steps_per_epoch` for lr_schedule={config.lr_schedule!r}: the "
                "dataset's number of batches is unknown. Received: steps_per_epoch=None"
            )
        steps = 1  # A constant learning rate does not depend on it.
    return make_optimizer(config, steps)


def _training_data(train_data, initial_epoch, epochs, steps_per_epoch):
    """Returns (first epoch's dataset, what to give `fit`, batches per epoch)."""
    if isinstance(train_data, tf.data.Dataset):
        steps = steps_per_epoch or _cardinality(train_data)
        return train_data, _shard_by_element(train_data), steps
    if not callable(train_data):
        raise ValueError(
            "Expected `train_data` to be a tf.data.Dataset or a callable epoch -> Dataset. "
            f"Received: train_data={train_data!r}"
        )
    first = train_data(tf.constant(initial_epoch, tf.int64))
    if not isinstance(first, tf.data.Dataset):
        raise ValueError(
            f"Expected `train_data(epoch)` to return a tf.data.Dataset. Received: {first!r}"
        )
    steps = steps_per_epoch or _cardinality(first)
    if steps is None:
        raise ValueError(
            "Expected `steps_per_epoch`: the number of batches of `train_data(epoch)` is "
            "unknown or infinite. Received: steps_per_epoch=None"
        )
    # One stream over the remaining epochs: `fit` keeps one iterator across
    # epochs when given `steps_per_epoch`, and every epoch's batches come from
    # `train_data(epoch)`, whichever epoch the run starts at. Each epoch is cut
    # to `steps` batches so a short or long epoch cannot shift the next.
    stream = tf.data.Dataset.range(initial_epoch, epochs).flat_map(
        lambda epoch: train_data(epoch).take(steps)
    )
    return first, _shard_by_element(stream.prefetch(tf.data.AUTOTUNE)), steps


def _cardinality(dataset):
    count = int(dataset.cardinality())
    return count if count > 0 else None


def _shard_by_element(dataset):
    # A multi-worker strategy would otherwise try to shard by input file, and
    # most of our datasets come from memory; without a strategy it is unused.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _write_config(run_dir, config, app_config):
    os.makedirs(run_dir, exist_ok=True)
    record = {
        "train": config_to_dict(config),
        "app": None if app_config is None else config_to_dict(app_config),
        "app_class": None if app_config is None else type(app_config).__qualname__,
        "seqlib_version": seqlib.__version__,
        "commit": _git_commit(),
    }
    path = os.path.join(run_dir, "config.json")
    with open(f"{path}.tmp", "w") as f:
        json.dump(record, f, indent=2)
    os.replace(f"{path}.tmp", path)


def check_run_dir(run_dir, config, resume, app_config=None):
    """May a run be trained in `run_dir`? The one check, made before anything is written.

    A directory holds a run once an epoch has completed there (its resume
    record exists). Such a directory is refused without `resume`, and with
    `resume` the config must be the saved one: only `epochs` and
    `keep_checkpoints` of the `TrainConfig` may change, and nothing of
    `app_config` (the app's data encoding and model). A directory without a
    completed epoch is free: it is trained from scratch, and what an earlier
    attempt left there is written anew.

    Apps call this before they write their own files (a vocabulary, a
    scaler), so that a refused run leaves the directory as it was; `train`
    calls it again itself.

    Args:
        run_dir: The run directory (it need not exist).
        config: The `TrainConfig` of the run to be trained.
        resume: Whether continuing the run in `run_dir` is allowed.
        app_config: The app's config dataclass, compared with the saved one.

    Returns:
        The resume record of the run to continue, or `None` when training
        starts from scratch.

    Raises:
        ValueError: The directory holds a run and `resume` is false, or the
            config differs from the saved one.
    """
    run_dir = os.fspath(run_dir)
    state = read_state(os.path.join(run_dir, "checkpoints"))
    if state is None:
        return None
    if not resume:
        raise ValueError(
            f"{run_dir} already holds a training run ({state['epoch']} epochs): pass "
            "--resume (`resume=True`) to continue it, or --fresh to train again from scratch."
        )
    path = os.path.join(run_dir, "config.json")
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        _check_same(saved.get("train") or {}, config_to_dict(config), _defaults(config))
        if app_config is not None and saved.get("app") is not None:
            _check_same(saved["app"], config_to_dict(app_config), _defaults(app_config))
    return state


def _defaults(config):
    """The flattened config of `config`'s class built with no arguments, or `{}`
    when it needs some: what a field absent from a saved config stands for."""
    try:
        return _flatten(config_to_dict(type(config)()))
    except TypeError:
        return {}


def _flatten(record, prefix=""):
    """`{"data": {"max_tokens": 5}}` -> `{"data.max_tokens": 5}`."""
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _check_same(saved, current, defaults=None):
    # Flat keys for a TrainConfig, dotted ones for an app config (whose `train`
    # field is the TrainConfig again). A field the saved config lacks was added
    # after the run was saved; a new field's default keeps the old behaviour,
    # so the run was trained as that default says.
    saved, current = {**(defaults or {}), **_flatten(saved)}, _flatten(current)
    ignored = {*_RESUMABLE_CHANGES, *(f"train.{key}" for key in _RESUMABLE_CHANGES)}
    changed = {
        key: (saved.get(key), value)
        for key, value in current.items()
        if key not in ignored and saved.get(key) != value
    }
    if changed:
        raise ValueError(
            "Expected the config of the run being resumed (only "
            f"{_RESUMABLE_CHANGES} may change). Received changes (saved, new): {changed}"
        )


def _op_determinism(enabled):
    """Turns TensorFlow's op determinism on or off; returns whether it was on.

    TensorFlow's public API only turns it on; the switch back (for the run's
    duration only, so that other models in the process are not slowed or
    refused ops) is `tensorflow.python.framework.config`'s.
    """
    from tensorflow.python.framework import config as tf_config

    was = tf_config.is_op_determinism_enabled()
    if enabled and not was:
        tf.config.experimental.enable_op_determinism()
    elif was and not enabled and hasattr(tf_config, "disable_op_determinism"):
        tf_config.disable_op_determinism()
    return was


def fit_verbosity(verbose):
    """The verbosity `verbose="auto"` stands for: 1 (keras' live progress bar)
    on a terminal, 2 (one line per epoch, `EpochLine`) otherwise: a log file, CI."""
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2


class EpochLine(keras.callbacks.Callback):
    """One line per epoch, for logs: `epoch 3/8 - 4s - loss: 0.2146 - val_loss: 0.3156`."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.monotonic() - self.started
        values = " - ".join(f"{name}: {float(value):.4f}" for name, value in (logs or {}).items())
        print(f"epoch {epoch + 1}/{self.epochs} - {seconds:.0f}s - {values}", flush=True)


def _truncate_history(path, initial_epoch):
    # Rows of epochs after the last checkpoint were written by a run that died
    # before saving them; those epochs are about to run again.
    if not os.path.exists(path):
        return
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines:
        return
    kept = [lines[0]] + [line for line in lines[1:] if int(line.split(",")[0]) < initial_epoch]
    if initial_epoch == 0:
        kept = []
    with open(path, "w") as f:
        f.write("".join(f"{line}\n" for line in kept))


def _git_commit():
    # Reports name the code a model came from; outside a git checkout there is none.
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=os.path.dirname(os.path.abspath(seqlib.__file__)),
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None
