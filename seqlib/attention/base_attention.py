import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seqlib")
class BaseAttention(keras.layers.Layer):
    """Base class of the query/key/value attention mechanisms of `seqlib`.

    The base owns everything the mechanisms share: masking, the softmax, the
    dropout on the weights and the weighted sum of the values. A subclass only
    defines its score, by overriding `_compute_scores(query, key)` (and
    `_build_score(query_dim, key_dim)` when the score has weights, and
    `_key_features(key)` when part of the score depends on the keys alone):

    ```
    e_ij     = score(q_i, k_j)                      # (batch, Tq, Tv)
    a_ij     = exp(e_ij) / sum_j' exp(e_ij')        # masked keys get a_ij = 0
    c_i      = sum_j a_ij v_j                       # (batch, Tq, v_dim)
    ```

    Masked entries are excluded from the softmax and their weight is set to
    exactly zero afterwards, so a query whose keys are all masked gets zero
    weights and a zero context (never NaN).

    Args:
        dropout: float in [0, 1). Fraction of the attention weights dropped
            (in training only) before they are applied to the values.
        seed: int or `None`. Seed of the dropout.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        query: Query tensor `(batch, Tq, q_dim)`, or `(batch, q_dim)` for one
            decoder step.
        value: Value tensor `(batch, Tv, v_dim)`.
        key: Optional key tensor `(batch, Tv, k_dim)`; defaults to `value`.
        query_mask: Optional boolean tensor of the query's leading shape,
            `(batch, Tq)` (or `(batch,)` for a rank-2 query). Masked queries
            get zero weights and a zero context. Taken from the query's keras
            mask when not given.
        value_mask: Optional boolean tensor `(batch, Tv)`; `False` marks padded
            keys, which get a weight of exactly 0. Any mask that broadcasts to
            the scores after inserting axes after the batch axis, such as
            `(batch, Tq, Tv)`, is accepted too. Taken from the value's keras
            mask when not given.
        use_causal_mask: bool. If `True`, query `i` may only attend to keys
            `j <= i` (needs a rank-3 query).
        training: bool. Whether dropout is active.
        precomputed_key: Optional result of `precompute_key(key)`. A decoder
            attends to the same keys at every step; passing this skips the
            key-side work of the score (the `W_k k_j` of an additive score)
            at each step.

    Returns:
        A tuple `(context, weights)`: `context` is `(batch, Tq, v_dim)` and
        `weights` is `(batch, Tq, Tv)`, or `(batch, v_dim)` and `(batch, Tv)`
        for a rank-2 query. The returned weights are those before dropout, so
        they always form the attention distribution (for heat-maps).

    Example:

    ```python
    class DotAttention(BaseAttention):
        def _compute_scores(self, query, key):
            return ops.matmul(query, ops.swapaxes(key, -1, -2))  # (batch, Tq, Tv)
    ```
    """

    def __init__(self, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected 0 <= dropout < 1. Received: dropout={dropout}")
        self.dropout = dropout
        self.seed = seed
        self.supports_masking = True
        self.dropout_layer = keras.layers.Dropout(dropout, seed=seed)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        if len(query_shape) < 2:
            raise ValueError(
                "Expected a query of rank 2 (batch, q_dim) or 3 (batch, Tq, q_dim). "
                f"Received: query_shape={query_shape}"
            )
        query_dim, key_dim = query_shape[-1], key_shape[-1]
        if query_dim is None or key_dim is None:
            raise ValueError(
                "The last axis of query and key must be known. "
                f"Received: query_shape={query_shape}, key_shape={key_shape}"
            )
        self._build_score(query_dim, key_dim)

    def _build_score(self, query_dim, key_dim):
        """Creates the weights of the score; the default score has none."""

    def _key_features(self, key):
        """The part of the score that depends on the keys alone; by default the keys."""
        return key

    def precompute_key(self, key):
        """Returns the key-side features of the score, to pass as `precomputed_key`
        to every call that attends to the same `key` `(batch, Tv, k_dim)`."""
        if not self.built:
            raise ValueError(
                f"{self.__class__.__name__} must be built (called once, or `build()`) "
                "before `precompute_key`."
            )
        return self._key_features(key)

    def _compute_scores(self, query, key):
        """Returns the scores `(batch, ..., Tq, Tv)` of `query` `(batch, ..., Tq, q_dim)`
        against `key`, the output of `_key_features` (by default the keys
        `(batch, ..., Tv, k_dim)` themselves)."""
        raise NotImplementedError(
            f"{self.__class__.__name__} must implement `_compute_scores(query, key)`."
        )

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        use_causal_mask=False,
        training=None,
        precomputed_key=None,
    ):
        key = value if key is None else key
        single_step = len(query.shape) == 2
        if single_step:
            if use_causal_mask:
                raise ValueError(
                    "`use_causal_mask=True` needs a rank-3 query (batch, Tq, q_dim); a "
                    f"rank-2 query is a single step. Received: query.shape={query.shape}"
                )
            query = ops.expand_dims(query, -2)  # (batch, 1, q_dim)
            if query_mask is not None:
                query_mask = ops.expand_dims(query_mask, -1)  # (batch, 1)

        if precomputed_key is None:
            precomputed_key = self._key_features(key)
        scores = self._compute_scores(query, precomputed_key)  # (batch, ..., Tq, Tv)
        mask = self._scores_mask(scores, query_mask, value_mask, use_causal_mask)
        weights = masked_softmax(scores, mask)  # (batch, ..., Tq, Tv)
        context = ops.matmul(
            self.dropout_layer(weights, training=training), value
        )  # (batch, ..., Tq, v_dim)

        if single_step:
            context = ops.squeeze(context, -2)  # (batch, v_dim)
            weights = ops.squeeze(weights, -2)  # (batch, Tv)
        return context, weights

    def _scores_mask(self, scores, query_mask, value_mask, use_causal_mask):
        """Merges the masks into one boolean mask that broadcasts to `scores`."""
        rank = len(scores.shape)
        mask = None
        if value_mask is not None:
            value_mask = ops.cast(value_mask, "bool")
            # (batch, Tv) -> (batch, 1, ..., 1, Tv): the same keys for every query.
            for _ in range(rank - len(value_mask.shape)):
                value_mask = ops.expand_dims(value_mask, 1)
            mask = value_mask
        if query_mask is not None:
            query_mask = ops.expand_dims(ops.cast(query_mask, "bool"), -1)  # (batch, Tq, 1)
            for _ in range(rank - len(query_mask.shape)):
                query_mask = ops.expand_dims(query_mask, 1)
            mask = query_mask if mask is None else ops.logical_and(mask, query_mask)
        if use_causal_mask:
            shape = ops.shape(scores)
            rows = ops.expand_dims(ops.arange(shape[-2]), -1)  # (Tq, 1)
            cols = ops.expand_dims(ops.arange(shape[-1]), 0)  # (1, Tv)
            causal = ops.less_equal(cols, rows)  # (Tq, Tv)
            mask = causal if mask is None else ops.logical_and(mask, causal)
        return mask

    def compute_mask(self, query, previous_mask=None):
        # The context keeps the query's mask; the weights carry none.
        if previous_mask is None:
            return None
        return (previous_mask, None)

    def get_config(self):
        config = super().get_config()
        config.update({"dropout": self.dropout, "seed": self.seed})
        return config


