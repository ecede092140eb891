import keras
from keras import ops

from seqlib.attention.base_attention import BaseAttention, additive_scores


@keras.saving.register_keras_serializable(package="seqlib")
class BahdanauAttention(BaseAttention):
    """Additive attention of Bahdanau, Cho and Bengio (2015).

    "Neural Machine Translation by Jointly Learning to Align and Translate",
    https://arxiv.org/abs/1409.0473. Every query `q_i` is scored against every
    key `k_j` by a one-hidden-layer network:

    ```
    e_ij = v^T tanh(W_q q_i + W_k k_j)          # (batch, Tq, Tv)
    a_ij = softmax_j(e_ij)                      # masked keys get 0
    c_i  = sum_j a_ij v_j                       # (batch, Tq, v_dim)
    ```

    with `W_q` `(q_dim, units)`, `W_k` `(k_dim, units)` and `v` `(units,)`.
    Query and key may have different sizes.

    Args:
        units: int. Size of the hidden layer of the score.
        kernel_initializer: Initializer of `W_q`, `W_k` and `v`.
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
    attention = BahdanauAttention(units=16)
    decoder_state = np.random.rand(3, 8)     # one decoder step
    encoder_outputs = np.random.rand(3, 5, 12)
    context, weights = attention(decoder_state, encoder_outputs)
    # context: (3, 12), weights: (3, 5)
    ```
    """

    def __init__(
        self, units, kernel_initializer="glorot_uniform", dropout=0.0, seed=None, **kwargs
    ):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _build_score(self, query_dim, key_dim):
        self.query_kernel = self.add_weight(
            shape=(query_dim, self.units), initializer=self.kernel_initializer, name="query_kernel"
        )
        self.key_kernel = self.add_weight(
            shape=(key_dim, self.units), initializer=self.kernel_initializer, name="key_kernel"
        )
        self.score_vector = self.add_weight(
            shape=(self.units,), initializer=self.kernel_initializer, name="score_vector"
        )

    def _key_features(self, key):
        return ops.matmul(key, self.key_kernel)  # (batch, Tv, units)

    def _compute_scores(self, query, key):
        return additive_scores(query, key, self.query_kernel, self.score_vector)  # (batch, Tq, Tv)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
