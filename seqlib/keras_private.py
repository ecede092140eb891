"""The private keras names seqlib builds on, in one place.

keras keeps no promise about `keras.src`; seqlib uses some of its names, because
the public API has no equivalent:

- `DropoutRNNCell`: the mixin that gives an RNN cell keras' dropout masks
  (drawn once per sequence, as keras' own cells draw them), so seqlib's cells
  and keras' `RNN` layer agree on dropout;
- `set_keras_mask`: attaches a mask to a tensor the way keras' layers do, so a
  loss sees the mask of a model's output;
- `BIDIRECTIONAL_HOOKS`: the methods through which `keras.layers.Bidirectional`
  asks whether its two layers can run as one fused call and makes that call.
  `seqlib.layers.Bidirectional` overrides them for seqlib's LSTM and GRU.

`CHECKED_KERAS` lists the keras releases (major.minor) these were checked
against: the test suite (the drop-in parity tests, and keras' own RNN tests in
`tests/seqlib/test_keras_suite.py`, which call the hooks by name) runs on them,
and a keras outside the list, or without the hooks, gets a warning at import.
`pyproject.toml` pins the same.
"""

import warnings

import keras
from keras.src.backend.common.masking import set_keras_mask
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

CHECKED_KERAS = ("3.15",)

BIDIRECTIONAL_HOOKS = (
    "_can_attempt_fused_lstm",
    "_call_fused_lstm",
    "_can_attempt_fused_gru",
    "_call_fused_gru",
)

__all__ = ["BIDIRECTIONAL_HOOKS", "CHECKED_KERAS", "DropoutRNNCell", "set_keras_mask"]

if ".".join(keras.__version__.split(".")[:2]) not in CHECKED_KERAS:
    warnings.warn(
        f"seqlib was checked against keras {', '.join(CHECKED_KERAS)}, not "
        f"{keras.__version__}: it uses keras.src.{{DropoutRNNCell, set_keras_mask}}, "
        "which may have changed (see seqlib/keras_private.py).",
        stacklevel=2,
    )

_missing_hooks = [h for h in BIDIRECTIONAL_HOOKS if not hasattr(keras.layers.Bidirectional, h)]
if _missing_hooks:
    warnings.warn(
        f"keras {keras.__version__}'s Bidirectional has no {_missing_hooks}: "
        "seqlib.layers.Bidirectional will run its two layers one after the other, "
        "never as one cuDNN call (see seqlib/keras_private.py).",
        stacklevel=2,
    )
