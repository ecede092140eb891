"""The translation app's config: data, tokens, model, decoding and training, with presets.

The config is saved with every run beside the two vocabularies, so that
`evaluate`, `translate` and `export` rebuild exactly the model that was
trained. A variant of the model is a `--set`: `--set model.attention=none`
is the fixed-context model of Sutskever et al., `--set
model.reverse_source=true` reverses the source, as that paper did.
"""

import dataclasses

from apps.common.config import check
from datasets.translation_data import DIRECTIONS
from seqlib.training.config import TrainConfig

CELLS = ("lstm", "gru")
ATTENTIONS = ("bahdanau", "luong", "none")
NUMBERS = ("placeholders", "unknown", "words")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Args:
    direction: `"es-en"` (Spanish to English) or `"en-es"`. User files hold
        English first, the other language second, whatever the direction.
    max_tokens: Training pairs whose source or target has more tokens are
        left out of training (never out of validation or test).
    train_pairs: Train on at most this many pairs (the first of a seeded
        shuffle of the training split); 0 = all.
    source_vocabulary: Most source tokens (the most frequent in training);
        others read as `[UNK]`.
    target_vocabulary: Most target tokens, as for the source.
    numbers: What the model sees of a number (a token with a digit):
        `"placeholders"`, the `k`-th number of a sentence is `<numk>` on both
        sides and the graph writes the number back (`apps.translation.numbers`);
        `"unknown"`, numbers stay out of both vocabularies, so they read and
        are written as `[UNK]`, which `decode.copy_unknown` fills from the
        source; `"words"`, numbers are tokens like any other.
    """

    direction: str = "es-en"
    max_tokens: int = 15
    train_pairs: int = 0
    source_vocabulary: int = 12000
    target_vocabulary: int = 8000
    numbers: str = "placeholders"

    def __post_init__(self):
        check(
            self.direction in DIRECTIONS,
            f"Expected direction in {set(DIRECTIONS)}. Received: direction={self.direction!r}",
        )
        check(
            self.max_tokens >= 1 and self.train_pairs >= 0,
            "Expected max_tokens >= 1 and train_pairs >= 0. Received: "
            f"max_tokens={self.max_tokens}, train_pairs={self.train_pairs}",
        )
        check(
            self.numbers in NUMBERS,
            f"Expected numbers in {set(NUMBERS)}. Received: numbers={self.numbers!r}",
        )
        check(
            self.source_vocabulary >= 8 and self.target_vocabulary >= 8,
            "Expected source_vocabulary and target_vocabulary >= 8. Received: "
            f"{self.source_vocabulary}, {self.target_vocabulary}",
        )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Args:
    cell: `"gru"` or `"lstm"`, for encoder and decoder.
    embedding_dim: Size of both word embeddings.
    units: Size of the decoder state and of the encoder memory (a
        bidirectional encoder gives each direction half).
    encoder_layers: Depth of the encoder.
    decoder_layers: Depth of the decoder.
    bidirectional: Whether the encoder layers read both ways.
    attention: `"bahdanau"`, `"luong"` or `"none"` (a fixed context: the
        encoder's final state only).
    attention_score: The Luong score: `"dot"`, `"general"` or `"concat"`.
    input_feeding: Feed the previous attentional vector into the decoder
        (Luong et al.); the decoder then runs step by step in training too.
    reverse_source: Reverse every source sentence (Sutskever et al.).
    dropout: On the embeddings, between layers and before the output layer.
    """

    cell: str = "gru"
    embedding_dim: int = 128
    units: int = 256
    encoder_layers: int = 1
    decoder_layers: int = 1
    bidirectional: bool = True
    attention: str = "bahdanau"
    attention_score: str = "general"
    input_feeding: bool = False
    reverse_source: bool = False
    dropout: float = 0.1

    def __post_init__(self):
        check(self.cell in CELLS, f"Expected cell in {set(CELLS)}. Received: {self.cell!r}")
        check(
            self.attention in ATTENTIONS,
            f"Expected attention in {set(ATTENTIONS)}. Received: attention={self.attention!r}",
        )
        check(
            self.units >= 2 and self.embedding_dim >= 1,
            f"Expected units >= 2, embedding_dim >= 1. Received: {self.units}, "
            f"{self.embedding_dim}",
        )
        check(
            not (self.bidirectional and self.units % 2),
            f"A bidirectional encoder splits units in two: expected even units. "
            f"Received: units={self.units}",
        )
        check(0.0 <= self.dropout < 1.0, f"Expected dropout in [0, 1). Received: {self.dropout}")


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    """How `evaluate`, `translate` and the export decode.

    Args:
        beam_width: Hypotheses kept by beam search.
        length_penalty: GNMT's alpha: scores are divided by
            `((5 + length) / 6) ** alpha`; 0 compares raw log-probabilities.
        max_length_ratio, max_length_extra: A translation has at most
            `ratio * source tokens + extra` tokens (end included).
        batch_size: Sentences decoded together.
        unknown_penalty: Subtracted from the `[UNK]` logit at every step, so
            the search prefers a real word where the model hesitates; the
            search's scores are log-probabilities of that distribution. `inf`
            forbids `[UNK]` outright.
        copy_unknown: Every `[UNK]` the search still emits is replaced by the
            source token the attention weighs most at that step (Luong et al.
            2015's unknown-word replacement): names and numbers outside the
            vocabularies pass through. The ids and scores are the search's.
    """

    beam_width: int = 5
    length_penalty: float = 0.6
    max_length_ratio: float = 1.5
    max_length_extra: int = 5
    batch_size: int = 64
    unknown_penalty: float = 0.0
    copy_unknown: bool = True

    def __post_init__(self):
        check(
            self.beam_width >= 1 and self.batch_size >= 1,
            f"Expected beam_width >= 1 and batch_size >= 1. Received: {self.beam_width}, "
            f"{self.batch_size}",
        )
        check(
            self.length_penalty >= 0 and self.max_length_ratio > 0 and self.max_length_extra >= 1,
            "Expected length_penalty >= 0, max_length_ratio > 0 and max_length_extra >= 1.",
        )
        check(
            self.unknown_penalty >= 0,
            f"Expected unknown_penalty >= 0. Received: unknown_penalty={self.unknown_penalty}",
        )


