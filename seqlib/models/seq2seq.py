import keras
import tensorflow as tf
from keras import ops

from seqlib.layers import Bidirectional
from seqlib.models.components import attention_layer, check_choice, recurrent_layer


@keras.saving.register_keras_serializable(package="seqlib")
class Seq2Seq(keras.Model):
    """Encoder-decoder with attention and input feeding, trained with teacher forcing.

    Encoder: embedding, then `encoder_layers` recurrent layers (bidirectional
    by default: each direction has `units // 2` units and the two final states
    are concatenated, so the memory and the states have `units` features).
    Decoder: `decoder_layers` recurrent layers started from the encoder's final
    states (layer by layer when the depths match, else the top encoder layer
    starts every decoder layer), then, at every step `t` (Luong et al. 2015,
    https://arxiv.org/abs/1508.04025):

    ```
    h_t  = decoder(y_{t-1}, h~_{t-1}, h_{t-1})        # input feeding: h~_{t-1} is an input
    c_t  = sum_j a_tj m_j,  a_t = attention(h_t, m)   # m: encoder outputs, padding masked
    h~_t = tanh(W_c [c_t; h_t])                       # the attentional vector
    p(y_t | y_<t, x) = softmax(W_o h~_t + b_o)
    ```

    The score of the attention is injected: `"bahdanau"` (additive) or
    `"luong"` (`attention_score` dot / general / concat). Input feeding makes
    the decoder step-by-step even in training; without it the decoder layers
    run fused over the whole target and attention is one batched call.

    `attention=None` is the model of Sutskever et al. (2014,
    https://arxiv.org/abs/1409.3215): the encoder's final state is the only,
    fixed-size context the decoder sees, and `h~_t = h_t`. `reverse_source`
    reverses each source sequence within its length (padding stays at the end),
    the trick that paper found to ease optimisation.

    Token ids: `pad_id` (0) pads both sides and is masked; targets start with
    `start_id` and end with `end_id`.

    Args:
        source_vocab_size: int. Size of the source vocabulary.
        target_vocab_size: int. Size of the target vocabulary.
        embedding_dim: int. Size of both embeddings.
        units: int. Size of the decoder states, of the memory and of `h~`.
        encoder_layers: int. Depth of the encoder.
        decoder_layers: int. Depth of the decoder.
        cell: `"lstm"`, `"gru"` or `"simple_rnn"`, for encoder and decoder.
        bidirectional: bool. Whether the encoder layers are bidirectional.
        attention: `"bahdanau"`, `"luong"` or `None` (no attention).
        attention_score: Score of the Luong attention: `"dot"`, `"general"`
            or `"concat"`.
        input_feeding: bool. Feed `h~_{t-1}` into the decoder at step `t`.
            Ignored without attention.
        reverse_source: bool. Reverse each source sequence within its length.
        dropout: float. Dropout on the embeddings, between encoder layers and
            on `h~` before the output layer.
        start_id, end_id, pad_id: ints. Special target/source ids.
        **kwargs: `keras.Model` keyword arguments, such as `name`.

    Call arguments:
        inputs: `(source, target_in)`, int tensors `(batch, S)` and
            `(batch, T)`; `target_in` is the target shifted right, starting
            with `start_id` (teacher forcing).
        training: bool.
        return_attention: bool. Also return the attention weights
            `(batch, T, S)`, in the order of the source as given.

    Returns:
        Logits `(batch, T, target_vocab_size)`, or `(logits, weights)`.

    Example:

    ```python
    model = Seq2Seq(source_vocab_size=100, target_vocab_size=120, units=64)
    source = np.random.randint(3, 100, (4, 9))
    target_in = np.random.randint(3, 120, (4, 7))
    logits = model((source, target_in))              # (4, 7, 120)
    best = model.generate(source, method="beam", beam_width=5, max_length=20)
    best.ids                                          # (4, 5, 20)
    ```
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embedding_dim=64,
        units=128,
        encoder_layers=1,
        decoder_layers=1,
        cell="lstm",
        bidirectional=True,
        attention="bahdanau",
        attention_score="general",
        input_feeding=True,
        reverse_source=False,
        dropout=0.0,
        start_id=1,
        end_id=2,
        pad_id=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice("attention", attention, ("bahdanau", "luong", None))
        if bidirectional and units % 2:
            raise ValueError(
                "A bidirectional encoder splits `units` between its two directions, so "
                f"`units` must be even. Received: units={units}"
            )
        if encoder_layers < 1 or decoder_layers < 1:
            raise ValueError(
                "Expected at least one encoder and one decoder layer. Received: "
                f"encoder_layers={encoder_layers}, decoder_layers={decoder_layers}"
            )
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.cell = cell
        self.bidirectional = bidirectional
        self.attention = attention
        self.attention_score = attention_score
        self.input_feeding = input_feeding
        self.reverse_source = reverse_source
        self.dropout = dropout
        self.start_id = start_id
        self.end_id = end_id
        self.pad_id = pad_id
        # Input feeding needs an attentional vector to feed.
        self._feeding = bool(input_feeding and attention)

        self.source_embedding = keras.layers.Embedding(
            source_vocab_size, embedding_dim, name="source_embedding"
        )
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size, embedding_dim, name="target_embedding"
        )
        self.dropout_layer = keras.layers.Dropout(dropout)
        self.encoder_rnns = []
        for i in range(encoder_layers):
            if bidirectional:
                layer = Bidirectional(
                    recurrent_layer(cell, units // 2, return_sequences=True, return_state=True),
                    name=f"encoder_{i}",
                )
            else:
                layer = recurrent_layer(
                    cell, units, return_sequences=True, return_state=True, name=f"encoder_{i}"
                )
            self.encoder_rnns.append(layer)
        self.decoder_rnns = [
            recurrent_layer(
                cell, units, return_sequences=True, return_state=True, name=f"decoder_{i}"
            )
            for i in range(decoder_layers)
        ]
        if attention:
            self.attention_layer = attention_layer(
                attention, units, score=attention_score, name="attention"
            )
            self.attention_projection = keras.layers.Dense(
                units, activation="tanh", use_bias=False, name="attention_projection"
            )
        self.output_projection = keras.layers.Dense(target_vocab_size, name="output_projection")

    def build(self, input_shape=None):
        # Everything is built here, not on first use: the decoder cells run inside
        # a graph loop, where no variable may be created, and loading a saved
        # model needs every weight to exist before the values are read.
        emb, units = self.embedding_dim, self.units
        self.source_embedding.build((None, None))
        self.target_embedding.build((None, None))
        for i, layer in enumerate(self.encoder_rnns):
            layer.build((None, None, emb if i == 0 else units))
        for i, layer in enumerate(self.decoder_rnns):
            feed = units if (i == 0 and self._feeding) else 0
            layer.build((None, None, (emb + feed) if i == 0 else units))
        if self.attention:
            self.attention_layer.build((None, units), (None, None, units))
            self.attention_projection.build((None, 2 * units))
        self.output_projection.build((None, units))
        self.built = True

    # -- encoder --------------------------------------------------------------

    def encode(self, source, training=False):
        """Runs the encoder.

        Returns:
            `(memory, memory_mask, states)`: encoder outputs `(batch, S, units)`
            in processing order (reversed when `reverse_source`), the boolean
            padding mask `(batch, S)` and the initial state list of every
            decoder layer.
        """
        if not self.built:
            self.build()
        source = ops.convert_to_tensor(source)
        mask = ops.not_equal(source, self.pad_id)  # (batch, S)
        if self.reverse_source:
            source = self._reverse_within_length(source, mask)
        x = self.dropout_layer(self.source_embedding(source), training=training)
        final_states = []
        for i, layer in enumerate(self.encoder_rnns):
            outputs = layer(x, mask=mask, training=training)
            x, states = outputs[0], list(outputs[1:])
            if self.bidirectional:
                # [fw_h, (fw_c), bw_h, (bw_c)] -> [h, (c)], each (batch, units).
                half = len(states) // 2
                states = [
                    ops.concatenate([fw, bw], axis=-1)
                    for fw, bw in zip(states[:half], states[half:])
                ]
            final_states.append(states)
            if i < len(self.encoder_rnns) - 1:
                x = self.dropout_layer(x, training=training)
        if len(final_states) == self.decoder_layers:
            decoder_states = final_states
        else:
            decoder_states = [final_states[-1]] * self.decoder_layers
        return x, mask, decoder_states

    @staticmethod
    def _reverse_within_length(x, mask, seq_axis=1):
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        return tf.reverse_sequence(x, lengths, seq_axis=seq_axis, batch_axis=0)

    # -- decoder --------------------------------------------------------------

    def _attend(self, h, memory, memory_mask, keys=None, training=False):
        """`h~ = tanh(W_c [c; h])` for a step `(batch, units)` or a sequence;
        `keys` is the memory's `precompute_key`, computed once per sequence."""
        context, weights = self.attention_layer(
            h, memory, value_mask=memory_mask, precomputed_key=keys, training=training
        )
        attentional = self.attention_projection(ops.concatenate([context, h], axis=-1))
        return attentional, weights

    def _decoder_cell_step(self, embedded, states, feed, memory, memory_mask, keys, training=False):
        """One decoder step from the embedded previous token `(batch, emb)`."""
        x = ops.concatenate([embedded, feed], axis=-1) if self._feeding else embedded
        new_states = []
        for layer, layer_states in zip(self.decoder_rnns, states):
            x, layer_states = layer.cell(x, list(layer_states), training=training)
            new_states.append(list(layer_states))
        if not self.attention:
            return x, new_states, None
        attentional, weights = self._attend(x, memory, memory_mask, keys, training=training)
        return attentional, new_states, weights

    def _decode_fused(self, embedded, states, memory, memory_mask, training):
        x = embedded
        for layer, layer_states in zip(self.decoder_rnns, states):
            x = layer(x, initial_state=layer_states, training=training)[0]
        if not self.attention:
            return x, None
        return self._attend(x, memory, memory_mask, training=training)

    def _decode_stepwise(self, embedded, states, memory, memory_mask, training):
        embedded_tm = ops.transpose(embedded, (1, 0, 2))  # (T, batch, emb)
        steps = ops.shape(embedded_tm)[0]
        feed = ops.zeros((ops.shape(embedded)[0], self.units), dtype=embedded.dtype)
        keys = self.attention_layer.precompute_key(memory)
        outputs = tf.TensorArray(embedded.dtype, size=steps)
        weights = tf.TensorArray(memory.dtype, size=steps)

        def body(t, states, feed, outputs, weights):
            attentional, states, step_weights = self._decoder_cell_step(
                embedded_tm[t], states, feed, memory, memory_mask, keys, training=training
            )
            return (
                t + 1,
                states,
                attentional,
                outputs.write(t, attentional),
                weights.write(t, step_weights),
            )

        _, _, _, outputs, weights = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (0, states, feed, outputs, weights),
            # A bound XLA needs to size the gradient's accumulators.
            maximum_iterations=steps,
        )
        # (T, batch, units) -> (batch, T, units); (T, batch, S) -> (batch, T, S)
        return (
            ops.transpose(outputs.stack(), (1, 0, 2)),
            ops.transpose(weights.stack(), (1, 0, 2)),
        )

    def call(self, inputs, training=None, return_attention=False):
        source, target_in = inputs
        memory, memory_mask, states = self.encode(source, training=training)
        embedded = self.dropout_layer(self.target_embedding(target_in), training=training)
        if self._feeding:
            outputs, weights = self._decode_stepwise(
                embedded, states, memory, memory_mask, training
            )
        else:
            outputs, weights = self._decode_fused(embedded, states, memory, memory_mask, training)
        logits = self.output_projection(self.dropout_layer(outputs, training=training))
        if not return_attention:
            return logits
        if weights is None:
            raise ValueError("This model has no attention (attention=None); nothing to return.")
        if self.reverse_source:
            # Back to the order of the source as given: weights[b, t, j] is for token j.
            weights = self._reverse_within_length(weights, memory_mask, seq_axis=2)
        return logits, weights

    # -- decoding -------------------------------------------------------------

    def initial_decoder_state(self, source):
        """The decoding state after reading `source`: a dict of tensors whose
        leading axis is the batch, as `seqlib.decoding` expects."""
        memory, memory_mask, states = self.encode(source, training=False)
        batch = ops.shape(memory)[0]
        state = {
            "states": states,
            "feed": ops.zeros((batch, self.units), dtype=memory.dtype),
            "memory": memory,
            "memory_mask": memory_mask,
        }
        if self.attention:
            state["keys"] = self.attention_layer.precompute_key(memory)
        return state

    def decoder_step(self, ids, state, time=None):
        """`step_fn` of `seqlib.decoding`: the logits of the token after `ids`."""
        embedded = self.target_embedding(ids)  # (n, emb)
        outputs, states, _ = self._decoder_cell_step(
            embedded,
            state["states"],
            state["feed"],
            state["memory"],
            state["memory_mask"],
            state.get("keys"),
        )
        logits = self.output_projection(outputs)  # (n, vocab)
        new_state = dict(state, states=states)
        if self._feeding:
            new_state["feed"] = outputs
        return ops.cast(logits, "float32"), new_state

    def generate(
        self,
        source,
        method="beam",
        max_length=50,
        beam_width=5,
        length_penalty=0.0,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        seed=None,
        logit_bias=None,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
    ):
        """Decodes `source` `(batch, S)` with `seqlib.decoding`.

        Args:
            method: `"greedy"`, `"beam"` or `"sample"`.
            max_length: int, or a scalar int tensor. Most target tokens, the
                end token included.
            beam_width, length_penalty: Beam search settings (GNMT alpha).
            temperature, top_k, top_p, seed: Sampling settings.
            logit_bias: None, or a `(target_vocab_size,)` float vector added to
                the logits of every step before the search normalises them:
                the search then runs on that distribution (e.g. a negative
                bias on `[UNK]` makes it rarer, `-1e9` forbids it), and its
                scores are that distribution's log-probabilities.
            repetition_penalty, no_repeat_ngram_size: Repetition guards of
                every method (`seqlib.decoding.guard_logits`); 1 and 0 are off.

        Returns:
            A `seqlib.decoding.DecodeResult`; ids `(batch, max_length)`, or
            `(batch, beam_width, max_length)` for beam search, best first.
        """
        from seqlib import decoding

        check_choice("method", method, ("greedy", "beam", "sample"))
        state = self.initial_decoder_state(source)
        start_ids = ops.full((ops.shape(state["memory"])[0],), self.start_id, dtype="int32")
        step_fn = self.decoder_step
        if logit_bias is not None:
            bias = ops.convert_to_tensor(logit_bias, dtype="float32")  # (V,)

            def step_fn(ids, state, time=None):
                logits, state = self.decoder_step(ids, state, time)
                return logits + ops.cast(bias, logits.dtype), state

        common = dict(
            step_fn=step_fn,
            initial_state=state,
            start_ids=start_ids,
            end_id=self.end_id,
            max_length=max_length,
            repetition_penalty=repetition_penalty,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )
        if method == "greedy":
            return decoding.greedy_search(**common)
        if method == "beam":
            return decoding.beam_search(
                **common, beam_width=beam_width, length_penalty=length_penalty
            )
        return decoding.sample(
            **common, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "source_vocab_size": self.source_vocab_size,
                "target_vocab_size": self.target_vocab_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "encoder_layers": self.encoder_layers,
                "decoder_layers": self.decoder_layers,
                "cell": self.cell,
                "bidirectional": self.bidirectional,
                "attention": self.attention,
                "attention_score": self.attention_score,
                "input_feeding": self.input_feeding,
                "reverse_source": self.reverse_source,
                "dropout": self.dropout,
                "start_id": self.start_id,
                "end_id": self.end_id,
                "pad_id": self.pad_id,
            }
        )
        return config
