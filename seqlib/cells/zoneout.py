import keras
from keras import ops

from seqlib.keras_private import DropoutRNNCell


@keras.saving.register_keras_serializable(package="seqlib")
class ZoneoutWrapper(DropoutRNNCell, keras.layers.Layer):
    """Zoneout (Krueger et al., 2016) around any recurrent cell.

    Zoneout regularises by letting each unit keep its previous value at random:

        training:   d ~ Bernoulli(rate), per unit and per step
                    s_t = d ⊙ s_{t-1} + (1 − d) ⊙ s̃_t
        inference:  s_t = rate · s_{t-1} + (1 − rate) · s̃_t   (the expectation)

    where s̃_t is the state the wrapped cell computes. `zoneout_h` applies to the
    first state (the hidden state h, which is also the output) and `zoneout_c` to
    the second (an LSTM's cell state c); cells with one state ignore `zoneout_c`.
    Unlike dropout, a zoned-out unit carries its value forward, so gradients and
    information still flow through time.

    The wrapper keeps the keras cell contract, so `keras.layers.RNN(ZoneoutWrapper(
    cell))` works; around a seqlib cell it also keeps the fused input projection,
    so `seqlib.layers.RNN` runs it with one input matmul per sequence.

    Args:
        cell: The cell to wrap: a seqlib or keras cell.
        zoneout_h: Float in [0, 1), zoneout rate of the hidden state.
        zoneout_c: Float in [0, 1), zoneout rate of the cell state.
        seed: Random seed for the zoneout masks.

    Call arguments:
        inputs: (batch, input_dim) tensor, one time step.
        states: The wrapped cell's states.
        training: Whether zoneout is random (True) or its expectation (False).

    Example:

    >>> cell = ZoneoutWrapper(LSTMCell(8), zoneout_h=0.05, zoneout_c=0.15)
    >>> keras.layers.RNN(cell)(np.zeros((2, 5, 3), "float32")).shape
    (2, 8)
    """

    def __init__(self, cell, zoneout_h=0.0, zoneout_c=0.0, seed=None, **kwargs):
        for name, rate in (("zoneout_h", zoneout_h), ("zoneout_c", zoneout_c)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"Expected {name} in [0, 1). Received: {name}={rate}")
        super().__init__(**kwargs)
        self.cell = cell
        self.zoneout_h = float(zoneout_h)
        self.zoneout_c = float(zoneout_c)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return getattr(self.cell, "output_size", None) or self.cell.state_size

    # Dropout belongs to the wrapped cell; keras.layers.RNN reaches it through
    # these, so its masks are prepared once per sequence as usual.
    @property
    def dropout(self):
        return getattr(self.cell, "dropout", 0.0)

    @property
    def recurrent_dropout(self):
        return getattr(self.cell, "recurrent_dropout", 0.0)

    def get_dropout_mask(self, step_input):
        if isinstance(self.cell, DropoutRNNCell):
            return self.cell.get_dropout_mask(step_input)
        return None

    def get_recurrent_dropout_mask(self, step_input):
        if isinstance(self.cell, DropoutRNNCell):
            return self.cell.get_recurrent_dropout_mask(step_input)
        return None

    def reset_dropout_mask(self):
        if isinstance(self.cell, DropoutRNNCell):
            self.cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self):
        if isinstance(self.cell, DropoutRNNCell):
            self.cell.reset_recurrent_dropout_mask()

    @property
    def input_projection(self):
        # Only seqlib cells split their step; for others the attribute is absent
        # and sequence layers fall back to calling the cell step by step.
        return self.cell.input_projection

    def build(self, input_shape):
        if not self.cell.built:
            self.cell.build(input_shape)

    def _zoneout(self, old_states, new_states, training):
        rates = [self.zoneout_h, self.zoneout_c]
        zoned = []
        for k, (old, new) in enumerate(zip(old_states, new_states)):
            rate = rates[k] if k < len(rates) else 0.0
            if rate > 0.0:
                if training:
                    keep = keras.random.uniform(ops.shape(new), seed=self.seed_generator) < rate
                    new = ops.where(keep, old, new)
                else:
                    new = rate * old + (1.0 - rate) * new
            zoned.append(new)
        return zoned[0], zoned

    def recurrent_step(self, projected, states, recurrent_mask=None, training=False):
        _, new_states = self.cell.recurrent_step(projected, states, recurrent_mask, training)
        return self._zoneout(states, new_states, training)

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        _, new_states = self.cell(inputs, states, training=training)
        if not isinstance(new_states, (list, tuple)):
            new_states = [new_states]
        output, new_states = self._zoneout(states, list(new_states), training)
        if not nested and len(new_states) == 1:
            return output, new_states[0]
        return output, new_states

    def get_initial_state(self, batch_size=None):
        return self.cell.get_initial_state(batch_size=batch_size)

    def get_config(self):
        return {
            **super().get_config(),
            "cell": keras.saving.serialize_keras_object(self.cell),
            "zoneout_h": self.zoneout_h,
            "zoneout_c": self.zoneout_c,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = keras.saving.deserialize_keras_object(
            config.pop("cell"), custom_objects=custom_objects
        )
        return cls(cell, **config)
