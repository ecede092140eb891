import keras
import numpy as np
from keras import ops

MODES = ("add", "encoding")


@keras.saving.register_keras_serializable(package="seqlib")
class SinusoidalPositionalEncoding(keras.layers.Layer):
    """Sinusoidal position encoding of Vaswani et al. (2017).

    "Attention Is All You Need", https://arxiv.org/abs/1706.03762. Attention
    alone is blind to order, so each position `pos` gets a fixed vector whose
    dimensions are sinusoids of geometrically spaced wavelengths:

    ```
    PE[pos, 2i]     = sin(pos / max_wavelength^(2i / d_model))
    PE[pos, 2i + 1] = cos(pos / max_wavelength^(2i / d_model))
    ```

    An odd `d_model` is fine: its last dimension is a sine. The table is
    computed once for `max_length` positions; longer inputs are an error.

    Args:
        max_length: int. Longest sequence the layer accepts.
        max_wavelength: float. The base of the wavelengths (10000 in the paper).
        mode: `"add"` returns `inputs + PE`; `"encoding"` returns `PE` alone,
            broadcast to the shape of the inputs.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: `(batch, T, d_model)` with `T <= max_length`. A keras mask is
            passed through unchanged.

    Returns:
        `(batch, T, d_model)`: `inputs + PE[:T]` or `PE[:T]`, by `mode`.

    Example:

    ```python
    embeddings = keras.layers.Embedding(100, 16)(token_ids)  # (batch, T, 16)
    x = SinusoidalPositionalEncoding(max_length=512)(embeddings)
    ```
    """

    def __init__(self, max_length=2048, max_wavelength=10000.0, mode="add", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"Expected one of {set(MODES)}. Received: mode={mode!r}")
        if max_length < 1:
            raise ValueError(f"Expected max_length >= 1. Received: max_length={max_length}")
        self.max_length = max_length
        self.max_wavelength = max_wavelength
        self.mode = mode
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "Expected inputs of shape (batch, time, d_model) with d_model known. "
                f"Received: input_shape={input_shape}"
            )
        # A numpy table, not a tensor: a tensor made while tracing a graph
        # could not be used outside it.
        self._table = sinusoidal_table(self.max_length, input_shape[-1], self.max_wavelength)

    def call(self, inputs):
        time, d_model = inputs.shape[1], inputs.shape[2]
        if time is not None and time > self.max_length:
            raise ValueError(
                f"Expected at most max_length={self.max_length} time steps. "
                f"Received: inputs.shape={inputs.shape}"
            )
        table = ops.convert_to_tensor(self._table, dtype=inputs.dtype)  # (max_length, d_model)
        encoding = ops.slice(table, (0, 0), (ops.shape(inputs)[1], d_model))  # (T, d_model)
        if self.mode == "add":
            return inputs + encoding  # (batch, T, d_model)
        return ops.broadcast_to(encoding, ops.shape(inputs))  # (batch, T, d_model)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_length": self.max_length,
                "max_wavelength": self.max_wavelength,
                "mode": self.mode,
            }
        )
        return config


def sinusoidal_table(length, d_model, max_wavelength=10000.0):
    """The encoding `PE` of positions `0 .. length - 1`, a float32 array `(length, d_model)`."""
    positions = np.arange(length, dtype=np.float64)[:, None]  # (length, 1)
    dims = np.arange(d_model)  # (d_model,)
    # Dimensions 2i and 2i + 1 share the frequency 1 / max_wavelength^(2i / d_model).
    frequencies = max_wavelength ** (-(dims - dims % 2) / d_model)  # (d_model,)
    angles = positions * frequencies  # (length, d_model)
    table = np.where(dims % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype(np.float32)
