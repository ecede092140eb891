import keras

from seqlib.cells import GRUCell
from seqlib.layers.base import CellLayer


@keras.saving.register_keras_serializable(package="seqlib")
class GRU(CellLayer):
    """Gated recurrent unit over a sequence: `GRUCell` in a fused time loop.

    A drop-in replacement for `keras.layers.GRU`: the same constructor arguments,
    call arguments and weight layout, so `ours.set_weights(keras.get_weights())`
    gives the same outputs. `reset_after=False` gives the equations of the seed
    slides (Cho et al., 2014); `reset_after=True` (default) the cuDNN-compatible
    variant. On a GPU, a compatible configuration runs on cuDNN.

    Args:
        units: Positive integer, dimensionality of the output space.
        reset_after: GRU convention, see `seqlib.cells.GRUCell`.
        use_cudnn: `"auto"`, `True` or `False`, see `seqlib.layers.RNN`.
        activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed, return_sequences, return_state, go_backwards,
        stateful, unroll: As in `keras.layers.GRU`.

    Call arguments:
        sequences: (batch, time, features) tensor.
        initial_state: Optional list with the initial hidden state.
        mask: Optional (batch, time) boolean tensor; masked steps are skipped.
        training: Whether dropout is active.

    Example:

    >>> GRU(4, reset_after=False)(np.zeros((2, 5, 3), "float32")).shape
    (2, 4)
    """

    cell_class = GRUCell
    cell_attributes = CellLayer.cell_attributes + ("recurrent_activation", "reset_after")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
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
        reset_after=True,
        use_cudnn="auto",
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
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            reset_after=reset_after,
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
