import keras

from seqlib.cells import LSTMCell
from seqlib.layers.base import CellLayer


@keras.saving.register_keras_serializable(package="seqlib")
class LSTM(CellLayer):
    """Long short-term memory over a sequence: `LSTMCell` in a fused time loop.

    A drop-in replacement for `keras.layers.LSTM`: the same constructor arguments,
    call arguments and weight layout, so `ours.set_weights(keras.get_weights())`
    gives the same outputs. Adds `peephole=True` (Gers & Schmidhuber, 2000). On a
    GPU, a cuDNN-compatible configuration (no peephole, tanh/sigmoid, bias, no
    recurrent dropout) runs on cuDNN.

    Args:
        units: Positive integer, dimensionality of the output space.
        unit_forget_bias: Initialise the forget gate's bias to 1.
        peephole: Add peephole connections, see `seqlib.cells.LSTMCell`.
        peephole_initializer: Initializer of the peephole weights.
        use_cudnn: `"auto"`, `True` or `False`, see `seqlib.layers.RNN`.
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed, return_sequences, return_state, go_backwards,
        stateful, unroll: As in `keras.layers.LSTM`.

    Call arguments:
        sequences: (batch, time, features) tensor.
        initial_state: Optional list `[h_0, c_0]`.
        mask: Optional (batch, time) boolean tensor; masked steps are skipped.
        training: Whether dropout is active.

    Example:

    >>> model = keras.Sequential([keras.Input((None, 8)), LSTM(32), keras.layers.Dense(1)])
    """

    cell_class = LSTMCell
    cell_attributes = CellLayer.cell_attributes + (
        "recurrent_activation",
        "unit_forget_bias",
        "peephole",
        "peephole_initializer",
    )

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        peephole=False,
        peephole_initializer="glorot_uniform",
        **kwargs,
    ):
        cell_kwargs = dict(
            units=units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            peephole=peephole,
            peephole_initializer=peephole_initializer,
        )
        super().__init__(
            cell_kwargs,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            use_cudnn=use_cudnn,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
