"""The music app's config: data encoding, model, sampling and training, with presets.

The config owns the data encoding (the window of truncated BPTT, how much of
the corpus an epoch reads) as well as the hyper-parameters, and is saved with
every run beside the character vocabulary, so that `evaluate`, `generate` and
`export` rebuild exactly the model that was trained.

`train.batch_size` is the number of parallel character streams: the training
text is cut into that many contiguous streams, read `data.window` characters
at a time, with the recurrent state carried from one window to the next.
"""

import dataclasses

from apps.common.config import check
from seqlib.training.config import TrainConfig

CELLS = ("lstm", "gru")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Args:
    window: Characters per window of truncated BPTT: gradients flow back
        through this many steps, the state through the whole stream.
    steps_per_epoch: Windows (optimizer steps) per epoch; 0 reads the whole
        training text once per epoch. Each epoch deals the tunes into the
        streams in a fresh order, so a shorter epoch reads different tunes.
    normalize: Train and evaluate on the canonical ABC text of each tune
        (`datasets.abc_normalize`: one header shape with `M:` and `L:` always
        written, no prose); tunes whose notes music21 does not read the same
        after it are left out. False reads the tunes as they are written.
    keep_text: With `normalize`, keep the fields that carry no music (notes,
        history, source, lyrics, ...).
    transpose: Intervals (music21 names, e.g. `-M2,M2`) by which every
        training tune is also transposed and added to the training text
        (`datasets.abc_transpose`; each copy is checked with music21).
    """

    window: int = 50
    steps_per_epoch: int = 0
    normalize: bool = True
    keep_text: bool = False
    transpose: tuple[str, ...] = ()

    def __post_init__(self):
        check(
            self.window >= 2 and self.steps_per_epoch >= 0,
            "Expected window >= 2 and steps_per_epoch >= 0. Received: "
            f"window={self.window}, steps_per_epoch={self.steps_per_epoch}",
        )
        check(
            self.normalize or not (self.keep_text or self.transpose),
            "Expected normalize=true with keep_text or transpose. Received: normalize=false, "
            f"keep_text={self.keep_text}, transpose={self.transpose}",
        )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Args:
    cell: `"lstm"` or `"gru"`: the seqlib layer of every level of the stack.
    embedding_dim: Size of the character embedding.
    units: Units of each recurrent layer.
    layers: Number of stacked recurrent layers.
    dropout: Dropout on the embedding and on every layer's output.
    """

    cell: str = "lstm"
    embedding_dim: int = 64
    units: int = 256
    layers: int = 2
    dropout: float = 0.0

    def __post_init__(self):
        check(self.cell in CELLS, f"Expected one of {set(CELLS)}. Received: cell={self.cell!r}")
        check(
            self.layers >= 1 and self.units >= 1,
            f"Expected layers >= 1 and units >= 1. Received: layers={self.layers}, "
            f"units={self.units}",
        )


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    """How tunes are sampled, by `evaluate` and by default in `generate`.

    Args:
        prefix: The text every tune starts from (after an end-of-tune mark):
            with `X:1\\n` the model writes the whole header.
        conditioned_prefix: `evaluate` also samples as many tunes from this
            prefix, which fixes the meter and key; `""` skips it. A prefix
            that holds a whole header (a `K:` line) is put in the canonical
            form first when the model was trained on it (`data.normalize`).
        max_length: Most characters sampled after the prefix; a tune that has
            not ended by then is kept and labelled unfinished.
        temperature: Logits are divided by it; 0 is greedy.
        top_k: Sample among the `top_k` most likely characters; 0 = all.
        top_p: Sample within the nucleus of this mass; 1 = all.
        evaluation_tunes: Tunes `evaluate` generates and checks with music21,
            per prefix and seed.
        seeds: Seeds of `evaluate`'s sampling: every prefix is sampled with each.
    """

    prefix: str = "X:1\n"
    conditioned_prefix: str = "X:1\nM:6/8\nK:D\n"
    max_length: int = 1000
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    evaluation_tunes: int = 100
    seeds: tuple[int, ...] = (1, 2, 3)

    def __post_init__(self):
        check(bool(self.prefix), "Expected a non-empty prefix, e.g. 'X:1\\n'. Received: prefix=''")
        check(
            self.max_length >= 1 and self.evaluation_tunes >= 1 and len(self.seeds) >= 1,
            "Expected max_length >= 1, evaluation_tunes >= 1 and at least one seed. Received: "
            f"max_length={self.max_length}, evaluation_tunes={self.evaluation_tunes}, "
            f"seeds={self.seeds}",
        )
        check(
            self.temperature >= 0 and self.top_k >= 0 and 0.0 < self.top_p <= 1.0,
            "Expected temperature >= 0, top_k >= 0 and top_p in (0, 1]. Received: "
            f"temperature={self.temperature}, top_k={self.top_k}, top_p={self.top_p}",
        )


@dataclasses.dataclass(frozen=True)
class BaselineConfig:
    """Args:
    ngram_order: Order of the interpolated character n-gram (Witten-Bell).
    """

    ngram_order: int = 7

    def __post_init__(self):
        check(
            1 <= self.ngram_order <= 8,
            f"Expected ngram_order in [1, 8]. Received: ngram_order={self.ngram_order}",
        )


@dataclasses.dataclass(frozen=True)
class MusicConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    sample: SampleConfig = SampleConfig()
    baseline: BaselineConfig = BaselineConfig()
    train: TrainConfig = TrainConfig()


PRESETS = {
    # 2 x 256 LSTM; prepare, train and evaluate take about 10 minutes on 2 CPU cores.
    # On a CPU, many small updates learn fastest: 32 streams, windows of 50, a high
    # peak learning rate, and 3,000 steps (about 1.2 passes over the training tunes).
    "cpu-small": MusicConfig(
        data=DataConfig(window=50, steps_per_epoch=600),
        model=ModelConfig(cell="lstm", embedding_dim=64, units=256, layers=2, dropout=0.0),
        train=TrainConfig(
            epochs=5,
            batch_size=32,
            learning_rate=1e-2,
            lr_schedule="cosine",
            min_lr_ratio=0.05,
            clipnorm=5.0,
            monitor="val_loss",
            mode="min",
        ),
    ),
    # folk-rnn scale (Sturm et al. 2016): 3 x 512 LSTM with dropout, many full passes; a GPU.
    "gpu-full": MusicConfig(
        data=DataConfig(window=100, steps_per_epoch=0),
        model=ModelConfig(cell="lstm", embedding_dim=128, units=512, layers=3, dropout=0.3),
        train=TrainConfig(
            epochs=30,
            batch_size=64,
            learning_rate=3e-3,
            lr_schedule="warmup_cosine",
            warmup_steps=300,
            min_lr_ratio=0.05,
            clipnorm=5.0,
            early_stopping_patience=4,
            monitor="val_loss",
            mode="min",
        ),
    ),
}
