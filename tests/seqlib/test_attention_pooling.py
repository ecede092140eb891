"""AttentionPooling: a learned query attends over the steps of a sequence."""

import numpy as np

from seqlib.attention import AttentionPooling


def test_pooled_vector_is_the_weighted_mean_of_unmasked_steps():
    layer = AttentionPooling(4)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    pooled, weights = layer(x, mask=mask)
    weights = weights.numpy()
    assert pooled.shape == (2, 3) and weights.shape == (2, 5)
    np.testing.assert_array_equal(weights[0, 3:], 0.0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(pooled, np.einsum("bt,btd->bd", weights, x), atol=1e-6)


def test_the_query_is_learned():
    layer = AttentionPooling(4)
    layer(np.zeros((1, 2, 3), "float32"))
    assert any(w.path.endswith("query") for w in layer.trainable_weights)
    clone = AttentionPooling.from_config(layer.get_config())
    assert clone.units == 4
