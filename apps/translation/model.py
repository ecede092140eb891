"""Tokens, vocabularies, the Seq2Seq model and the in-graph translator.

Text becomes tokens inside the TensorFlow graph (`tokenize`: a space around
every punctuation mark, then a split on spaces; case is kept), so training,
`translate` and TensorFlow Serving cut sentences the same way and a served
model needs no Python. Tokens become ids through `tf.lookup` tables built from
the training split's most frequent tokens.

Target ids: 0 pads, 1 is `[UNK]`, 2 starts and 3 ends a sentence. Source ids:
0 pads, 1 is `[UNK]`.
"""

import collections
import json

import numpy as np
import tensorflow as tf

from seqlib.models import Seq2Seq

PAD, UNK, START, END = 0, 1, 2, 3
SOURCE_SPECIALS = ("", "[UNK]")
TARGET_SPECIALS = ("", "[UNK]", "[START]", "[END]")

# Punctuation marks become tokens of their own; apostrophes stay inside words.
_PUNCTUATION = r'([¿¡?.!,;:"()«»…])'
# Detokenisation: no space before closing marks, none after opening ones.
_SPACE_BEFORE = r" ([?.!,;:)»…])"
_SPACE_AFTER = r"([¿¡(«]) "


def tokenize(texts):
    """Splits a string tensor `(batch,)` into a ragged `(batch, None)` of tokens."""
    texts = tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 ")
    return tf.strings.split(texts)


def detokenize(tokens):
    """Joins a ragged or dense `(batch, None)` string tensor into sentences;
    empty tokens (padding and special marks) are skipped."""
    if not isinstance(tokens, tf.RaggedTensor):
        tokens = tf.RaggedTensor.from_tensor(tokens)
    tokens = tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)
    text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    text = tf.strings.regex_replace(text, _SPACE_BEFORE, r"\1")
    return tf.strings.regex_replace(text, _SPACE_AFTER, r"\1")


def tokenize_all(texts, batch_size=4096):
    """Python lists of tokens (str) for `texts`, cut by the graph's `tokenize`."""
    out = []
    for i in range(0, len(texts), batch_size):
        ragged = tokenize(tf.constant(texts[i : i + batch_size], tf.string))
        out.extend([t.decode("utf-8") for t in row] for row in ragged.to_list())
    return out


class Vocabulary:
    """Tokens by id: the special tokens first, then by falling training frequency.

    Args:
        tokens: Every token, specials included, in id order.
        specials: How many leading tokens are special.
    """

    def __init__(self, tokens, specials):
        self.tokens = list(tokens)
        self.specials = int(specials)
        self.index = {token: i for i, token in enumerate(self.tokens) if i >= self.specials}

    @classmethod
    def from_sentences(cls, tokenized, size, specials):
        """The `size` ids: `specials` and the most frequent tokens (ties by first sight)."""
        counts = collections.Counter(token for sentence in tokenized for token in sentence)
        words = [token for token, _ in counts.most_common(max(0, size - len(specials)))]
        return cls([*specials, *words], len(specials))

    @property
    def size(self):
        return len(self.tokens)

    def encode(self, tokens):
        return [self.index.get(token, UNK) for token in tokens]

    def to_json(self):
        return json.dumps({"specials": self.specials, "tokens": self.tokens}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text):
        record = json.loads(text)
        return cls(record["tokens"], record["specials"])

    def table(self):
        """A `tf.lookup.StaticHashTable` from token to id; unknown tokens map to `[UNK]`."""
        keys = self.tokens[self.specials :]
        return tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.string),
                tf.constant(np.arange(self.specials, self.size), tf.int32),
            ),
            default_value=UNK,
        )


def pad_batch(sequences, length=None, dtype=np.int32):
    """Right-pads lists of ids with 0 into `(batch, length)`."""
    length = length or max(1, max(len(s) for s in sequences))
    out = np.zeros((len(sequences), length), dtype)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = s[:length]
    return out


