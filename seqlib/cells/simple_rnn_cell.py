import keras
from keras import ops

from seqlib.cells.base import RecurrentCell


@keras.saving.register_keras_serializable(package="seqlib")
class SimpleRNNCell(RecurrentCell):
    """The Elman recurrent cell.

    Equations (Elman, 1990; the "vanilla" RNN of the seed notes):

        h_t = act(x_t W_xh + h_{t-1} W_hh + b)

    with `act = tanh` by default. `kernel` is W_xh (input_dim, units),
    `recurrent_kernel` is W_hh (units, units), `bias` is b (units,): the layout of
    `keras.layers.SimpleRNNCell`, so weights copy across unchanged.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        activation: Activation function. Default: `tanh`. `None` means linear.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed: As in `keras.layers.SimpleRNNCell`.

    Call arguments:
        inputs: (batch, input_dim) tensor, one time step.
        states: List with the previous hidden state (batch, units).
        training: Whether dropout is active.

    Example:

    >>> rnn = keras.layers.RNN(SimpleRNNCell(4), return_sequences=True)
    >>> rnn(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 4)
    """

    gates = 1

    def recurrent_step(self, projected, states, recurrent_mask=None, training=False):
        h_tm1 = states[0]  # (batch, units)
        if recurrent_mask is not None:
            h_tm1 = h_tm1 * recurrent_mask
        h = projected + ops.matmul(h_tm1, self.recurrent_kernel)  # (batch, units)
        if self.activation is not None:
            h = self.activation(h)
        return h, [h]
