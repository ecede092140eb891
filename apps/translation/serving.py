"""The translation export and the functions that ask any form of it.

`Translator` is what `translate`, `evaluate` and TensorFlow Serving run:
sentences in, sentences out (tokenisation, lookup, decoding and
detokenisation in one graph). `translate_sentences` and `attention_of` call
a `Translator`, a loaded export or a served model alike, in batches.
"""

import numpy as np
import tensorflow as tf

from apps.common.decoder import DecoderModule, attention_of_one, decode_batches
from apps.common.text import PAD, UNK, tokenize
from apps.translation.numbers import mark_source, restore


class Translator(DecoderModule):
    """Sentences in (`text`), sentences out (`translation`), with `ids` and `score`.

    Args:
        model: A built `Seq2Seq`.
        source_vocabulary, target_vocabulary: Its `Vocabulary`s.
        decode: A `DecodeConfig`: beam width, length penalty, length limit.
    """

    input_name = "text"
    output_name = "translation"

    def __init__(self, model, source_vocabulary, target_vocabulary, decode, numbers="words"):
        super().__init__(model, target_vocabulary, decode)
        self.source_table = source_vocabulary.table()
        self.placeholders = numbers == "placeholders"
        self.max_length_ratio = float(decode.max_length_ratio)
        self.max_length_extra = int(decode.max_length_extra)
        self.unknown_penalty = float(decode.unknown_penalty)
        # Copying needs the attention's alignment.
        self.copy_unknown = bool(decode.copy_unknown) and model.attention is not None

    def generate_options(self):
        """The `[UNK]` penalty as a logit bias (`-1e9` for `inf`: never)."""
        if not self.unknown_penalty:
            return {}
        bias = np.zeros(self.model.target_vocab_size, np.float32)
        bias[UNK] = -min(self.unknown_penalty, 1e9)
        return {"logit_bias": tf.constant(bias)}

    def output_tokens(self, inputs, model_input, ids):
        """The vocabulary's words, each `<numk>` replaced by the source's `k`-th
        number (with placeholders) and each `[UNK]` by the source token the
        attention weighs most while the decoder emits it (with `copy_unknown`)."""
        words = tf.gather(self.words, ids)  # (batch, T)
        if self.placeholders:
            words = restore(words, tokenize(inputs))
        if not self.copy_unknown:
            return words
        unknown = tf.equal(ids, UNK)

        def copied():
            _, weights = self.model(
                (model_input, self.decoder_inputs(ids)), training=False, return_attention=True
            )  # (batch, T, S)
            aligned = tf.argmax(weights, axis=-1, output_type=tf.int32)  # (batch, T)
            tokens = tokenize(inputs).to_tensor(default_value="")  # (batch, <= S)
            width = tf.shape(model_input)[1] - tf.shape(tokens)[1]
            tokens = tf.pad(tokens, [[0, 0], [0, width]], constant_values="")  # (batch, S)
            return tf.where(unknown, tf.gather(tokens, aligned, batch_dims=1), words)

        return tf.cond(tf.reduce_any(unknown), copied, lambda: words)

    def source_ids(self, texts):
        """`(ids (batch, S) int32, lengths (batch,))` of a string tensor `(batch,)`."""
        tokens = tokenize(texts)
        if self.placeholders:
            tokens = mark_source(tokens)
        ids = tf.ragged.map_flat_values(self.source_table.lookup, tokens)
        return ids.to_tensor(default_value=PAD), tf.cast(ids.row_lengths(), tf.int32)

    def _max_length(self, lengths):
        longest = tf.cast(tf.reduce_max(tf.concat([lengths, [1]], 0)), tf.float32)
        return tf.cast(tf.math.ceil(self.max_length_ratio * longest), tf.int32) + (
            self.max_length_extra
        )

    def model_inputs(self, texts):
        source, lengths = self.source_ids(texts)
        # An empty sentence still gets one (padding) position; its output is "".
        source = tf.pad(source, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(source)[1])]])
        empty = tf.equal(lengths, 0)
        source = tf.where(empty[:, None] & tf.equal(tf.range(tf.shape(source)[1]), 0), UNK, source)
        return source, self._max_length(lengths), empty

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="text"),
            tf.TensorSpec([None, None], tf.int32, name="ids"),
        ]
    )
    def attention(self, text, ids):
        """Where the decoder looked while it emitted `ids` (target ids of a
        translation, end included, padded with 0 or the end id): `weights`
        `(batch, T, S)` over the source tokens, with `source_tokens` `(batch, S)`
        and `target_tokens` `(batch, T)` (empty strings pad)."""
        source, _ = self.source_ids(text)
        target_in = self.decoder_inputs(ids)
        _, weights = self.model((source, target_in), training=False, return_attention=True)
        return {
            "weights": weights,
            "source_tokens": tokenize(text).to_tensor(default_value=""),
            "target_tokens": tf.gather(self.end_words(), ids),
        }


def translate_sentences(translator, sentences, greedy=False, batch_size=64):
    """`(translations, ids, scores)` of a list of sentences, in order, decoded
    `batch_size` at a time by a `Translator`, a loaded export or a served model."""
    return decode_batches(
        translator, sentences, Translator.input_name, Translator.output_name, greedy, batch_size
    )


def attention_of(translator, sentence, ids):
    """`(weights (T, S), source_tokens (S,), target_tokens (T,))` of the
    translation `ids` of one sentence, up to its end mark."""
    out = attention_of_one(translator, Translator.input_name, sentence, ids)
    return (
        out["weights"].numpy()[0],
        [t.decode("utf-8") for t in out["source_tokens"].numpy()[0]],
        [t.decode("utf-8") for t in out["target_tokens"].numpy()[0]],
    )
