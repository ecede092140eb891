import keras

from seqlib.cells import SimpleRNNCell
from seqlib.layers.base import CellLayer


@keras.saving.register_keras_serializable(package="seqlib")
class SimpleRNN(CellLayer):
    """Fully-connected RNN over a sequence: `SimpleRNNCell` in a fused time loop.

    A drop-in replacement for `keras.layers.SimpleRNN`: the same constructor
    arguments, call arguments and weight layout, so
    `ours.set_weights(keras_layer.get_weights())` gives the same outputs. The input
    projection of all time steps is one matmul; only h_{t-1} W_hh runs per step.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint,
        recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
        return_sequences, return_state, go_backwards, stateful, unroll:
            As in `keras.layers.SimpleRNN`.

    Call arguments:
        sequences: (batch, time, features) tensor.
        initial_state: Optional list with the initial hidden state.
        mask: Optional (batch, time) boolean tensor; masked steps are skipped.
        training: Whether dropout is active.

    Example:

    >>> SimpleRNN(4, return_sequences=True)(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 4)
    """

    cell_class = SimpleRNNCell
    _has_use_cudnn = False  # no cuDNN kernel, and no such argument in keras

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
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
        **kwargs,
    ):
        # Accepted and ignored (earlier seqlib took it here), so code that builds any
        # of the three layers with one set of arguments keeps working.
        kwargs.pop("use_cudnn", None)
        cell_kwargs = dict(
            units=units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
        )
        super().__init__(
            cell_kwargs,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
