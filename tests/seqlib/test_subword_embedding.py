"""SubwordEmbedding: the mean of hashed character n-gram vectors, as in fastText."""

import numpy as np
import pytest
import tensorflow as tf

from seqlib.layers import SubwordEmbedding


def _reference(layer, word):
    # fastText by hand: "<word>", every n-gram, hashed with TF's own hash.
    marked = f"<{word}>"
    low, high = layer.ngram_range
    grams = [marked[i : i + n] for n in range(low, high + 1) for i in range(len(marked) - n + 1)]
    if not grams:
        return np.zeros(layer.output_dim, "float32")
    ids = tf.strings.to_hash_bucket_fast(grams, layer.num_buckets).numpy()
    return layer.embeddings.numpy()[ids].mean(axis=0)


def test_matches_the_fasttext_recipe():
    layer = SubwordEmbedding(num_buckets=97, output_dim=4)
    words = tf.constant([["good", "gooood", "ñandú", ""], ["a", "sad", "", ""]])
    out = layer(words).numpy()
    assert out.shape == (2, 4, 4)
    for b, row in enumerate(words.numpy()):
        for t, word in enumerate(row):
            np.testing.assert_allclose(out[b, t], _reference(layer, word.decode()), atol=1e-6)


def test_padding_is_zero_and_masked():
    layer = SubwordEmbedding(num_buckets=50, output_dim=3, ngram_range=(2, 3))
    words = tf.constant([["hi", "", ""]])
    np.testing.assert_array_equal(layer(words).numpy()[0, 1:], 0.0)
    np.testing.assert_array_equal(layer.compute_mask(words), [[True, False, False]])


def test_similar_words_share_ngrams():
    layer = SubwordEmbedding(num_buckets=100003, output_dim=2)
    ids = layer.ngram_ids(tf.constant([["happy", "happyyy", "table"]]))
    happy, happyyy, table = (set(ids[0, i].numpy()) for i in range(3))
    assert len(happy & happyyy) >= 5 and not happy & table


def test_gradients_reach_the_ngram_rows_only():
    layer = SubwordEmbedding(num_buckets=1000, output_dim=3)
    words = tf.constant([["cat"]])
    layer.build(words.shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(words))
    grad = tf.convert_to_tensor(tape.gradient(loss, layer.embeddings)).numpy()
    rows = set(layer.ngram_ids(words)[0, 0].numpy())
    assert set(np.nonzero(grad.any(axis=1))[0]) == rows


def test_in_a_graph_and_round_trip():
    layer = SubwordEmbedding(num_buckets=64, output_dim=5)
    words = tf.constant([["one", "two"], ["three", ""]])
    expected = layer(words)
    graph = tf.function(layer, input_signature=[tf.TensorSpec((None, None), tf.string)])
    np.testing.assert_allclose(graph(words), expected)
    clone = SubwordEmbedding.from_config(layer.get_config())
    clone.build(words.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(words), expected)


def test_bad_arguments():
    with pytest.raises(ValueError, match="ngram_range"):
        SubwordEmbedding(10, 2, ngram_range=(4, 3))
    with pytest.raises(ValueError, match="num_buckets"):
        SubwordEmbedding(0, 2)