def build_model(config, source_vocabulary_size, target_vocabulary_size):
    """The `Seq2Seq` of `config.model`, for the given vocabulary sizes."""
    m = config.model
    return Seq2Seq(
        source_vocab_size=source_vocabulary_size,
        target_vocab_size=target_vocabulary_size,
        embedding_dim=m.embedding_dim,
        units=m.units,
        encoder_layers=m.encoder_layers,
        decoder_layers=m.decoder_layers,
        cell=m.cell,
        bidirectional=m.bidirectional,
        attention=None if m.attention == "none" else m.attention,
        attention_score=m.attention_score,
        input_feeding=m.input_feeding,
        reverse_source=m.reverse_source,
        dropout=m.dropout,
        start_id=START,
        end_id=END,
        pad_id=PAD,
        name="seq2seq",
    )


class Translator(tf.Module):
    """Sentences in, sentences out: tokenisation, lookup, decoding and
    detokenisation in one graph. `translate` and the SavedModel both run it.

    Args:
        model: A built `Seq2Seq`.
        source_vocabulary, target_vocabulary: Its `Vocabulary`s.
        decode: A `DecodeConfig`: beam width, length penalty, length limit.
    """

    def __init__(self, model, source_vocabulary, target_vocabulary, decode):
        super().__init__()
        self.model = model
        self.source_table = source_vocabulary.table()
        # Padding and the start and end marks print as nothing (`detokenize`
        # drops empty tokens); an unknown word shows as `[UNK]`.
        words = ["" for _ in range(target_vocabulary.specials)]
        words[UNK] = "[UNK]"
        words += target_vocabulary.tokens[target_vocabulary.specials :]
        self.target_words = tf.constant(words, tf.string)
        self.beam_width = int(decode.beam_width)
        self.length_penalty = float(decode.length_penalty)
        self.max_length_ratio = float(decode.max_length_ratio)
        self.max_length_extra = int(decode.max_length_extra)

    def source_ids(self, texts):
        """`(ids (batch, S) int32, lengths (batch,))` of a string tensor `(batch,)`."""
        tokens = tokenize(texts)
        ids = tf.ragged.map_flat_values(self.source_table.lookup, tokens)
        return ids.to_tensor(default_value=PAD), tf.cast(ids.row_lengths(), tf.int32)

    def _max_length(self, lengths):
        longest = tf.cast(tf.reduce_max(tf.concat([lengths, [1]], 0)), tf.float32)
        return tf.cast(tf.math.ceil(self.max_length_ratio * longest), tf.int32) + (
            self.max_length_extra
        )

    def _decode(self, texts, method, beam_width=1):
        source, lengths = self.source_ids(texts)
        # An empty sentence still gets one (padding) position; its output is "".
        source = tf.pad(source, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(source)[1])]])
        empty = tf.equal(lengths, 0)
        source = tf.where(empty[:, None] & tf.equal(tf.range(tf.shape(source)[1]), 0), UNK, source)
        result = self.model.generate(
            source,
            method=method,
            max_length=self._max_length(lengths),
            beam_width=beam_width,
            length_penalty=self.length_penalty,
        )
        ids, scores = result.ids, result.scores
        if method == "beam":
            ids, scores = ids[:, 0], scores[:, 0]  # the best hypothesis
        text = detokenize(tf.gather(self.target_words, ids))
        return {
            "translation": tf.where(empty, tf.constant(""), text),
            "ids": ids,
            "score": scores,
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def beam(self, text):
        """Beam search (the config's width and length penalty)."""
        return self._decode(text, "beam", self.beam_width)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def greedy(self, text):
        """Greedy search."""
        return self._decode(text, "greedy")

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
        target_in = tf.concat([tf.fill([tf.shape(ids)[0], 1], START), ids[:, :-1]], axis=1)
        _, weights = self.model((source, target_in), training=False, return_attention=True)
        words = tf.concat([self.target_words[:END], ["[END]"], self.target_words[END + 1 :]], 0)
        return {
            "weights": weights,
            "source_tokens": tokenize(text).to_tensor(default_value=""),
            "target_tokens": tf.gather(words, ids),
        }
