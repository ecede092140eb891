"""The sentiment classifier: raw strings in, a probability out.

```
text -> standardize -> TextVectorization        (batch, T) word ids, 0 = padding
     -> Embedding + SubwordEmbedding            (batch, T, E) word + hashed char n-grams
     [negation scope: words it governs mapped]  (batch, T, E), `model.negation`
     [+ lexicon valences]                       (batch, T, E + 2), `model.lexicon`
     then, for each of M members (`model.members`):
     -> SpatialDropout1D                        whole words dropped
     -> Bidirectional(seqlib GRU | LSTM) x L    (batch, T, 2U)
     -> AttentionPooling                        (batch, 2U), weights (batch, T)
     -> Dropout -> Dense(sigmoid)               "probability" (batch, 1)
                -> Dense                        "rating" (batch, 1), auxiliary
                -> Dense(softmax)               "extra_tweets" (batch, 3), auxiliary
     the members' heads side by side            (batch, M), (batch, M, 3) when M > 1
```

The answer is the members' mean probability (`mean_probability`): each member
has its own initialisation, dropout and loss, a seed ensemble in one model.

`standardize` reads texts the way GloVe's tokenizer wrote its corpus when asked
(`data.split_clitics`: "don't" -> "do n't"; `data.emoticons`: ":-)" -> ":)").
The subword half (fastText's hashed character n-grams, `seqlib.layers`) gives
unseen words, misspellings and elongations ("sooo") a vector, and learns when
the word embedding is frozen (`model.freeze_word_vectors`). The auxiliary
head regresses the annotators' mean rating (scaled to about
[-1, 1]): with 3,000 training tweets, "how positive" is a richer signal than
"positive or not", and it costs one dense layer.

Knowledge from outside the 3,000 training tweets comes in four ways, each a
config switch: the word embedding can start from GloVe 50d or 100d
(`model.word_vectors`); 38,000 graded tweets of other topics
(`data.extra_tweets="multitask"`) train the shared encoder through a head of
their own, `extra_tweets` (negative, neutral, positive), so their topics and
label balance stay out of the `probability` head; the embedding and recurrent
layers can start from a bidirectional language model pretrained on unlabelled
text (`pretrain`); and each word can carry its VADER lexicon valence
(`model.lexicon`), which makes the model one to judge against the stacked
baseline rather than a lexicon-free one.
"""

import functools
import re

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from seqlib.attention import AttentionPooling
from seqlib.layers import Bidirectional, SubwordEmbedding
from seqlib.models import recurrent_layer

RATING_SCALE = 4.0  # ratings lie in [-4, 4]; the head predicts rating / 4
EXTRA_CLASSES = ("negative", "neutral", "positive")  # the extra tweets' head


# Emoticons, after lower-casing: eyes, an optional nose, a mouth (":-)", ";p",
# "=]", ":'("), the same reversed ("(:", "d:"), hearts and a few kaomoji.
EMOTICON = (
    r"[:;=][-'^o]?[()\[\]dp/\\|*3s$@]+|x[-']?[dp3]+|[()\[\]d/\\|]+[-'^o]?[:;=]"
    r"|<3+|</3|\^_*\^|[-o0]_+[-o0]|t_t"
)
PUNCTUATION = r"([!?.,;:()\"*]+)"  # runs of it become tokens of their own

# Negation cues after `standardize` ("n't" split off by `data.split_clitics`, or
# still on its verb, or written without its apostrophe), and the words besides
# punctuation that end a cue's scope (`negation_scope`).
NEGATION_CUE = (
    r"not|no|never|n't|nothing|nobody|none|neither|nor|nowhere|without|hardly|barely"
    r"|scarcely|cannot|\w+n't|(do|does|did|is|was|are|were|ca|could|wo|would|should"
    r"|have|has|had|ai)nt"
)
SCOPE_END = r"[!?.,;:()\"*]+|but|however|although|though"


