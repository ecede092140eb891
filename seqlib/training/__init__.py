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
"""

from seqlib.training.config import TrainConfig
from seqlib.training.data import progress, shuffle_for_epoch
from seqlib.training.losses import SparseCategoricalCrossentropy, sparse_categorical_crossentropy
from seqlib.training.optimizers import make_learning_rate, make_optimizer
from seqlib.training.overrides import config_from_dict, config_to_dict, from_overrides
from seqlib.training.run_state import RunState
from seqlib.training.runner import TrainResult, train
from seqlib.training.strategies import is_chief, make_strategy

__all__ = [
    "RunState",
    "SparseCategoricalCrossentropy",
    "TrainConfig",
    "TrainResult",
    "config_from_dict",
    "config_to_dict",
    "from_overrides",
    "is_chief",
    "make_learning_rate",
    "make_optimizer",
    "make_strategy",
    "progress",
    "shuffle_for_epoch",
    "sparse_categorical_crossentropy",
    "train",
]