def masked_softmax(scores, mask=None):
    """Softmax over the last axis of `scores` that gives masked entries a weight of 0.

    Args:
        scores: float tensor `(..., Tv)`.
        mask: optional boolean tensor broadcastable to `scores`; `False` is masked.

    Returns:
        The weights, shaped like `scores`. A row whose entries are all masked is
        all zeros rather than NaN.
    """
    if mask is None:
        return ops.softmax(scores, axis=-1)
    # A large finite negative rather than -inf keeps fully masked rows finite
    # (softmax of a row of -inf is NaN); 65504 is the largest float16.
    large = 65504.0 if keras.backend.standardize_dtype(scores.dtype) == "float16" else 1.0e9
    scores = ops.where(mask, scores, -large)
    weights = ops.softmax(scores, axis=-1)
    # Exact zeros for masked entries, also in fully masked rows, where the
    # softmax alone would spread the weight uniformly over padding.
    return ops.where(mask, weights, ops.zeros_like(weights))


def additive_scores(query, key_proj, query_kernel, score_vector):
    """The additive score `v^T tanh(W_q q_i + W_k k_j)` of every query against every key.

    Shared by `BahdanauAttention` and `LuongAttention(score="concat")`, whose
    `W [q; k]` is the same map with `W = [W_q, W_k]`. The keys come projected,
    `W_k k_j`, so that a decoder projects them once per sequence, not once per
    step.

    Args:
        query: `(batch, ..., Tq, q_dim)`.
        key_proj: `(batch, ..., Tv, units)`, the keys times `W_k`.
        query_kernel: `(q_dim, units)`.
        score_vector: `(units,)`.

    Returns:
        The scores `(batch, ..., Tq, Tv)`.
    """
    query_proj = ops.matmul(query, query_kernel)  # (batch, Tq, units)
    hidden = ops.tanh(
        ops.expand_dims(query_proj, -2) + ops.expand_dims(key_proj, -3)
    )  # (batch, Tq, Tv, units)
    return ops.einsum("...u,u->...", hidden, score_vector)  # (batch, Tq, Tv)