def standardize(texts, split_clitics=False, emoticons=False):
    """Lower-cases, replaces links and user names, and splits runs of
    punctuation (`!!!`, `:)`) from words so that they become tokens of their own.

    With `split_clitics`, clitics become words of their own the way GloVe's
    tokenizer (Stanford's, Penn Treebank style) wrote them: "don't" -> "do n't",
    "can't" -> "ca n't", "it's" -> "it 's", "i'm" -> "i 'm"; so negation is one
    word, "n't", whatever verb carries it, and both halves have a vector.

    With `emoticons`, a word that is an emoticon (`EMOTICON`, trailing `.,!?`
    aside) stays one token, its nose and repeated mouth dropped: ":-)", ":o)"
    and ":)))" are all ":)", ":-D" is ":d"; otherwise the punctuation split cuts
    ":-)" into ":", "-", ")" and ":D" into ":", "d".
    """
    texts = tf.strings.lower(texts)
    texts = tf.strings.regex_replace(texts, r"https?://\S+", " <url> ")
    texts = tf.strings.regex_replace(texts, r"@\w+", " <user> ")
    if split_clitics:
        texts = tf.strings.regex_replace(texts, "[\u2019`]", "'")
        texts = tf.strings.regex_replace(texts, r"(\w)n't\b", r"\1 n't")
        texts = tf.strings.regex_replace(texts, r"(\w)'(s|m|re|ve|ll|d)\b", r"\1 '\2")
    if not emoticons:
        return tf.strings.regex_replace(texts, PUNCTUATION, r" \1 ")
    words = tf.strings.split(texts)  # ragged (batch, words)
    flat = words.flat_values
    emoticon = tf.strings.regex_full_match(flat, f"({EMOTICON})[.,!?]*")
    # ":-)" -> ":)", ":)))" -> ":)", "<333" -> "<3"; trailing punctuation split off.
    kept = tf.strings.regex_replace(flat, f"^({EMOTICON})", r"\1 ")
    kept = tf.strings.regex_replace(kept, r"^([:;=x])[-'^o]", r"\1")  # the nose
    for mouth in ")(dp3][/|*s$@":  # a repeated mouth (RE2 has no backreferences)
        repeated = re.escape(mouth)
        kept = tf.strings.regex_replace(kept, f"^([:;=x]){repeated}+ ", f"\\1{mouth} ")
    kept = tf.strings.regex_replace(kept, r"^<33+ ", "<3 ")
    kept = tf.strings.regex_replace(kept, r" ([.,!?]+)$", r" \1")
    split = tf.strings.regex_replace(flat, PUNCTUATION, r" \1 ")
    flat = tf.where(emoticon, kept, split)
    return tf.strings.reduce_join(words.with_flat_values(flat), axis=-1, separator=" ")


def standardizer(config):
    """The `standardize` of `config` (`data.split_clitics`, `data.emoticons`)."""
    return functools.partial(
        standardize,
        split_clitics=config.data.split_clitics,
        emoticons=config.data.emoticons,
    )


def make_vectorizer(config, vocabulary=None):
    return keras.layers.TextVectorization(
        # A given vocabulary may hold more than `data.max_tokens` words: those of
        # the training texts, then the word vectors' (`model.vector_vocabulary`).
        max_tokens=config.data.max_tokens if vocabulary is None else None,
        standardize=standardizer(config),
        split="whitespace",
        output_sequence_length=config.data.sequence_length,
        vocabulary=vocabulary,
        name="vectorize",
    )


def build_vocabulary(config, texts):
    """The vocabulary of the training texts, most frequent first."""
    vectorizer = make_vectorizer(config)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(512))
    # The first two entries are padding ("") and out-of-vocabulary ("[UNK]"),
    # which TextVectorization adds again itself.
    return vectorizer.get_vocabulary()[2:]


@keras.saving.register_keras_serializable(package="apps.sentiment")
class Tokenize(keras.layers.Layer):
    """Raw strings `(batch,)` to padded words `(batch, length)`, `""` padding: the
    same standardization and split as the `TextVectorization` layer."""

    def __init__(self, length, split_clitics=False, emoticons=False, **kwargs):
        super().__init__(**kwargs)
        self.length = length
        self.split_clitics = split_clitics
        self.emoticons = emoticons

    def call(self, texts):
        words = tf.strings.split(standardize(texts, self.split_clitics, self.emoticons))
        return words.to_tensor(default_value="", shape=[None, self.length])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.length)

    def get_config(self):
        return {
            **super().get_config(),
            "length": self.length,
            "split_clitics": self.split_clitics,
            "emoticons": self.emoticons,
        }


def tokenizer(config, name=None):
    """The `Tokenize` layer of `config`."""
    data = config.data
    return Tokenize(data.sequence_length, data.split_clitics, data.emoticons, name=name)


