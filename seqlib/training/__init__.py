"""One training runner for every app: `train(build_model, train_data, config, run_dir)`.

`train` wraps `keras.Model.fit` with what every app needs: an optimizer and
learning-rate schedule from a `TrainConfig`, global-norm gradient clipping,
mixed precision, XLA, a distribution strategy (one device, mirrored or
multi-worker), per-epoch checkpoints, TensorBoard logs, a CSV history, early
stopping, and an exact `resume=True` (see `seqlib.training.runner` for what is
guaranteed and how). `from_overrides` applies `--set key=value` to any config
dataclass; `SparseCategoricalCrossentropy` adds label smoothing to keras' loss;
`shuffle_for_epoch` gives a data order that a resumed run reproduces; and
`progress` shows a progress bar while apps prepare their data.

The package imports lazily: `seqlib.training.config` and `.overrides` need no
TensorFlow, so a command line can read its config (and answer `--help`) fast.
"""

import importlib

_EXPORTS = {
    "GradualUnfreezing": "seqlib.training.transfer",
    "RunState": "seqlib.training.run_state",
    "SlantedTriangular": "seqlib.training.transfer",
    "SparseCategoricalCrossentropy": "seqlib.training.losses",
    "TrainConfig": "seqlib.training.config",
    "TrainResult": "seqlib.training.runner",
    "check_run_dir": "seqlib.training.runner",
    "config_from_dict": "seqlib.training.overrides",
    "config_to_dict": "seqlib.training.overrides",
    "fit_verbosity": "seqlib.training.runner",
    "from_overrides": "seqlib.training.overrides",
    "is_chief": "seqlib.training.strategies",
    "layer_rates": "seqlib.training.transfer",
    "make_learning_rate": "seqlib.training.optimizers",
    "make_optimizer": "seqlib.training.optimizers",
    "make_strategy": "seqlib.training.strategies",
    "progress": "seqlib.training.data",
    "shuffle_for_epoch": "seqlib.training.data",
    "sparse_categorical_crossentropy": "seqlib.training.losses",
    "train": "seqlib.training.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seqlib.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
