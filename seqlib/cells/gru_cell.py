import keras
from keras import ops

from seqlib.cells.base import GatedCell, split_gates


@keras.saving.register_keras_serializable(package="seqlib")
class GRUCell(GatedCell):
    """Gated recurrent unit (Cho et al., 2014).

    With `reset_after=False`, the equations of the seed slides:

        z_t = σ(x_t W_z + h_{t-1} U_z + b_z)            update gate
        r_t = σ(x_t W_r + h_{t-1} U_r + b_r)            reset gate
        h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)  candidate
        h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t

    With `reset_after=True` (the default, as in keras, and the variant cuDNN
    implements) the reset gate is applied after the recurrent matmul, and the
    recurrent part has its own bias:

        h̃_t = tanh(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + b'_h))

    Weight layout (identical to `keras.layers.GRUCell`): `kernel` (input_dim,
    3 * units) and `recurrent_kernel` (units, 3 * units) in gate order z, r, h;
    `bias` is (3 * units,) or, with `reset_after=True`, (2, 3 * units) whose row 0
    is the input bias and row 1 the recurrent bias.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        reset_after: Apply the reset gate after (True) or before (False) the
            recurrent matmul.
        **kwargs: `activation`, `recurrent_activation`, initializers, regularizers,
            constraints, `dropout`, `recurrent_dropout`, `seed`, as in
            `keras.layers.GRUCell`.

    Call arguments:
        inputs: (batch, input_dim) tensor, one time step.
        states: List with the previous hidden state (batch, units).
        training: Whether dropout is active.

    Example:

    >>> cell = GRUCell(8, reset_after=False)
    >>> keras.layers.RNN(cell)(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = reset_after

    def _bias_shape(self):
        if self.reset_after:
            return (2, 3 * self.units)
        return (3 * self.units,)

    def _input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def recurrent_step(self, projected, states, recurrent_mask=None, training=False):
        h_tm1 = states[0]  # (batch, units)
        h_in = h_tm1 * recurrent_mask if recurrent_mask is not None else h_tm1
        x_z, x_r, x_h = split_gates(projected, 3)  # 3 x (batch, units)
        u = self.units
        if self.reset_after:
            inner = ops.matmul(h_in, self.recurrent_kernel)  # (batch, 3 * units)
            if self.use_bias:
                inner = inner + self.bias[1]
            rec_z, rec_r, rec_h = split_gates(inner, 3)
            z = self.recurrent_activation(x_z + rec_z)
            r = self.recurrent_activation(x_r + rec_r)
            hh = self.activation(x_h + r * rec_h)
        else:
            inner = ops.matmul(h_in, self.recurrent_kernel[:, : 2 * u])  # (batch, 2u)
            rec_z, rec_r = split_gates(inner, 2)
            z = self.recurrent_activation(x_z + rec_z)
            r = self.recurrent_activation(x_r + rec_r)
            hh = self.activation(x_h + ops.matmul(r * h_in, self.recurrent_kernel[:, 2 * u :]))
        h = z * h_tm1 + (1.0 - z) * hh
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