def negation_scope(words):
    """Which words `(batch, T)` lie in the scope of a negation: after a cue
    (`NEGATION_CUE`) and before the next punctuation mark or contrast
    (`SCOPE_END`); two cues in one clause cancel ("not without reason").
    Returns float32 `(batch, T)`, 1.0 in a scope, 0.0 elsewhere and at padding.

    "the food was n't good , but cheap" -> 0 0 0 0 1 0 0 0.
    """
    cue = tf.cast(tf.strings.regex_full_match(words, NEGATION_CUE), tf.float32)
    end = tf.cast(tf.strings.regex_full_match(words, SCOPE_END), tf.int32)
    clause = tf.cumsum(end, axis=1)  # (batch, T): the clause each word is in
    same_clause = tf.cast(tf.equal(clause[:, :, None], clause[:, None, :]), tf.float32)
    length = tf.shape(words)[1]
    earlier = tf.linalg.band_part(tf.ones([length, length]), -1, 0) - tf.eye(length)
    # cues[b, i]: the cues before word i in its clause.
    cues = tf.reduce_sum(same_clause * earlier * cue[:, None, :], axis=-1)
    return tf.math.floormod(cues, 2.0) * tf.cast(words != "", tf.float32)


@keras.saving.register_keras_serializable(package="apps.sentiment")
class NegationScope(keras.layers.Layer):
    """Padded words `(batch, T)` to `negation_scope`'s `(batch, T)` float flags."""

    def call(self, words):
        return negation_scope(words)

    def compute_output_shape(self, input_shape):
        return input_shape


class _OverScope(keras.layers.Layer):
    """A layer called on `(x, scope)`: the words `(batch, T, D)` and their
    `negation_scope` flags `(batch, T)`. Keeps the words' mask and, unless a
    subclass says otherwise, their shape."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, x_shape, scope_shape=None):
        return x_shape


@keras.saving.register_keras_serializable(package="apps.sentiment")
class Negate(_OverScope):
    """Reads a word in a negation's scope through a learnt linear map of its
    vector: `x_t W` where `scope_t` is 1, `x_t` elsewhere. `W` `(dim, dim)`
    starts as the identity, so that the model begins as if it had none and
    learns from the labels what negation does to a word; one map for every
    word, so that it carries to words no negated training text shows."""

    def build(self, x_shape, scope_shape=None):
        dim = x_shape[-1]
        self.kernel = self.add_weight(
            shape=(dim, dim), initializer="identity", name="kernel", trainable=True
        )

    def call(self, x, scope):
        negated = ops.matmul(x, ops.cast(self.kernel, x.dtype))
        return ops.where(ops.expand_dims(scope, -1) > 0, negated, x)


@keras.saving.register_keras_serializable(package="apps.sentiment")
class FlipNegated(_OverScope):
    """Reverses the recurrent states of the words in a negation's scope by a
    learnt amount: `x_t (1 - 2 g scope_t)`, `g` one scalar starting at 0 (no
    flip). The heads are linear in the pooled states, so a word's push
    towards positive becomes a push towards negative where `g` is 1 (VADER's
    rule multiplies by -0.74, `g` = 0.87); the labels set `g`."""

    def build(self, x_shape, scope_shape=None):
        self.strength = self.add_weight(shape=(), initializer="zeros", name="strength")

    def call(self, x, scope):
        flip = 1.0 - 2.0 * ops.cast(self.strength, x.dtype) * ops.cast(scope, x.dtype)
        return x * ops.expand_dims(flip, -1)


@keras.saving.register_keras_serializable(package="apps.sentiment")
class ScopeChannel(_OverScope):
    """`(batch, T, E)` words and `(batch, T)` scope flags to `(batch, T, E + 1)`,
    the flag as one more input per word; keeps the words' mask (a
    `Concatenate` would give the unmasked flags' all-true mask)."""

    def call(self, x, scope):
        return ops.concatenate([x, ops.cast(ops.expand_dims(scope, -1), x.dtype)], axis=-1)

    def compute_output_shape(self, x_shape, scope_shape=None):
        return (*x_shape[:-1], x_shape[-1] + 1)


