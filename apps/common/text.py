"""Tokens and vocabularies in the graph, for the apps that read or write words.

Text becomes tokens inside the TensorFlow graph (`tokenize`: a space around
every punctuation mark, then a split on spaces; case is kept unless the text
is `normalize`d first), so training, the predicting verbs and TensorFlow
Serving cut sentences the same way and a served model needs no Python.
Tokens become ids through `tf.lookup` tables built from the training split's
most frequent tokens (`Vocabulary`).

Ids: 0 pads, 1 is `[UNK]`; a vocabulary of written words (`TARGET_SPECIALS`)
adds 2, the start, and 3, the end of a sentence.
"""

import collections
import json

import numpy as np
import tensorflow as tf

PAD, UNK, START, END = 0, 1, 2, 3
SOURCE_SPECIALS = ("", "[UNK]")
TARGET_SPECIALS = ("", "[UNK]", "[START]", "[END]")

# Punctuation marks become tokens of their own; apostrophes stay inside words.
_PUNCTUATION = r'([¿¡?.!,;:"()«»…])'
# Detokenisation: no space before closing marks, none after opening ones.
_SPACE_BEFORE = r" ([?.!,;:)»…])"
_SPACE_AFTER = r"([¿¡(«]) "


def normalize(texts, lowercase=True):
    """The text tokens are cut from: lowercased (UTF-8) when asked."""
    texts = tf.convert_to_tensor(texts, tf.string)
    return tf.strings.lower(texts, encoding="utf-8") if lowercase else texts


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


def tokenize_all(texts, lowercase=False, batch_size=4096):
    """Python lists of tokens (str) for `texts`, cut by the graph's `tokenize`
    (after `normalize` when `lowercase`)."""
    out = []
    for i in range(0, len(texts), batch_size):
        ragged = tokenize(normalize(tf.constant(texts[i : i + batch_size], tf.string), lowercase))
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

    def words(self):
        """The words the ids print as: padding and the start and end marks as
        nothing (`detokenize` drops empty tokens), an unknown word as `[UNK]`."""
        words = ["" for _ in range(self.specials)]
        words[UNK] = "[UNK]"
        return words + self.tokens[self.specials :]
