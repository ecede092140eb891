"""seqlib layers under the `mixed_float16` policy: float16 compute, float32 weights."""

import keras
import numpy as np
import pytest

from seqlib import layers

KINDS = [
    ("LSTM", {}),
    ("GRU", {"reset_after": True}),
    ("GRU", {"reset_after": False}),
    ("SimpleRNN", {}),
    ("LSTM", {"peephole": True}),
]


@pytest.fixture
def mixed_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("name, kwargs", KINDS, ids=lambda v: str(v))
def test_mixed_float16_matches_float32_and_trains(mixed_policy, name, kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 5)).astype("float32")
    y = rng.normal(size=(4, 1)).astype("float32")
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2, [1] * 6, [1] * 2 + [0] * 4], bool)

    mixed = getattr(layers, name)(8, **kwargs)
    out16 = mixed(x, mask=mask)
    assert mixed.compute_dtype == "float16" and mixed.cell.kernel.dtype == "float32"
    assert keras.backend.standardize_dtype(out16.dtype) == "float16"

    keras.config.set_dtype_policy("float32")
    exact = getattr(layers, name)(8, **kwargs)
    exact.build(x.shape)
    exact.set_weights(mixed.get_weights())
    np.testing.assert_allclose(np.asarray(out16, "float32"), exact(x, mask=mask), atol=1e-2)
    keras.config.set_dtype_policy("mixed_float16")

    model = keras.Sequential(
        [
            keras.Input((6, 5)),
            getattr(layers, name)(8, **kwargs),
            keras.layers.Dense(1, dtype="float32"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