def build_model(config, vocabulary, embeddings=None):
    """The trainable model: string input, outputs `probability` and `rating`
    (and `extra_tweets` with `data.extra_tweets="multitask"`).

    Args:
        embeddings: Optional float array `(len(vocabulary) + 2, embedding_dim)`,
            the initial word embedding (rows 0 and 1: padding and unknown).
    """
    model_config = config.model
    texts = keras.Input((), dtype="string", name="text")
    ids = make_vectorizer(config, vocabulary)(texts)  # (batch, T)
    x = keras.layers.Embedding(
        len(vocabulary) + 2,
        model_config.embedding_dim,
        mask_zero=True,
        embeddings_initializer="uniform"
        if embeddings is None
        else keras.initializers.Constant(embeddings),
        trainable=not model_config.freeze_word_vectors,
        name="embedding",
    )(ids)  # (batch, T, E)
    if model_config.subword_buckets or model_config.negation != "none":
        words = tokenizer(config, name="tokenize")(texts)  # (batch, T), "" padding
    if model_config.subword_buckets:
        subwords = SubwordEmbedding(
            model_config.subword_buckets,
            model_config.embedding_dim,
            embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05),
            name="subword_embedding",
        )(words)  # (batch, T, E)
        x = keras.layers.Add(name="word_plus_subwords")([x, subwords])
    if model_config.negation != "none":
        scope = NegationScope(name="negation_scope")(words)  # (batch, T)
        if model_config.negation == "operator":
            x = Negate(name="negate")(x, scope)
        elif model_config.negation == "channel":
            x = ScopeChannel(name="scope_channel")(x, scope)
    else:
        scope = None
    if model_config.lexicon != "none":
        valences = keras.layers.Embedding(
            len(vocabulary) + 2,
            2,
            mask_zero=True,
            embeddings_initializer=keras.initializers.Constant(lexicon_rows(config, vocabulary)),
            trainable=False,
            name="lexicon",
        )(ids)  # (batch, T, 2): valence / 4, has one
        x = keras.layers.Concatenate(name="words_and_valences")([x, valences])
    members = [_member(config, x, m, scope) for m in range(model_config.members)]
    if len(members) == 1:
        return keras.Model(texts, members[0], name="sentiment")
    # Every head's members side by side: (batch, M), (batch, M, 3) for the extra
    # tweets' classes; each member has its own loss, the answer is their mean.
    outputs = {}
    for name in members[0]:
        heads = [member[name] for member in members]
        if name == "extra_tweets":
            heads = [keras.layers.Reshape((1, len(EXTRA_CLASSES)))(h) for h in heads]
        outputs[name] = keras.layers.Concatenate(axis=1, dtype="float32", name=name)(heads)
    return keras.Model(texts, outputs, name="sentiment")


def _member(config, x, m, scope=None):
    """One encoder and its heads over the embedded words `x`: `{head: output}`.
    With several members, member m's layers end in `_member{m}`; a single
    member's have the plain names (the model as it was before members)."""
    model_config = config.model
    suffix = f"_member{m}" if model_config.members > 1 else ""
    x = keras.layers.SpatialDropout1D(model_config.dropout, name=f"word_dropout{suffix}")(x)
    for i in range(model_config.layers):
        x = Bidirectional(
            recurrent_layer(model_config.cell, model_config.units, return_sequences=True),
            name=f"bidirectional_{i}{suffix}",
        )(x)  # (batch, T, 2U)
    if model_config.negation == "flip":
        x = FlipNegated(name=f"flip_negated{suffix}")(x, scope)
    pooled, _ = AttentionPooling(model_config.attention_units, name=f"attention_pooling{suffix}")(
        x
    )  # (batch, 2U), and the weights `explainer` reads
    pooled = keras.layers.Dropout(model_config.dropout, name=f"dropout{suffix}")(pooled)
    # float32 heads keep the loss exact under mixed precision.
    probability = keras.layers.Dense(
        1, activation="sigmoid", dtype="float32", name=f"probability{suffix}"
    )(pooled)
    outputs = {
        "probability": probability,
        "rating": keras.layers.Dense(1, dtype="float32", name=f"rating{suffix}")(pooled),
    }
    if config.data.extra_tweets == "multitask":
        outputs["extra_tweets"] = keras.layers.Dense(
            len(EXTRA_CLASSES), activation="softmax", dtype="float32", name=f"extra_tweets{suffix}"
        )(pooled)
    return outputs


def mean_probability(outputs):
    """P(positive) `(batch,)` from the model's outputs: the members' mean."""
    return ops.mean(outputs["probability"], axis=-1)


def extend_vocabulary(config, vocabulary):
    """The vocabulary of the training texts followed by the words that prior
    knowledge brings and it lacks: the `model.vector_vocabulary` most frequent
    words of the word vectors, then the lexicon's (`model.lexicon`); only the
    words the standardization reads as themselves (not "u.s.", which it splits).
    So a word no training text shows is read with its vector and valence, not as
    `[UNK]`."""
    extra = []
    if config.model.vector_vocabulary:
        from datasets.sentiment_corpora import load_word_vectors

        words, _ = load_word_vectors(config.model.word_vectors)  # most frequent first
        extra += words[: config.model.vector_vocabulary]
    if config.model.lexicon != "none":
        from datasets.sentiment_corpora import load_vader_lexicon

        extra += sorted(load_vader_lexicon())
    known = set(vocabulary)
    extra = [word for word in dict.fromkeys(extra) if word not in known]
    read = standardizer(config)(tf.constant(extra, tf.string)).numpy() if extra else []
    return [*vocabulary, *(w for w, r in zip(extra, read) if r.decode("utf-8").split() == [w])]