@dataclasses.dataclass(frozen=True)
class TranslationConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    decode: DecodeConfig = DecodeConfig()
    train: TrainConfig = TrainConfig()


PRESETS = {
    # One bidirectional GRU layer with Bahdanau attention on pairs of up to 15
    # tokens, 3 passes; XLA compiles the train step (about 2x faster on a CPU).
    "cpu-small": TranslationConfig(
        train=TrainConfig(
            epochs=3,
            batch_size=64,
            learning_rate=2e-3,
            lr_schedule="cosine",
            min_lr_ratio=0.05,
            clipnorm=5.0,
            label_smoothing=0.1,
            jit_compile=True,
            monitor="val_loss",
            mode="min",
        ),
    ),
    # The whole corpus, 2-layer LSTM encoder and decoder with Luong attention and
    # input feeding, as in Luong et al. (2015); a GPU with mixed precision.
    "gpu-full": TranslationConfig(
        data=DataConfig(max_tokens=50, source_vocabulary=30000, target_vocabulary=20000),
        model=ModelConfig(
            cell="lstm",
            embedding_dim=256,
            units=1024,
            encoder_layers=2,
            decoder_layers=2,
            attention="luong",
            attention_score="general",
            input_feeding=True,
            dropout=0.3,
        ),
        train=TrainConfig(
            epochs=20,
            batch_size=128,
            learning_rate=1e-3,
            lr_schedule="warmup_cosine",
            warmup_steps=1000,
            min_lr_ratio=0.05,
            clipnorm=5.0,
            label_smoothing=0.1,
            mixed_precision=True,
            early_stopping_patience=3,
            monitor="val_loss",
            mode="min",
        ),
    ),
}
