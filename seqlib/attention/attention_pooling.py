import keras
from keras import ops

from seqlib.attention.bahdanau_attention import BahdanauAttention


@keras.saving.register_keras_serializable(package="seqlib")
class AttentionPooling(keras.layers.Layer):
    """Pools a sequence into one vector with a learned query (Yang et al., 2016).

    "Hierarchical Attention Networks for Document Classification",
    https://aclanthology.org/N16-1174. A trainable context vector `u` asks
    "which steps matter?" of every step's output `h_t`, through the additive
    score of `BahdanauAttention`:

    ```
    e_t = v^T tanh(W_q u + W_k h_t)      # (batch, T)
    a_t = softmax_t(e_t)                 # padded steps get 0
    s   = sum_t a_t h_t                  # (batch, features)
    ```

    The weights `a_t` say which words drove a classification, which is what
    the sentiment app draws.

    Args:
        units: int. Size of the query and of the score's hidden layer.
        dropout: float in [0, 1). Dropout on the attention weights.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: `(batch, T, features)`.
        mask: Optional boolean `(batch, T)`; taken from the keras mask.
        training: bool.

    Returns:
        `(pooled, weights)`: `(batch, features)` and `(batch, T)`.

    Example:

    ```python
    pooled, weights = AttentionPooling(16)(np.random.rand(2, 7, 32))
    # pooled: (2, 32), weights: (2, 7)
    ```
    """

    def __init__(self, units, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dropout = dropout
        self.supports_masking = True
        self.attention = BahdanauAttention(units, dropout=dropout, name="attention")

    def build(self, input_shape):
        self.query = self.add_weight(
            shape=(self.units,), initializer="glorot_uniform", name="query"
        )
        self.attention.build((None, self.units), input_shape)

    def call(self, inputs, mask=None, training=None):
        batch = ops.shape(inputs)[0]
        query = ops.broadcast_to(ops.cast(self.query, inputs.dtype), (batch, self.units))
        return self.attention(query, inputs, value_mask=mask, training=training)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1]), (input_shape[0], input_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "dropout": self.dropout})
        return config
