import math

import keras
from keras import ops

from seqlib.attention.base_attention import BaseAttention


@keras.saving.register_keras_serializable(package="seqlib")
class ScaledDotProductAttention(BaseAttention):
    """Scaled dot-product attention of Vaswani et al. (2017).

    "Attention Is All You Need", https://arxiv.org/abs/1706.03762:

    ```
    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V
    e_ij = q_i . k_j / sqrt(d_k)                # (batch, ..., Tq, Tv)
    ```

    The scaling keeps the variance of the scores near 1 whatever `d_k`, so the
    softmax does not saturate. The layer has no weights; leading axes between
    the batch and time axes (such as heads) are carried through, which is how
    `MultiHeadSelfAttention` uses it.

    Args:
        dropout: float in [0, 1). Dropout on the attention weights.
        seed: int or `None`. Seed of the dropout.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        query: `(batch, Tq, d_k)` (or `(batch, ..., Tq, d_k)`), or
            `(batch, d_k)` for one decoder step.
        value: `(batch, Tv, v_dim)`.
        key: Optional `(batch, Tv, d_k)`; defaults to `value`.
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
    attention = ScaledDotProductAttention()
    x = np.random.rand(3, 5, 8)
    context, weights = attention(x, x, use_causal_mask=True)
    # context: (3, 5, 8), weights: (3, 5, 5), zero above the diagonal
    ```
    """

    def _build_score(self, query_dim, key_dim):
        if query_dim != key_dim:
            raise ValueError(
                "Expected queries and keys of the same size d_k. "
                f"Received: q_dim={query_dim}, k_dim={key_dim}"
            )
        self._scale = 1.0 / math.sqrt(key_dim)

    def _compute_scores(self, query, key):
        query = query * ops.cast(self._scale, query.dtype)  # (batch, Tq, d_k)
        return ops.matmul(query, ops.swapaxes(key, -1, -2))  # (batch, Tq, Tv)
