import keras
from keras import ops

from seqlib.attention.scaled_dot_product_attention import ScaledDotProductAttention


@keras.saving.register_keras_serializable(package="seqlib")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head self-attention of Vaswani et al. (2017).

    "Attention Is All You Need", https://arxiv.org/abs/1706.03762. Each of the
    `h` heads projects the sequence `X` to its own queries, keys and values and
    runs scaled dot-product attention; the heads are then projected back:

    ```
    Q_h = X W^Q_h + b^Q_h,  K_h = X W^K_h + b^K_h,  V_h = X W^V_h + b^V_h
    head_h = softmax(Q_h K_h^T / sqrt(key_dim)) V_h        # (batch, T, value_dim)
    Y = sum_h head_h W^O_h + b^O                            # = Concat(heads) W^O
    ```

    with `W^Q_h, W^K_h` `(d_model, key_dim)`, `W^V_h` `(d_model, value_dim)`
    and `W^O_h` `(value_dim, output_dim)`. Dropout is applied to the attention
    weights. Padded positions of the keras mask are excluded as keys; their own
    rows of weights are zero.

    Args:
        num_heads: int. Number of heads `h`.
        key_dim: int. Size of each head's queries and keys.
        value_dim: int or `None`. Size of each head's values; defaults to
            `key_dim`.
        output_dim: int or `None`. Size of the output; defaults to `d_model`,
            the size of the inputs.
        dropout: float in [0, 1). Dropout on the attention weights.
        use_bias: bool. Whether the projections have biases.
        kernel_initializer: Initializer of the projection kernels.
        bias_initializer: Initializer of the projection biases.
        seed: int or `None`. Seed of the dropout.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: `(batch, T, d_model)`.
        mask: Optional boolean `(batch, T)`; `False` marks padding, which is
            never attended to. Defaults to the inputs' keras mask.
        use_causal_mask: bool. Position `i` attends only to positions `j <= i`.
        training: bool. Whether dropout is active.

    Returns:
        `(outputs, weights)`: `(batch, T, output_dim)` and the attention weights
        of every head, `(batch, num_heads, T, T)`.

    Example:

    ```python
    layer = MultiHeadSelfAttention(num_heads=2, key_dim=4)
    x = np.random.rand(3, 5, 8)
    outputs, weights = layer(x, use_causal_mask=True)
    # outputs: (3, 5, 8), weights: (3, 2, 5, 5)
    ```
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        output_dim=None,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.output_dim = output_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        self.supports_masking = True
        self.attention = ScaledDotProductAttention(dropout=dropout, seed=seed, name="attention")

    def build(self, inputs_shape):
        d_model = inputs_shape[-1]
        if d_model is None:
            raise ValueError(f"The last axis of inputs must be known. Received: {inputs_shape}")
        value_dim = self.key_dim if self.value_dim is None else self.value_dim
        output_dim = d_model if self.output_dim is None else self.output_dim
        heads = self.num_heads
        self.query_kernel, self.query_bias = self._projection(
            "query", (d_model, heads, self.key_dim)
        )
        self.key_kernel, self.key_bias = self._projection("key", (d_model, heads, self.key_dim))
        self.value_kernel, self.value_bias = self._projection("value", (d_model, heads, value_dim))
        self.output_kernel, self.output_bias = self._projection(
            "output", (heads, value_dim, output_dim)
        )
        batch, time = inputs_shape[0], inputs_shape[1]
        self.attention.build(
            query_shape=(batch, heads, time, self.key_dim),
            value_shape=(batch, heads, time, value_dim),
            key_shape=(batch, heads, time, self.key_dim),
        )

    def _projection(self, name, kernel_shape):
        kernel = self.add_weight(
            shape=kernel_shape, initializer=self.kernel_initializer, name=f"{name}_kernel"
        )
        bias = None
        if self.use_bias:
            bias = self.add_weight(
                shape=kernel_shape[-1:] if name == "output" else kernel_shape[1:],
                initializer=self.bias_initializer,
                name=f"{name}_bias",
            )
        return kernel, bias

    def _project_heads(self, inputs, kernel, bias):
        heads = ops.einsum("btd,dhk->bhtk", inputs, kernel)  # (batch, heads, T, k)
        if bias is not None:
            heads = heads + ops.expand_dims(bias, 1)  # bias: (heads, 1, k)
        return heads

    def call(self, inputs, mask=None, use_causal_mask=False, training=None):
        query = self._project_heads(inputs, self.query_kernel, self.query_bias)
        key = self._project_heads(inputs, self.key_kernel, self.key_bias)
        value = self._project_heads(inputs, self.value_kernel, self.value_bias)
        # (batch, heads, T, key_dim), (batch, heads, T, key_dim), (batch, heads, T, value_dim)

        scores_mask = None
        if mask is not None:
            mask = ops.cast(mask, "bool")
            # Padding is neither attended to nor attends: (batch, T, T).
            scores_mask = ops.logical_and(ops.expand_dims(mask, -1), ops.expand_dims(mask, -2))
        context, weights = self.attention(
            query,
            value,
            key=key,
            value_mask=scores_mask,
            use_causal_mask=use_causal_mask,
            training=training,
        )  # (batch, heads, T, value_dim), (batch, heads, T, T)

        outputs = ops.einsum("bhtv,hvo->bto", context, self.output_kernel)  # (batch, T, output)
        if self.output_bias is not None:
            outputs = outputs + self.output_bias
        return outputs, weights

    def compute_mask(self, inputs, previous_mask=None):
        # The outputs keep the inputs' mask; the weights carry none.
        if previous_mask is None:
            return None
        return (previous_mask, None)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "output_dim": self.output_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "seed": self.seed,
            }
        )
        return config
