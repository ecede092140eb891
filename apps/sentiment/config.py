"""The sentiment app's config: data encoding, model and training, with presets.

The config owns the data encoding (vocabulary size, sequence length) as well as
the hyper-parameters, and is saved with every run, so that `evaluate`,
`predict` and `export` rebuild exactly the model that was trained.
"""

import dataclasses

from apps.common.config import check
from seqlib.training.config import TrainConfig

CELLS = ("lstm", "gru")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Args:
    extras: Also train on the movie, Amazon and NYT snippets rated by the
        same annotators (train split only; validation and test stay tweets).
    max_tokens: Vocabulary size, padding and out-of-vocabulary included.
    sequence_length: Tokens kept per text (longer texts are cut).
    """

    extras: bool = False
    max_tokens: int = 20000
    sequence_length: int = 48

    def __post_init__(self):
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
    """

    cell: str = "gru"
    embedding_dim: int = 64
    units: int = 64
    layers: int = 1
    attention_units: int = 64
    dropout: float = 0.5
    subword_buckets: int = 100_000
    rating_weight: float = 0.5

    def __post_init__(self):
        check(self.cell in CELLS, f"Expected one of {set(CELLS)}. Received: cell={self.cell!r}")
        check(self.layers >= 1, f"Expected layers >= 1. Received: layers={self.layers}")


@dataclasses.dataclass(frozen=True)
class SentimentConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()


PRESETS = {
    # Trains in a few minutes on 2 CPU cores.
    # LSTM over GRU: the best mean validation macro-F1 over 3 seeds (README).
    "cpu-small": SentimentConfig(
        data=DataConfig(),
        model=ModelConfig(cell="lstm"),
        train=TrainConfig(
            epochs=8,
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
        data=DataConfig(extras=True, max_tokens=40000, sequence_length=64),
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
