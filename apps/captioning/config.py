"""The captioning app's config: data, model, decoding and training, with presets.

The config is saved with every run beside the vocabulary, so that
`evaluate`, `caption` and `export` rebuild exactly the model that was
trained. A variant is a `--set`: `--set model.doubly_stochastic=0` switches
the doubly stochastic attention regulariser off (the paper's ablation),
`--set model.cell=lstm` decodes with an LSTM, `--set model.positions=false`
drops the learned position of each grid cell.
"""

import dataclasses

from apps.common.config import check
from datasets.scenes import SPLIT_SIZES
from seqlib.training.config import TrainConfig

CELLS = ("gru", "lstm")
ENCODERS = ("cnn", "factored", "mobilenet_v2")
# The grid MobileNetV2 is cut at: the last layer of stride 16 ("block_13_expand_relu").
BACKBONE_STRIDE = 16
DEFAULT_SCENES = (SPLIT_SIZES["train"], SPLIT_SIZES["validation"], SPLIT_SIZES["test"])
# The default pixel budget of an image (`DataConfig.max_pixels`): 4096 x 4096.
MAX_PIXELS = 4096 * 4096


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Args:
    image_size: Images are resized to `image_size x image_size` (a user's
        photos are squeezed to a square); the generated scenes are drawn at
        this size.
    max_tokens: Training captions with more tokens are left out of training
        and of the validation loss (never out of the BLEU references).
    vocabulary: Most tokens (the most frequent in training, special tokens
        included); others read as `[UNK]`.
    lowercase: Lowercase captions before they are cut into tokens (and
        score BLEU without case).
    scenes: Train, validation and test scenes of the default data
        (`datasets.scenes`); a user's `--data` folder ignores it.
    max_pixels: Most pixels of an image to caption (width x height, all
        frames of a GIF), read from its header and checked in the graph
        before it is decoded; a larger image is refused (an
        InvalidArgumentError, HTTP 400 when served).
    """

    image_size: int = 64
    max_tokens: int = 20
    vocabulary: int = 5000
    lowercase: bool = True
    scenes: tuple[int, ...] = DEFAULT_SCENES
    max_pixels: int = MAX_PIXELS

    def __post_init__(self):
        check(
            16 <= self.image_size <= 1024,
            f"Expected image_size from 16 to 1024. Received: image_size={self.image_size}",
        )
        check(
            self.max_tokens >= 1 and self.vocabulary >= 8,
            "Expected max_tokens >= 1 and vocabulary >= 8. Received: "
            f"max_tokens={self.max_tokens}, vocabulary={self.vocabulary}",
        )
        check(
            len(self.scenes) == 3 and min(self.scenes) >= 1,
            "Expected scenes=train,validation,test counts, each at least 1. Received: "
            f"scenes={self.scenes}",
        )
        check(
            self.max_pixels >= self.image_size**2,
            f"Expected max_pixels >= image_size ** 2 = {self.image_size**2}. Received: "
            f"max_pixels={self.max_pixels}",
        )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Args:
    encoder: `"cnn"` (trained from scratch: two 3x3 convolutions with ReLU
        and a 2x2 max-pool per stage) or `"mobilenet_v2"` (keras'
        MobileNetV2 cut at stride 16, frozen, with weights read from
        `backbone_weights`; nothing is downloaded).
    cnn_filters: Filters of each CNN stage; the grid is
        `image_size / 2 ** stages` cells a side (64 px and 3 stages: 8 x 8).
    backbone_weights: A local weights file of MobileNetV2 (alpha 1.0,
        without top, e.g. keras' `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5`).
    cell: `"gru"` or `"lstm"`: the decoder's cell.
    embedding_dim: Size of the word embedding.
    units: Size of the decoder state.
    attention_units: Hidden size of the (Bahdanau) attention score.
    gate: Scale the context by the gate `beta_t` (Xu et al.).
    positions: Add a learned vector per grid cell to its features.
    doubly_stochastic: `lambda` of the doubly stochastic attention
        regulariser; 0 switches it off.
    dropout: Before the output layer.
    word_dropout: In training, the share of the decoder's input words
        replaced by `[UNK]`, so that each word must come from the image:
        it is what lets the model name colour-shape pairs it never saw.
    factored_output: With the factored encoder (other encoders ignore it):
        the scenes' colour words are predicted from the attended colour
        channels alone, size and shape words from the form channels alone, and
        the state only decides which kind of word comes next (`ShowAttendTell`'s
        output groups), so no word can lean on the one before it.
    """

    encoder: str = "cnn"
    cnn_filters: tuple[int, ...] = (32, 64, 128)
    backbone_weights: str = ""
    cell: str = "gru"
    embedding_dim: int = 64
    units: int = 256
    attention_units: int = 128
    gate: bool = True
    positions: bool = True
    doubly_stochastic: float = 1.0
    dropout: float = 0.1
    word_dropout: float = 0.0
    factored_output: bool = False

    def __post_init__(self):
        check(self.cell in CELLS, f"Expected cell in {set(CELLS)}. Received: {self.cell!r}")
        check(
            self.encoder in ENCODERS,
            f"Expected encoder in {set(ENCODERS)}. Received: encoder={self.encoder!r}",
        )
        check(
            len(self.cnn_filters) >= 1 and min(self.cnn_filters) >= 1,
            f"Expected cnn_filters of at least one stage. Received: {self.cnn_filters}",
        )
        check(
            min(self.units, self.embedding_dim, self.attention_units) >= 1,
            "Expected units, embedding_dim and attention_units >= 1.",
        )
        check(
            self.doubly_stochastic >= 0,
            f"Expected doubly_stochastic >= 0. Received: {self.doubly_stochastic}",
        )
        check(0.0 <= self.dropout < 1.0, f"Expected dropout in [0, 1). Received: {self.dropout}")
        check(
            0.0 <= self.word_dropout < 1.0,
            f"Expected word_dropout in [0, 1). Received: {self.word_dropout}",
        )


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    """How `evaluate`, `caption` and the export decode.

    Args:
        beam_width: Hypotheses kept by beam search.
        length_penalty: GNMT's alpha: scores are divided by
            `((5 + length) / 6) ** alpha`; 0 compares raw log-probabilities.
        max_length: Most words of a caption (the end mark not counted); a run
            stops at its longest training caption when that is shorter.
        batch_size: Images decoded together.
        repetition_penalty: CTRL's penalty on the logits of words already
            written (`seqlib.decoding.guard_logits`); 1 is off. Off for the
            scenes, whose captions repeat words by their grammar.
        no_repeat_ngram_size: Never repeat an n-gram of this many words; 0 is
            off (the scenes repeat whole phrases: "left of a small red circle").
    """

    beam_width: int = 3
    length_penalty: float = 0.0
    max_length: int = 20
    batch_size: int = 64
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    def __post_init__(self):
        check(
            self.beam_width >= 1 and self.batch_size >= 1 and self.max_length >= 1,
            "Expected beam_width, batch_size and max_length >= 1. Received: "
            f"{self.beam_width}, {self.batch_size}, {self.max_length}",
        )
        check(
            self.length_penalty >= 0,
            f"Expected length_penalty >= 0. Received: {self.length_penalty}",
        )
        check(
            self.repetition_penalty > 0 and self.no_repeat_ngram_size >= 0,
            "Expected repetition_penalty > 0 and no_repeat_ngram_size >= 0. Received: "
            f"{self.repetition_penalty}, {self.no_repeat_ngram_size}",
        )


