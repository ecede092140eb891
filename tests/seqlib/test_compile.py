"""seqlib layers compile with XLA (`jit_compile=True`) and give the same gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlib import layers


@pytest.mark.parametrize(
    "name, kwargs",
    [("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False}), ("LSTM", {"peephole": True})],
    ids=["lstm", "gru", "gru_classic", "lstm_peephole"],
)
@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
def test_xla_training_step_matches_eager(name, kwargs, masked):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(3, 5, 4)).astype("float32"))
    mask = tf.constant(np.array([[1] * 5, [1] * 3 + [0] * 2, [1] + [0] * 4], bool))
    layer = getattr(layers, name)(6, return_sequences=True, **kwargs)
    layer.build(x.shape)

    def step():
        with tf.GradientTape() as tape:
            y = layer(x, mask=mask if masked else None, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        return y, tape.gradient(loss, layer.trainable_weights)

    eager_y, eager_grads = step()
    xla_y, xla_grads = tf.function(step, jit_compile=True)()
    np.testing.assert_allclose(xla_y, eager_y, atol=1e-5)
    assert len(xla_grads) == len(eager_grads) == len(layer.trainable_weights)
    for got, want in zip(xla_grads, eager_grads, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_fit_with_jit_compile_reduces_the_loss():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 6, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None] / 6.0
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 3)), layers.GRU(8), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=True)
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
