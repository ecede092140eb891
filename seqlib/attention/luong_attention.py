import keras
from keras import ops

from seqlib.attention.base_attention import BaseAttention, additive_scores

SCORES = ("dot", "general", "concat")


@keras.saving.register_keras_serializable(package="seqlib")
class LuongAttention(BaseAttention):
    """Global attention of Luong, Pham and Manning (2015), with its three scores.

    "Effective Approaches to Attention-based Neural Machine Translation",
    https://arxiv.org/abs/1508.04025. The score of query `q_i` against key
    `k_j` is one of

    ```
    dot:      e_ij = q_i . k_j                              (q_dim == k_dim)
    general:  e_ij = q_i^T W k_j                            W: (q_dim, k_dim)
    concat:   e_ij = v^T tanh(W [q_i; k_j])                 W: (q_dim + k_dim, units), v: (units,)
    ```

    then `a_ij = softmax_j(e_ij)` (masked keys get 0) and
    `c_i = sum_j a_ij v_j`.

    Args:
        score: one of `"dot"`, `"general"`, `"concat"`.
        units: int or `None`. Hidden size of the `"concat"` score; defaults to
            `q_dim`, as in the paper. Must be `None` for the other scores.
        kernel_initializer: Initializer of `W` and `v`.
        dropout: float in [0, 1). Dropout on the attention weights.
        seed: int or `None`. Seed of the dropout.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        query: `(batch, Tq, q_dim)`, or `(batch, q_dim)` for one decoder step.
        value: `(batch, Tv, v_dim)`.
        key: Optional `(batch, Tv, k_dim)`; defaults to `value`.
        query_mask: Optional boolean `(batch, Tq)`; masked queries get zero
            weights and context. Defaults to the query's keras mask.
        value_mask: Optional boolean `(batch, Tv)`; padded keys (`False`) get a
            weight of exactly 0. Defaults to the value's keras mask.
        use_causal_mask: bool. Query `i` attends only to keys `j <= i`.
        training: bool. Whether dropout is active.

    Returns:
        `(context, weights)`: `(batch, Tq, v_dim)` and `(batch, Tq, Tv)`, or
        `(batch, v_dim)` and `(batch, Tv)` for a rank-2 query.

    Example:

    ```python
    attention = LuongAttention(score="general")
    decoder_output = np.random.rand(3, 8)     # one decoder step
    encoder_outputs = np.random.rand(3, 5, 12)
    context, weights = attention(decoder_output, encoder_outputs)
    # context: (3, 12), weights: (3, 5)
    ```
    """

    def __init__(
        self,
        score="dot",
        units=None,
        kernel_initializer="glorot_uniform",
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        if score not in SCORES:
            raise ValueError(f"Expected one of {set(SCORES)}. Received: score={score!r}")
        if units is not None and score != "concat":
            raise ValueError(
                f'`units` is only used by score="concat". Received: units={units}, score={score!r}'
            )
        self.score = score
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _build_score(self, query_dim, key_dim):
        self._query_dim = query_dim
        if self.score == "dot":
            if query_dim != key_dim:
                raise ValueError(
                    'score="dot" needs queries and keys of the same size; use "general" '
                    f'or "concat" otherwise. Received: q_dim={query_dim}, k_dim={key_dim}'
                )
        elif self.score == "general":
            self.kernel = self.add_weight(
                shape=(query_dim, key_dim), initializer=self.kernel_initializer, name="kernel"
            )
        else:
            units = query_dim if self.units is None else self.units
            self.kernel = self.add_weight(
                shape=(query_dim + key_dim, units),
                initializer=self.kernel_initializer,
                name="kernel",
            )
            self.score_vector = self.add_weight(
                shape=(units,), initializer=self.kernel_initializer, name="score_vector"
            )

    def _key_features(self, key):
        if self.score != "concat":
            return key
        # W [q; k] = W_q q + W_k k with W_q, W_k the top and bottom rows of W.
        return ops.matmul(key, self.kernel[self._query_dim :])  # (batch, Tv, units)

    def _compute_scores(self, query, key):
        if self.score == "dot":
            return ops.matmul(query, ops.swapaxes(key, -1, -2))  # (batch, Tq, Tv)
        if self.score == "general":
            query = ops.matmul(query, self.kernel)  # (batch, Tq, k_dim)
            return ops.matmul(query, ops.swapaxes(key, -1, -2))  # (batch, Tq, Tv)
        return additive_scores(
            query, key, self.kernel[: self._query_dim], self.score_vector
        )  # (batch, Tq, Tv)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "score": self.score,
                "units": self.units,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
