import keras
from keras import initializers, ops

from seqlib.cells.base import GatedCell, split_gates


@keras.saving.register_keras_serializable(package="seqlib")
class LSTMCell(GatedCell):
    """Long short-term memory cell (Hochreiter & Schmidhuber, 1997).

    Equations, with the forget gate of Gers et al. (2000):

        i_t = σ(x_t W_i + h_{t-1} U_i [+ p_i ⊙ c_{t-1}] + b_i)   input gate
        f_t = σ(x_t W_f + h_{t-1} U_f [+ p_f ⊙ c_{t-1}] + b_f)   forget gate
        g_t = tanh(x_t W_c + h_{t-1} U_c + b_c)                  candidate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                          cell state
        o_t = σ(x_t W_o + h_{t-1} U_o [+ p_o ⊙ c_t] + b_o)       output gate
        h_t = o_t ⊙ tanh(c_t)

    The bracketed terms are Gers & Schmidhuber's (2000) peephole connections,
    present with `peephole=True`: diagonal weights p (`peephole_kernel`, shape
    (3, units), rows i, f, o) that let the gates see the cell state.

    Weight layout (identical to `keras.layers.LSTMCell`): `kernel` (input_dim,
    4 * units), `recurrent_kernel` (units, 4 * units), `bias` (4 * units,), gate
    order i, f, c, o. `unit_forget_bias=True` initialises b_f to 1 (Jozefowicz
    et al., 2015).

    Args:
        units: Positive integer, dimensionality of the hidden and cell state.
        unit_forget_bias: Add 1 to the forget gate's bias at initialisation.
        peephole: Add peephole connections from the cell state to the gates.
        peephole_initializer: Initializer of `peephole_kernel`.
        **kwargs: `activation`, `recurrent_activation`, initializers, regularizers,
            constraints, `dropout`, `recurrent_dropout`, `seed`, as in
            `keras.layers.LSTMCell`.

    Call arguments:
        inputs: (batch, input_dim) tensor, one time step.
        states: List `[h_{t-1}, c_{t-1}]`, each (batch, units).
        training: Whether dropout is active.

    Example:

    >>> cell = LSTMCell(8, peephole=True)
    >>> keras.layers.RNN(cell)(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    gates = 4

    def __init__(
        self,
        units,
        unit_forget_bias=True,
        peephole=False,
        peephole_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias
        self.peephole = peephole
        self.peephole_initializer = initializers.get(peephole_initializer)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def initializer(_, *args, **kwargs):
            return ops.concatenate(
                [
                    base((units,), *args, **kwargs),
                    initializers.get("ones")((units,), *args, **kwargs),
                    base((2 * units,), *args, **kwargs),
                ]
            )

        return initializer

    def _add_extra_weights(self):
        if self.peephole:
            self.peephole_kernel = self.add_weight(
                shape=(3, self.units),
                name="peephole_kernel",
                initializer=self.peephole_initializer,
            )

    def recurrent_step(self, projected, states, recurrent_mask=None, training=False):
        h_tm1, c_tm1 = states[0], states[1]  # (batch, units) each
        if recurrent_mask is not None:
            h_tm1 = h_tm1 * recurrent_mask
        z = projected + ops.matmul(h_tm1, self.recurrent_kernel)  # (batch, 4 * units)
        z_i, z_f, z_c, z_o = split_gates(z, 4)
        if self.peephole:
            p_i, p_f, p_o = (
                self.peephole_kernel[0],
                self.peephole_kernel[1],
                self.peephole_kernel[2],
            )
            z_i = z_i + p_i * c_tm1
            z_f = z_f + p_f * c_tm1
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_tm1 + i * self.activation(z_c)
        if self.peephole:
            z_o = z_o + p_o * c
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        return {
            **super().get_config(),
            "unit_forget_bias": self.unit_forget_bias,
            "peephole": self.peephole,
            "peephole_initializer": initializers.serialize(self.peephole_initializer),
        }