@dataclasses.dataclass(frozen=True)
class CaptioningConfig:
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    decode: DecodeConfig = DecodeConfig()
    train: TrainConfig = TrainConfig()


def check_config(config):
    """The checks that tie fields of different sections together; `prepare` and
    `train` run them on the final config (a check in `__post_init__` would run
    after each `--set`, and refuse a valid config reached through an invalid one).

    Raises:
        ValueError: a MobileNetV2 encoder without weights, or an image size
            the encoder cannot halve down to a whole grid.
    """
    size, m = config.data.image_size, config.model
    if m.encoder in ("cnn", "factored"):
        stages = len(m.cnn_filters)
        check(
            size % 2**stages == 0,
            f"A CNN of {stages} stages halves the image {stages} times: expected an "
            f"image_size divisible by {2**stages}. Received: image_size={size}",
        )
        return
    check(
        bool(m.backbone_weights),
        "encoder=mobilenet_v2 reads its weights from a local file: set "
        "model.backbone_weights=PATH (nothing is downloaded).",
    )
    check(
        size >= 32 and size % BACKBONE_STRIDE == 0,
        f"encoder=mobilenet_v2 needs an image_size of at least 32 divisible by "
        f"{BACKBONE_STRIDE}. Received: image_size={size}",
    )


PRESETS = {
    # The generated scenes at 64 px: the factored encoder (3 form stages, an 8 x 8
    # grid), half the input words hidden in training, a GRU of 256 units, 10 passes
    # over the 8,000 training scenes, colour and shape words from their own
    # channels (factored output: on the validation split's own held-out pairs,
    # seed 1, BLEU-4 1.000 with it and 0.6 validation cross-entropy without; README).
    # The plain CNN names almost no held-out colour-shape pair. No XLA: the step works under it, but XLA's CPU
    # convolutions made it twice as slow as oneDNN's.
    "cpu-small": CaptioningConfig(
        model=ModelConfig(encoder="factored", word_dropout=0.5, factored_output=True),
        train=TrainConfig(
            epochs=10,
            batch_size=64,
            learning_rate=2e-3,
            lr_schedule="cosine",
            min_lr_ratio=0.05,
            clipnorm=5.0,
            jit_compile=False,
            # Without it, grappler's rewrites of this model's train step make its
            # gradients differ by ~1e-9 from run to run, and ten epochs grow that
            # into different captions of the held-out pairs (README).
            deterministic=True,
            monitor="val_loss",
            mode="min",
        ),
    ),
    # 96 px, a 4-stage CNN (a 6 x 6 grid), an LSTM of 512 units, mixed precision
    # on a GPU; early stopping on the validation loss.
    "gpu-full": CaptioningConfig(
        data=DataConfig(image_size=96),
        model=ModelConfig(
            encoder="factored",
            word_dropout=0.5,
            factored_output=True,
            cnn_filters=(64, 128, 256, 256),
            cell="lstm",
            embedding_dim=256,
            units=512,
            attention_units=256,
            dropout=0.3,
        ),
        decode=DecodeConfig(beam_width=5),
        train=TrainConfig(
            epochs=30,
            batch_size=128,
            learning_rate=1e-3,
            lr_schedule="warmup_cosine",
            warmup_steps=500,
            min_lr_ratio=0.05,
            clipnorm=5.0,
            label_smoothing=0.1,
            mixed_precision=True,
            jit_compile=True,
            early_stopping_patience=4,
            monitor="val_loss",
            mode="min",
        ),
    ),
}
