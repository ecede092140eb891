import keras
from keras import ops

from seqlib.models.components import recurrent_layer


@keras.saving.register_keras_serializable(package="seqlib")
class LanguageModel(keras.Model):
    """A recurrent language model: embedding, stacked recurrent layers, softmax.

    ```
    h^1_t = cell_1(E[x_t], h^1_{t-1}),  h^l_t = cell_l(h^{l-1}_t, h^l_{t-1})
    p(x_{t+1} | x_<=t) = softmax(W h^L_t + b)
    ```

    The character model of the music app, and any token-level model. Training
    over windows of a long text is truncated BPTT; the state can be carried
    from one window to the next either by keras' `stateful=True` (fixed batch
    size, `reset_states()` between passes) or explicitly with
    `call(..., initial_state=..., return_state=True)`. Generation is stateful
    too: `prime` reads a prefix once, then `step` advances one token at a time
    from the carried state, which is what `seqlib.decoding` drives.

    Args:
        vocab_size: int. Number of tokens.
        embedding_dim: int. Size of the embedding.
        units: int. Size of every recurrent layer.
        num_layers: int. Depth of the stack.
        cell: `"lstm"`, `"gru"` or `"simple_rnn"`.
        dropout: float. Dropout on the embedding and on every layer's output.
        stateful: bool. keras' stateful layers: the last state of a batch is
            the initial state of the next. Needs a fixed batch size.
        **kwargs: `keras.Model` keyword arguments, such as `name`.

    Call arguments:
        ids: int `(batch, T)`.
        initial_state: Optional list with the state list of every layer.
        return_state: bool. Also return the final states.
        training: bool.

    Returns:
        Logits `(batch, T, vocab_size)`, or `(logits, states)`.

    Example:

    ```python
    model = LanguageModel(vocab_size=40, units=64, num_layers=2)
    logits = model(np.random.randint(0, 40, (8, 100)))      # (8, 100, 40)
    prefix = np.random.randint(0, 40, (1, 5))
    result = model.generate(prefix, length=200, temperature=0.8, seed=1)
    result.ids                                               # (1, 200)
    ```
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim=64,
        units=256,
        num_layers=2,
        cell="lstm",
        dropout=0.0,
        stateful=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_layers < 1:
            raise ValueError(f"Expected num_layers >= 1. Received: num_layers={num_layers}")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.cell = cell
        self.dropout = dropout
        self.stateful = stateful
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        self.rnns = [
            recurrent_layer(
                cell,
                units,
                return_sequences=True,
                return_state=True,
                stateful=stateful,
                name=f"rnn_{i}",
            )
            for i in range(num_layers)
        ]
        self.dropout_layer = keras.layers.Dropout(dropout)
        self.output_projection = keras.layers.Dense(vocab_size, name="output_projection")

    def build(self, input_shape=None):
        batch = input_shape[0] if input_shape else None
        self.embedding.build((batch, None))
        for i, layer in enumerate(self.rnns):
            layer.build((batch, None, self.embedding_dim if i == 0 else self.units))
        self.output_projection.build((batch, None, self.units))
        self.built = True

    def call(self, ids, initial_state=None, return_state=False, training=None):
        x = self.dropout_layer(self.embedding(ids), training=training)
        states = []
        for i, layer in enumerate(self.rnns):
            layer_state = None if initial_state is None else initial_state[i]
            outputs = layer(x, initial_state=layer_state, training=training)
            x = self.dropout_layer(outputs[0], training=training)
            states.append(list(outputs[1:]))
        logits = self.output_projection(x)
        return (logits, states) if return_state else logits

    def reset_states(self):
        for layer in self.rnns:
            layer.reset_states()

    # -- generation -----------------------------------------------------------

    def initial_state(self, batch_size):
        """Zero states: a list with the state list of every layer."""
        if not self.built:
            self.build()
        return [
            [ops.convert_to_tensor(s) for s in layer.cell.get_initial_state(batch_size)]
            for layer in self.rnns
        ]

    def step(self, ids, state, time=None):
        """`step_fn` of `seqlib.decoding`: logits of the token after `ids` `(n,)`."""
        x = self.embedding(ids)  # (n, emb)
        new_state = []
        for layer, layer_state in zip(self.rnns, state):
            x, layer_state = layer.cell(x, list(layer_state), training=False)
            new_state.append(list(layer_state))
        return ops.cast(self.output_projection(x), "float32"), new_state

    def prime(self, prefix, state=None):
        """Reads `prefix` `(batch, P)` token by token and returns the state after
        it. Runs the cells, not the layers, so a stateful layer's stored state
        is left alone; `P` may be 0."""
        prefix = ops.convert_to_tensor(prefix, dtype="int32")
        if state is None:
            state = self.initial_state(ops.shape(prefix)[0])

        def body(t, state):
            return self.step(prefix[:, t], state)[1]

        return ops.fori_loop(0, ops.shape(prefix)[1], body, state)

    def generate(self, prefix, length, temperature=1.0, top_k=0, top_p=1.0, seed=None, end_id=None):
        """Samples up to `length` tokens after `prefix` `(batch, P)`, `P >= 1`.

        The prefix but its last token primes the state; sampling starts from
        its last token. `temperature=0` is greedy. `length` may be a scalar int
        tensor. With `end_id`, a sequence stops at that token (padded with it
        after, `lengths` counting it); without, every sequence has `length`
        tokens. Returns a `seqlib.decoding.DecodeResult` with ids
        `(batch, length)`.
        """
        from seqlib import decoding

        prefix = ops.convert_to_tensor(prefix, dtype="int32")
        state = self.prime(prefix[:, :-1])
        return decoding.sample(
            step_fn=self.step,
            initial_state=state,
            start_ids=prefix[:, -1],
            end_id=end_id,
            max_length=length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "num_layers": self.num_layers,
                "cell": self.cell,
                "dropout": self.dropout,
                "stateful": self.stateful,
            }
        )
        return config
