import keras
import numpy as np
from keras import ops

from seqlib.attention.bahdanau_attention import BahdanauAttention
from seqlib.cells.gru_cell import GRUCell
from seqlib.cells.lstm_cell import LSTMCell
from seqlib.models.components import check_choice

CELLS = {"gru": GRUCell, "lstm": LSTMCell}


@keras.saving.register_keras_serializable(package="seqlib")
class ShowAttendTell(keras.Model):
    """A recurrent decoder that attends over a grid of features: "Show, Attend
    and Tell" (Xu et al. 2015, https://arxiv.org/abs/1502.03044).

    An `encoder` (say a CNN) turns the input into `L` annotation vectors
    `a_1..a_L` (a `(batch, h, w, C)` grid is flattened to `L = h * w`). Then,
    at every step `t`, with soft ("deterministic") attention:

    ```
    h_0, c_0 = tanh(W_init mean_i a_i)                     # the initial state
    alpha_t  = softmax_i(v^T tanh(W_h h_{t-1} + W_a a_i))  # Bahdanau attention
    z_t      = sigmoid(w_beta h_{t-1}) * sum_i alpha_ti a_i  # gated context
    h_t      = cell([E y_{t-1}; z_t], h_{t-1})
    p(y_t)   = softmax(W_o (E y_{t-1} + L_h h_t + L_z z_t))  # deep output
    ```

    The annotations of a CNN say what is at a place but hardly where it is,
    and a weighted sum of them forgets it altogether; with `positions=True`
    a learned vector per grid cell is added to `a_i` (as ViT does), so the
    context can tell "above" from "below".

    Training adds the doubly stochastic attention regulariser of the paper,
    `lambda * sum_i (1 - sum_t alpha_ti)^2` averaged over the batch (the sum
    over `t` runs over the target's real tokens): it asks the decoder to look
    at every part of the image about once over the whole caption.

    Factored output (`output_groups`). With the single softmax above, every
    word can lean on everything: the previous word, the state and the whole
    context. Trained on scenes where red is never a triangle, "red" then
    predicts "not triangle" whatever the image shows. Output groups take that
    shortcut away: each group is a set of words (say the colour words) and a
    slice of the feature channels (say the encoder's colour channels), and

    ```
    p(group_t)        = softmax(W_g deep_t)            # which kind of word: grammar
    p(y_t | group g)  = softmax(W_g' c_t[slice_g])     # which word: the image alone
    p(y_t | the rest) = softmax over the other words of W_o deep_t
    ```

    where `c_t = sum_i alpha_ti a_i` is the context before the gate, so a
    group's word is chosen from its slice of the attended features and nothing
    else; the words before it only decide *that* a colour comes next,
    and where to look. The logits returned are then log-probabilities.

    Token ids: `pad_id` pads targets; `target_in` starts with `start_id`.

    Args:
        vocab_size: int. Size of the output vocabulary.
        encoder: A keras layer from the model's input to `(batch, h, w, C)` or
            `(batch, L, C)` features, or `None` when the input is the features.
        embedding_dim: int. Size of the word embedding.
        units: int. Size of the recurrent state.
        attention_units: int. Hidden size of the attention score.
        cell: `"gru"` or `"lstm"`: the seqlib cell of the decoder.
        gate: bool. Scale the context by the gate `beta_t`.
        positions: bool. Add a learned embedding of each grid cell to its
            features (needs a fixed grid size).
        doubly_stochastic: float. `lambda`; 0 switches the regulariser off.
        dropout: float. Dropout before the output layer.
        word_dropout: float. In training, the share of input words (not the
            start token) replaced by `unk_id`, so that the next word must come
            from the image rather than from the words before it (Bowman et al.,
            2016): it helps with compositions never seen in training, where
            the language model alone would refuse the right word.
        output_groups: None, or a list of `{"tokens": [ids], "features": [start,
            stop]}`: disjoint sets of token ids, each predicted from channels
            `start:stop` of the attended features only (see above).
        start_id, end_id, pad_id: ints. Special target ids.
        unk_id: int. The unknown word's id; needed when `word_dropout > 0`.
        seed: int. Seeds the word dropout.
        **kwargs: `keras.Model` keyword arguments, such as `name`.

    Call arguments:
        inputs: `(images, target_in)`: the encoder's input and int
            `(batch, T)` targets shifted right (teacher forcing).
        training: bool.
        return_attention: bool. Also return `alpha` `(batch, T, L)`.

    Returns:
        Logits `(batch, T, vocab_size)`, or `(logits, alpha)`.

    Example:

    ```python
    model = ShowAttendTell(vocab_size=30, encoder=None, units=32)
    features = np.random.rand(2, 4, 4, 16).astype("float32")   # a 4 x 4 grid
    logits = model((features, np.array([[1, 5, 6], [1, 7, 0]])))  # (2, 3, 30)
    best = model.generate(features, method="beam", beam_width=3, max_length=10)
    ```
    """

    def __init__(
        self,
        vocab_size,
        encoder=None,
        embedding_dim=64,
        units=128,
        attention_units=128,
        cell="gru",
        gate=True,
        positions=True,
        doubly_stochastic=1.0,
        dropout=0.0,
        word_dropout=0.0,
        start_id=1,
        end_id=2,
        pad_id=0,
        unk_id=None,
        seed=None,
        output_groups=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice("cell", cell, tuple(CELLS))
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(
                f"Expected word_dropout in [0, 1). Received: word_dropout={word_dropout}"
            )
        if word_dropout and unk_id is None:
            raise ValueError("Expected an unk_id when word_dropout > 0. Received: unk_id=None")
        self.vocab_size = vocab_size
        self.encoder = encoder
        self.embedding_dim = embedding_dim
        self.units = units
        self.attention_units = attention_units
        self.cell_type = cell
        self.gate = gate
        self.positions = positions
        self.doubly_stochastic = float(doubly_stochastic)
        self.dropout = dropout
        self.word_dropout = float(word_dropout)
        self.start_id = start_id
        self.end_id = end_id
        self.pad_id = pad_id
        self.unk_id = unk_id
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if word_dropout else None
        self.output_groups = _check_groups(output_groups, vocab_size)
        if self.output_groups:
            grouped = [t for group in self.output_groups for t in group["tokens"]]
            # (V,) 1 for the words of no group; (n_g, V) one-hot rows placing group g's words.
            self._rest = np.isin(np.arange(vocab_size), grouped).astype("float32") == 0
            self._placements = [
                np.eye(vocab_size, dtype="float32")[group["tokens"]] for group in self.output_groups
            ]
            self.group_gate = keras.layers.Dense(1 + len(self.output_groups), name="group_gate")
            self.group_heads = [
                keras.layers.Dense(len(group["tokens"]), name=f"group_{i}")
                for i, group in enumerate(self.output_groups)
            ]

        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        self.cell = CELLS[cell](units, name="decoder_cell")
        self.attention = BahdanauAttention(attention_units, name="attention")
        self.init_states = [
            keras.layers.Dense(units, activation="tanh", name=f"init_{i}")
            for i in range(2 if cell == "lstm" else 1)
        ]
        self.gate_layer = keras.layers.Dense(1, activation="sigmoid", name="gate")
        self.state_to_output = keras.layers.Dense(embedding_dim, name="state_to_output")
        self.context_to_output = keras.layers.Dense(
            embedding_dim, use_bias=False, name="context_to_output"
        )
        self.output_projection = keras.layers.Dense(vocab_size, name="output_projection")
        self.dropout_layer = keras.layers.Dropout(dropout)

    # -- encoder --------------------------------------------------------------

    def encode(self, images, training=False):
        """The annotation vectors `(batch, L, C)` of the input."""
        features = images if self.encoder is None else self.encoder(images, training=training)
        if len(features.shape) == 4:
            shape = ops.shape(features)
            features = ops.reshape(features, (shape[0], shape[1] * shape[2], features.shape[-1]))
        if self.positions:
            if not self.cell.built:
                self._build_decoder(features.shape[-1], features.shape[1])
            features = features + ops.cast(self.position_embedding, features.dtype)[None]
        return features

    def initial_decoder_state(self, images, training=False):
        """The decoding state after encoding `images`: a dict of tensors whose
        leading axis is the batch, as `seqlib.decoding` expects."""
        memory = self.encode(images, training=training)
        for group in self.output_groups or ():
            start, stop = group["features"]
            if memory.shape[-1] is not None and stop > memory.shape[-1]:
                raise ValueError(
                    f"An output group reads feature channels {start}:{stop}; the encoder "
                    f"gives {memory.shape[-1]}."
                )
        if not self.cell.built:
            self._build_decoder(memory.shape[-1], memory.shape[1])
        mean = ops.mean(memory, axis=1)
        return {
            "states": [layer(mean) for layer in self.init_states],
            "memory": memory,
            "keys": self.attention.precompute_key(memory),
        }

    def _build_decoder(self, feature_dim, cells):
        if self.positions:
            if cells is None:
                raise ValueError(
                    "positions=True needs a grid of known size: give inputs of a fixed "
                    "height and width, or pass positions=False."
                )
            self.position_embedding = self.add_weight(
                shape=(cells, feature_dim),
                initializer=keras.initializers.RandomNormal(stddev=0.02),
                name="position_embedding",
            )
        self.embedding.build((None,))
        self.cell.build((None, self.embedding_dim + feature_dim))
        self.attention.build((None, self.units), (None, None, feature_dim))
        for layer in self.init_states:
            layer.build((None, feature_dim))
        self.gate_layer.build((None, self.units))
        self.state_to_output.build((None, self.units))
        self.context_to_output.build((None, feature_dim))
        self.output_projection.build((None, self.embedding_dim))
        if self.output_groups:
            self.group_gate.build((None, self.embedding_dim))
            for group, head in zip(self.output_groups, self.group_heads):
                start, stop = group["features"]
                head.build((None, stop - start))

    # -- decoder --------------------------------------------------------------

    def _step(self, ids, state, training=False):
        """One step: `(logits, new_state, alpha)` from the previous ids `(batch,)`."""
        h = state["states"][0]
        context, alpha = self.attention(
            h, state["memory"], precomputed_key=state["keys"], training=training
        )
        attended = context  # (batch, C): what the output groups read, before the gate
        if self.gate:
            context = self.gate_layer(h) * context
        embedded = self.embedding(ids)  # (batch, emb)
        x = ops.concatenate([embedded, context], axis=-1)
        h, states = self.cell(x, list(state["states"]), training=training)
        deep = embedded + self.state_to_output(h) + self.context_to_output(context)
        deep = self.dropout_layer(deep, training=training)
        logits = self.output_projection(deep)
        if self.output_groups:
            logits = self._grouped_log_probs(logits, deep, attended, training)
        return logits, dict(state, states=list(states)), alpha

    def _grouped_log_probs(self, logits, deep, context, training):
        """`(batch, V)` log-probabilities of the factored output (see the class docstring)."""
        logits = ops.cast(logits, "float32")
        rest = ops.convert_to_tensor(self._rest)
        rest_log_probs = ops.log_softmax(ops.where(rest, logits, -1e9), axis=-1)
        group_log_probs = ops.log_softmax(ops.cast(self.group_gate(deep), "float32"), axis=-1)
        out = ops.where(rest, rest_log_probs + group_log_probs[:, :1], 0.0)
        for g, (group, head) in enumerate(zip(self.output_groups, self.group_heads)):
            start, stop = group["features"]
            features = self.dropout_layer(context[:, start:stop], training=training)
            words = ops.log_softmax(ops.cast(head(features), "float32"), axis=-1)
            words = words + group_log_probs[:, g + 1 : g + 2]  # (batch, n_g)
            out = out + ops.matmul(words, ops.convert_to_tensor(self._placements[g]))
        return out

    def decoder_step(self, ids, state, time=None):
        """`step_fn` of `seqlib.decoding`: the logits of the token after `ids`."""
        logits, state, _ = self._step(ids, state)
        return ops.cast(logits, "float32"), state

    def call(self, inputs, training=None, return_attention=False):
        images, target_in = inputs
        state = self.initial_decoder_state(images, training=training)
        target_in = ops.convert_to_tensor(target_in)
        steps = target_in.shape[1]
        if steps is None:
            raise ValueError(
                "Expected targets of a fixed length (the decoder loop is unrolled): pad "
                f"them to a constant length. Received: target_in.shape={target_in.shape}"
            )
        words = target_in
        if training and self.word_dropout:
            drop = keras.random.uniform(ops.shape(target_in), seed=self.seed_generator)
            drop = ops.logical_and(drop < self.word_dropout, ops.arange(steps)[None, :] > 0)
            drop = ops.logical_and(drop, ops.not_equal(target_in, self.pad_id))
            words = ops.where(drop, ops.cast(self.unk_id, target_in.dtype), target_in)
        logits, alphas = [], []
        for t in range(steps):
            step_logits, state, alpha = self._step(words[:, t], state, training=training)
            logits.append(step_logits)
            alphas.append(alpha)
        logits = ops.stack(logits, axis=1)  # (batch, T, vocab)
        alphas = ops.stack(alphas, axis=1)  # (batch, T, L)
        if training and self.doubly_stochastic:
            # Real target positions: the start token and every non-pad token.
            real = ops.cast(ops.not_equal(target_in, self.pad_id), alphas.dtype)
            real = ops.where(ops.arange(steps)[None, :] == 0, 1.0, real)
            coverage = ops.sum(alphas * real[:, :, None], axis=1)  # (batch, L)
            penalty = ops.mean(ops.sum(ops.square(1.0 - coverage), axis=-1))
            self.add_loss(self.doubly_stochastic * ops.cast(penalty, "float32"))
        if return_attention:
            return logits, alphas
        return logits

    def generate(
        self,
        images,
        method="beam",
        max_length=20,
        beam_width=3,
        length_penalty=0.0,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
    ):
        """Decodes captions with `seqlib.decoding` (`"greedy"` or `"beam"`);
        `repetition_penalty` and `no_repeat_ngram_size` are its repetition
        guards (`seqlib.decoding.guard_logits`; 1 and 0 are off)."""
        from seqlib import decoding

        check_choice("method", method, ("greedy", "beam"))
        state = self.initial_decoder_state(images)
        start_ids = ops.full((ops.shape(state["memory"])[0],), self.start_id, dtype="int32")
        common = dict(
            step_fn=self.decoder_step,
            initial_state=state,
            start_ids=start_ids,
            end_id=self.end_id,
            max_length=max_length,
            repetition_penalty=repetition_penalty,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )
        if method == "greedy":
            return decoding.greedy_search(**common)
        return decoding.beam_search(**common, beam_width=beam_width, length_penalty=length_penalty)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "attention_units": self.attention_units,
                "cell": self.cell_type,
                "gate": self.gate,
                "positions": self.positions,
                "doubly_stochastic": self.doubly_stochastic,
                "dropout": self.dropout,
                "word_dropout": self.word_dropout,
                "unk_id": self.unk_id,
                "seed": self.seed,
                "start_id": self.start_id,
                "end_id": self.end_id,
                "pad_id": self.pad_id,
                "output_groups": self.output_groups,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config.get("encoder"))
        return cls(**config)


def _check_groups(groups, vocab_size):
    """`output_groups` as plain lists, checked: non-empty, disjoint, in range."""
    if not groups:
        return None
    out, seen = [], set()
    for group in groups:
        tokens = [int(t) for t in group["tokens"]]
        start, stop = (int(x) for x in group["features"])
        if not tokens or not 0 <= start < stop:
            raise ValueError(
                f"Expected an output group with tokens and features [start, stop), start < stop. "
                f"Received: {group}"
            )
        if seen & set(tokens) or min(tokens) < 0 or max(tokens) >= vocab_size:
            raise ValueError(
                f"Expected output groups of disjoint token ids below vocab_size={vocab_size}. "
                f"Received: {group}"
            )
        seen |= set(tokens)
        out.append({"tokens": tokens, "features": [start, stop]})
    return out