def lexicon_rows(config, vocabulary):
    """`(len(vocabulary) + 2, 2)` float32: each word's valence in `model.lexicon`
    divided by 4 (so in [-1, 1]) and 1.0 where it has one; zeros for padding,
    `[UNK]` and words the lexicon lacks."""
    from datasets.sentiment_corpora import load_vader_lexicon

    lexicon = load_vader_lexicon()
    rows = np.zeros((len(vocabulary) + 2, 2), "float32")
    for i, word in enumerate(vocabulary, start=2):
        if word in lexicon:
            rows[i] = (lexicon[word] / 4.0, 1.0)
    return rows


def word_vector_rows(config, vocabulary, seed):
    """The initial embedding `(len(vocabulary) + 2, E)` from `model.word_vectors`:
    GloVe's vector for every word it knows, a random normal row of GloVe's own
    spread for the others, padding and unknown included (`seed` draws them).
    Returns `(rows, found)`, `found` the number of words GloVe knows; `(None, 0)`
    without word vectors."""
    if config.model.word_vectors == "none":
        return None, 0
    from datasets.sentiment_corpora import glove_rows, load_word_vectors

    words, vectors = load_word_vectors(config.model.word_vectors)
    rows, found = glove_rows(["", "[UNK]", *vocabulary], words, vectors)
    found[:2] = False
    random = np.random.default_rng(seed).normal(0.0, vectors.std(), rows.shape)
    return np.where(found[:, None], rows, random).astype("float32"), int(found.sum())


def masked_binary_crossentropy(label_smoothing=0.0):
    """Binary cross-entropy where the label is known (not NaN), 0 elsewhere: the
    loss of the `probability` head, whose labels the extra tweets lack."""

    def loss(y_true, y_pred):
        known = ops.logical_not(ops.isnan(y_true))[:, 0]
        # One label for every member: (batch, 1) -> (batch, M).
        y_true = ops.broadcast_to(ops.where(ops.isnan(y_true), 0.0, y_true), ops.shape(y_pred))
        error = keras.losses.binary_crossentropy(y_true, y_pred, label_smoothing=label_smoothing)
        return ops.where(known, error, 0.0)

    return loss


@keras.saving.register_keras_serializable(package="apps.sentiment")
class MaskedBinaryAccuracy(keras.metrics.BinaryAccuracy):
    """Binary accuracy over the rows whose label is known (not NaN)."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        known = ops.cast(ops.logical_not(ops.isnan(y_true)), "float32")
        return super().update_state(ops.where(known > 0, y_true, 0.0), y_pred, known)


def masked_sparse_categorical_crossentropy(y_true, y_pred):
    """Cross-entropy where the class is known (>= 0), 0 elsewhere: the loss of
    the `extra_tweets` head, whose classes the VADER tweets lack."""
    known = y_true[:, 0] >= 0
    classes = ops.cast(ops.where(known, y_true[:, 0], 0.0), "int32")
    if len(y_pred.shape) == 3:  # members: (batch, M, classes), one class for all
        classes = ops.broadcast_to(classes[:, None], ops.shape(y_pred)[:2])
        error = ops.mean(keras.losses.sparse_categorical_crossentropy(classes, y_pred), axis=-1)
    else:
        error = keras.losses.sparse_categorical_crossentropy(classes, y_pred)
    return ops.where(known, error, 0.0)


def masked_mse(y_true, y_pred):
    """Squared error where the target is known (not NaN), 0 elsewhere: the loss of
    the `rating` head, whose targets user data lack."""
    known = ops.logical_not(ops.isnan(y_true))
    error = ops.square(ops.where(known, y_true, 0.0) - y_pred)
    return ops.mean(ops.where(known, error, 0.0), axis=-1)


def explainer(model):
    """The same layers, returning the probability `(batch, members)` and the
    attention weights per word `(batch, T)` (the members' mean)."""
    weights = [
        layer.output[1] for layer in model.layers if layer.name.startswith("attention_pooling")
    ]
    attention = weights[0] if len(weights) == 1 else keras.layers.Average()(weights)
    return keras.Model(
        model.input, {"probability": model.output["probability"], "attention": attention}
    )


def words_of(config, texts):
    """The words the model reads from each text, as the attention weights index them."""
    words = tokenizer(config)(tf.constant(list(texts))).numpy()
    return [[w.decode("utf-8") for w in row if w] for row in words]
