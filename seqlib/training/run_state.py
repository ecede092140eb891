"""`RunState`: the resume record of a run, written after every completed epoch.

A run directory's `checkpoints/` holds, per completed epoch `k` (1-based):

- `epoch-00k.weights.h5`: written by `keras.callbacks.ModelCheckpoint`; the
  model's weights and the optimizer's variables (its step counter, moments and,
  under mixed precision, the loss scale).
- `epoch-00k.state.npz`: the model's non-trainable variables, which `.weights.h5`
  files leave out in part: the state of every `keras.random.SeedGenerator`
  (dropout masks) lives there.
- `state.json`: the last completed epoch, the two files above, and the progress
  of early stopping and of the `best` checkpoint. Written last and atomically,
  so it only ever points at complete files.
"""

import glob
import json
import math
import os
import re

import keras
import numpy as np

STATE_FILE = "state.json"
FINAL_WEIGHTS = "final.weights.h5"
_EPOCH_FILE = re.compile(r"epoch-(\d+)\.weights\.h5$")


def epoch_weights_name(epoch):
    """The file name of the checkpoint after `epoch` completed epochs (1-based)."""
    return f"epoch-{epoch:03d}.weights.h5"


def read_state(checkpoint_dir):
    """Returns the resume record in `checkpoint_dir`, or `None` if it has none."""
    path = os.path.join(checkpoint_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def restore_state(model, checkpoint_dir, state, best_weights=False):
    """Loads a resume record into a compiled, built model.

    Args:
        model: The model of the run, built and compiled with the same optimizer.
        checkpoint_dir: The run's `checkpoints/` directory.
        state: The record from `read_state`.
        best_weights: Also return the model weights of early stopping's best
            epoch (loaded first: loading a checkpoint also overwrites the
            optimizer, so the latest one must be loaded last).

    Returns:
        The best epoch's `model.get_weights()` list, or `None`.
    """
    _build_optimizer(model)
    best = None
    stopping = state.get("early_stopping")
    if best_weights and stopping and stopping.get("best") is not None:
        model.load_weights(
            os.path.join(checkpoint_dir, epoch_weights_name(stopping["best_epoch"] + 1))
        )
        best = model.get_weights()
    model.load_weights(os.path.join(checkpoint_dir, state["weights"]))
    variables = model.non_trainable_variables
    with np.load(os.path.join(checkpoint_dir, state["variables"])) as saved:
        values = [saved[f"v{i}"] for i in range(len(saved.files))]
    if len(values) != len(variables) or any(
        tuple(v.shape) != value.shape for v, value in zip(variables, values)
    ):
        raise ValueError(
            "Expected the model to have the non-trainable variables of the checkpoint "
            f"(the same `build_model`). Received: {len(variables)} variables of shapes "
            f"{[tuple(v.shape) for v in variables]}, checkpoint has {[v.shape for v in values]}"
        )
    for variable, value in zip(variables, values):
        variable.assign(value)
    return best


def restore_final(model, checkpoint_dir):
    """Loads a finished run's `final.weights.h5` (what it finished with: early
    stopping's best weights where it stopped early) into a compiled, built model.
    Needs no epoch checkpoint. Returns whether the run has that file."""
    path = os.path.join(checkpoint_dir, FINAL_WEIGHTS)
    if not os.path.exists(path):
        return False
    _build_optimizer(model)
    model.load_weights(path)
    return True


def _build_optimizer(model):
    if model.optimizer is not None and not model.optimizer.built:
        # Loading optimizer variables needs them to exist.
        model.optimizer.build(model.trainable_variables)


class RunState(keras.callbacks.Callback):
    """Writes the resume record after every epoch, and restores callback progress.

    Place it after the `ModelCheckpoint` that writes `epoch-{epoch:03d}.weights.h5`
    (it points at that file) and after `EarlyStopping` and the `best`
    checkpoint (it records their progress at the end of the epoch).

    Args:
        checkpoint_dir: The directory of the per-epoch checkpoints.
        early_stopping: The run's `keras.callbacks.EarlyStopping`, or `None`.
        best_checkpoint: The run's `save_best_only` `ModelCheckpoint`, or `None`.
        resumed: The record the run resumes from, or `None` for a fresh run.
        best_weights: Early stopping's best weights when resuming, from
            `restore_state`.
        keep_checkpoints: If set, keep only this many newest epoch checkpoints
            (plus the one early stopping would restore).
        write: Whether to write anything; `False` on non-chief workers.
    """

    def __init__(
        self,
        checkpoint_dir,
        early_stopping=None,
        best_checkpoint=None,
        resumed=None,
        best_weights=None,
        keep_checkpoints=None,
        write=True,
    ):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        self.early_stopping = early_stopping
        self.best_checkpoint = best_checkpoint
        self.resumed = resumed
        self.best_weights = best_weights
        self.keep_checkpoints = keep_checkpoints
        self.write = write
        self.terminated_on_nan = False

    def on_train_begin(self, logs=None):
        # Runs after the other callbacks' `on_train_begin`, which reset their
        # progress: put back where the interrupted run had got to.
        if not self.resumed:
            return
        stopping = self.resumed.get("early_stopping")
        if self.early_stopping is not None and stopping:
            for name in ("wait", "best", "best_epoch"):
                setattr(self.early_stopping, name, stopping[name])
            if self.early_stopping.restore_best_weights:
                self.early_stopping.best_weights = self.best_weights
        best = self.resumed.get("best_checkpoint")
        if self.best_checkpoint is not None and best:
            self.best_checkpoint.best = best["best"]

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            # `TerminateOnNaN` stops the run; a resume should start from the
            # last finite epoch, not from these weights.
            self.terminated_on_nan = True
            return
        if not self.write:
            return
        completed = epoch + 1
        variables_name = f"epoch-{completed:03d}.state.npz"
        _atomic_savez(
            os.path.join(self.checkpoint_dir, variables_name),
            {
                f"v{i}": np.asarray(v.numpy())
                for i, v in enumerate(self.model.non_trainable_variables)
            },
        )
        state = {
            "epoch": completed,
            "weights": epoch_weights_name(completed),
            "variables": variables_name,
            "stop_training": bool(self.model.stop_training),
            "early_stopping": _early_stopping_state(self.early_stopping),
            "best_checkpoint": (
                None
                if self.best_checkpoint is None
                else {"best": _plain(self.best_checkpoint.best)}
            ),
        }
        _atomic_write_text(os.path.join(self.checkpoint_dir, STATE_FILE), json.dumps(state))
        if self.keep_checkpoints:
            self._prune(completed, state["early_stopping"])

    def _prune(self, completed, stopping):
        keep = {completed}
        if stopping and stopping.get("best") is not None:
            keep.add(stopping["best_epoch"] + 1)
        epochs = sorted(
            int(match.group(1))
            for path in glob.glob(os.path.join(self.checkpoint_dir, "epoch-*.weights.h5"))
            if (match := _EPOCH_FILE.search(path))
        )
        keep.update(epochs[-self.keep_checkpoints :])
        for epoch in epochs:
            if epoch not in keep:
                for suffix in ("weights.h5", "state.npz"):
                    path = os.path.join(self.checkpoint_dir, f"epoch-{epoch:03d}.{suffix}")
                    if os.path.exists(path):
                        os.remove(path)


def _early_stopping_state(callback):
    if callback is None:
        return None
    return {
        "wait": int(callback.wait),
        "best": _plain(callback.best),
        "best_epoch": int(callback.best_epoch),
    }


def _plain(value):
    # numpy scalars are not JSON; inf (ModelCheckpoint's starting best) is kept
    # as JSON's `Infinity`, which python reads back.
    return None if value is None else float(value)


def _atomic_write_text(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _atomic_savez(path, arrays):
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
