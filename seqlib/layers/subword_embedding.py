import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="seqlib")
class SubwordEmbedding(keras.layers.Layer):
    """Embeds words as the mean of their hashed character n-grams (fastText).

    Bojanowski et al. (2017), "Enriching Word Vectors with Subword
    Information", https://arxiv.org/abs/1607.04606. A word `w` is wrapped in
    boundary marks, `<w>`, cut into its character n-grams for every `n` in
    `ngram_range`, and each n-gram is hashed into one of `num_buckets` rows:

    ```
    G(w) = {hash(g) mod B : g an n-gram of "<w>", n_min <= n <= n_max}
    e(w) = mean_{g in G(w)} E[g]                    # (output_dim,)
    ```

    Words never seen in training, misspellings and elongations ("sooo",
    "gooood") share n-grams with the words they resemble, so they get useful
    vectors where a word-level vocabulary has only `[UNK]`. The hashing and
    the n-grams are TensorFlow string ops: the layer runs inside an exported
    graph on raw strings. TensorFlow backend only.

    Args:
        num_buckets: int. Rows of the n-gram table (hash buckets).
        output_dim: int. Size of the embedding.
        ngram_range: `(n_min, n_max)`, inclusive.
        embeddings_initializer: Initializer of the table.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        words: string tensor `(batch, T)`; `""` is padding.

    Returns:
        `(batch, T, output_dim)`, zeros at padding, with a keras mask
        `words != ""`.

    Example:

    ```python
    layer = SubwordEmbedding(num_buckets=1000, output_dim=8)
    layer(tf.constant([["good", "gooood", ""]])).shape   # (1, 3, 8)
    ```
    """

    def __init__(
        self,
        num_buckets,
        output_dim,
        ngram_range=(3, 5),
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        ngram_range = tuple(ngram_range)
        if len(ngram_range) != 2 or not 1 <= ngram_range[0] <= ngram_range[1]:
            raise ValueError(
                f"Expected ngram_range=(n_min, n_max) with 1 <= n_min <= n_max. "
                f"Received: ngram_range={ngram_range}"
            )
        if num_buckets < 1:
            raise ValueError(f"Expected num_buckets >= 1. Received: num_buckets={num_buckets}")
        self.num_buckets = num_buckets
        self.output_dim = output_dim
        self.ngram_range = ngram_range
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.num_buckets, self.output_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
        )

    def ngram_ids(self, words):
        """The hashed n-gram ids of every word: ragged `(batch, T, None)`."""
        marked = tf.strings.join(["<", words, ">"])
        chars = tf.strings.unicode_split(marked, "UTF-8", errors="replace")  # (batch, T, None)
        low, high = self.ngram_range
        grams = tf.concat(
            [tf.strings.ngrams(chars, n, separator="") for n in range(low, high + 1)], axis=-1
        )  # (batch, T, None)
        return tf.strings.to_hash_bucket_fast(grams, self.num_buckets)

    def call(self, words):
        ids = self.ngram_ids(words)
        table = tf.cast(self.embeddings, self.compute_dtype)
        vectors = tf.ragged.map_flat_values(tf.gather, table, ids)  # (batch, T, None, dim)
        total = tf.reduce_sum(vectors, axis=2)  # (batch, T, dim)
        count = tf.cast(ids.row_lengths(axis=2), self.compute_dtype)  # (batch, T)
        if isinstance(total, tf.RaggedTensor):
            total, count = total.to_tensor(), count.to_tensor()
        # Padding ("<>") and words shorter than n_min have no n-gram: a zero vector.
        embedded = total / tf.maximum(count, 1.0)[..., None]
        return tf.where(tf.not_equal(words, "")[..., None], embedded, tf.zeros_like(embedded))

    def compute_mask(self, words, mask=None):
        return keras.ops.not_equal(words, "")

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_buckets": self.num_buckets,
                "output_dim": self.output_dim,
                "ngram_range": self.ngram_range,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
