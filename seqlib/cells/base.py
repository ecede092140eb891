"""The cell contract shared by every seqlib cell.

A cell maps one time step: `call(inputs, states, training) -> (output, new_states)`,
with `state_size`, `output_size` and `get_initial_state(batch_size)`, exactly as
`keras.layers.RNN` expects. seqlib cells additionally split that step in two:

- `input_projection(inputs)`: the part that depends only on the input, `x W + b`.
  It accepts any leading shape, so a sequence layer projects all time steps in one
  matmul: (batch, time, input_dim) -> (batch, time, gates * units).
- `recurrent_step(projected, states, recurrent_mask, training)`: the part that
  needs the previous state. Only this runs inside the time loop.

`call()` is `recurrent_step(input_projection(x))`, so the per-step cell used inside
`keras.layers.RNN` and the fused sequence layers of `seqlib.layers` share one set of
equations.
"""

import keras
from keras import activations, constraints, initializers, ops, regularizers

# keras.layers.RNN prepares and resets dropout masks only for cells deriving from
# this mixin: one mask per sequence, reused at every step (Gal & Ghahramani, 2016).
from seqlib.keras_private import DropoutRNNCell


class RecurrentCell(DropoutRNNCell, keras.layers.Layer):
    """Base class of seqlib's gated and plain recurrent cells.

    Subclasses set `gates` (how many `units`-wide blocks the kernels hold) and
    implement `recurrent_step`. They may override `_bias_shape`, `_bias_initializer`,
    `_input_bias` and `_add_extra_weights`.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        activation: Activation of the candidate / output. Default: `tanh`.
        use_bias: Whether the cell uses a bias vector.
        kernel_initializer: Initializer of the input kernel.
        recurrent_initializer: Initializer of the recurrent kernel.
        bias_initializer: Initializer of the bias.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints.
        dropout: Float in [0, 1], fraction of input units to drop. One mask per
            sequence.
        recurrent_dropout: Float in [0, 1], fraction of the previous state's units
            to drop in the recurrent transformation. One mask per sequence.
        seed: Random seed for dropout.
    """

    gates = 1

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Expected `units` to be a positive integer. Received: units={units}")
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    # -- weights ---------------------------------------------------------------

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def _add_extra_weights(self):
        """Hook for weights beyond kernel / recurrent_kernel / bias."""

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, self.gates * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.gates * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(),
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self._add_extra_weights()

    # -- the two halves of a step ------------------------------------------------

    def _input_bias(self):
        return self.bias

    def input_projection(self, inputs):
        """`x W + b` for inputs of shape (..., input_dim) -> (..., gates * units)."""
        if len(inputs.shape) == 2:
            projected = ops.matmul(inputs, self.kernel)
        else:
            # tensordot flattens the leading axes into one 2-D matmul; a broadcast
            # batched matmul would reduce a (time, input_dim, gates * units) tensor
            # on the way back.
            projected = ops.tensordot(inputs, self.kernel, axes=1)
        bias = self._input_bias() if self.use_bias else None
        if bias is not None:
            projected = ops.add(projected, bias)
        return projected

    def recurrent_step(self, projected, states, recurrent_mask=None, training=False):
        """One step given the projected input (batch, gates * units).

        Args:
            projected: Output of `input_projection` for this step.
            states: List of state tensors, as in `call`.
            recurrent_mask: Optional dropout mask, multiplied into the previous
                hidden state before the recurrent matmul.
            training: Python boolean or tensor.

        Returns:
            `(output, new_states)`, `new_states` a list.
        """
        raise NotImplementedError

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        dp_mask = self.get_dropout_mask(inputs)
        if training and dp_mask is not None:
            inputs = inputs * dp_mask
        recurrent_mask = self.get_recurrent_dropout_mask(states[0])
        if not training:
            recurrent_mask = None
        output, new_states = self.recurrent_step(
            self.input_projection(inputs), states, recurrent_mask, training
        )
        if not nested and len(new_states) == 1:
            return output, new_states[0]
        return output, new_states

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


class GatedCell(RecurrentCell):
    """A `RecurrentCell` with a `recurrent_activation` for its gates (GRU, LSTM).

    Args:
        recurrent_activation: Activation of the gates. Default: `sigmoid`.
        **kwargs: See `RecurrentCell`.
    """

    def __init__(self, units, recurrent_activation="sigmoid", **kwargs):
        super().__init__(units, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        return config


def split_gates(x, n):
    """Splits (..., n * units) into n tensors of (..., units)."""
    return ops.split(x, n, axis=-1)
