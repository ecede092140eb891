"""Images and the Show-Attend-Tell model.

Pixels are handled inside the TensorFlow graph, so training, `caption` and
TensorFlow Serving see the same numbers and a served model needs no Python:
an image is encoded bytes (PNG or JPEG; GIF, BMP and WebP also decode) -> its
size read from its header and checked against a pixel budget
(`apps.captioning.images`) -> `tf.io.decode_image` (3 channels) -> resized to
`image_size x image_size` -> floats in [0, 1] (`decode_image`).
Captions are ids of an `apps.common.text.Vocabulary`: 0 pads, 1 is `[UNK]`,
2 starts and 3 ends a caption.
"""

import pathlib

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from apps.captioning.config import BACKBONE_STRIDE, check_config
from apps.captioning.images import MAX_PIXELS, check_pixel_budget
from apps.common.text import END, PAD, START, UNK
from seqlib.models import ShowAttendTell

# MobileNetV2's last layer of stride 16: a 6 x 6 grid of 576 features at 96 px.
BACKBONE_LAYER = "block_13_expand_relu"
COLOUR_CHANNELS = 32  # the factored encoder's colour features come first, then form's


# -- images -------------------------------------------------------------------


def decode_image(data, image_size, max_pixels=MAX_PIXELS):
    """Encoded PNG or JPEG bytes (a scalar string tensor) -> float32
    `(image_size, image_size, 3)` in [0, 1]. Grey images get 3 channels;
    an image of another size is resized (bilinear, antialiased when it
    shrinks); an image of the right size is left as it is. An image with
    more than `max_pixels` pixels, or whose size cannot be read from its
    header, is a `tf.errors.InvalidArgumentError` raised before anything is
    decoded (`apps.captioning.images.check_pixel_budget`)."""
    data = check_pixel_budget(data, max_pixels)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image = tf.image.resize(image, [image_size, image_size], antialias=True)
    image = tf.clip_by_value(image / 255.0, 0.0, 1.0)
    return tf.ensure_shape(image, [image_size, image_size, 3])


def decode_images(data, image_size, max_pixels=MAX_PIXELS):
    """`decode_image` over a batch `(batch,)` of encoded images."""
    return tf.map_fn(
        lambda one: decode_image(one, image_size, max_pixels),
        data,
        fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32),
    )


# -- the model ----------------------------------------------------------------


def _cnn_stages(filters, prefix=""):
    layers = []
    for stage, width in enumerate(filters, start=1):
        for part in "ab":
            layers.append(
                keras.layers.Conv2D(
                    width, 3, padding="same", activation="relu", name=f"{prefix}conv{stage}{part}"
                )
            )
        layers.append(keras.layers.MaxPooling2D(2, name=f"{prefix}pool{stage}"))
    return layers


class FigureGround(keras.layers.Layer):
    """A colour-blind map of where the image differs from its background.

    `tanh(|x - median colour| / softness)` per pixel, `(batch, S, S, 1)`: about 1
    on any shape whatever its colour, about 0 on the background (the median
    colour of a scene whose shapes cover less than half of it).
    """

    def __init__(self, softness=0.15, **kwargs):
        super().__init__(**kwargs)
        self.softness = softness

    def call(self, images):
        shape = ops.shape(images)
        pixels = ops.reshape(images, (shape[0], -1, 3))  # (batch, S*S, 3)
        median = ops.sort(pixels, axis=1)[:, ops.shape(pixels)[1] // 2]  # (batch, 3)
        distance = ops.sqrt(ops.sum(ops.square(images - median[:, None, None, :]), -1) + 1e-12)
        return ops.tanh(distance / self.softness)[..., None]

    def get_config(self):
        return {**super().get_config(), "softness": self.softness}


def _factored(m, image_size):
    """Colour and form in separate streams, joined per grid cell: colour from
    1x1 convolutions (no spatial context, so no shape) averaged over each cell;
    form from the CNN over the colour-blind `FigureGround` map (so no colour)."""
    images = keras.Input((image_size, image_size, 3), name="image")
    cell = 2 ** len(m.cnn_filters)
    colour = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(images)
    for i in range(2):
        colour = keras.layers.Conv2D(COLOUR_CHANNELS, 1, activation="relu", name=f"colour{i + 1}")(
            colour
        )
    colour = keras.layers.AveragePooling2D(cell, name="colour_per_cell")(colour)
    form = FigureGround(name="figure_ground")(images)
    for layer in _cnn_stages(m.cnn_filters, prefix="form_"):
        form = layer(form)
    grid = keras.layers.Concatenate(name="colour_and_form")([colour, form])
    return keras.Model(images, grid, name="encoder")


def build_encoder(model_config, image_size):
    """The image encoder: `(batch, S, S, 3)` in [0, 1] -> a `(batch, h, w, C)` grid."""
    m = model_config
    if m.encoder == "cnn":
        layers = [keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")]
        return keras.Sequential(layers + _cnn_stages(m.cnn_filters), name="encoder")
    if m.encoder == "factored":
        return _factored(m, image_size)
    return _mobilenet(m.backbone_weights, image_size)


def _backbone_file(weights_path):
    """The MobileNetV2 weights file, which must exist (nothing is downloaded)."""
    path = pathlib.Path(weights_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"model.backbone_weights: no such file {weights_path} (MobileNetV2 weights are "
            "read from a local file, never downloaded)"
        )
    return path


def check_backbone(config):
    """The config's cross-checks and the backbone's weights file: a mistake fails
    before the run directory is touched."""
    check_config(config)
    if config.model.encoder == "mobilenet_v2":
        _backbone_file(config.model.backbone_weights)


def _mobilenet(weights_path, image_size):
    path = _backbone_file(weights_path)
    base = keras.applications.MobileNetV2(
        input_shape=(image_size, image_size, 3), include_top=False, weights=None
    )
    try:
        base.load_weights(str(path))
    except Exception as error:  # h5py and keras raise many kinds for a wrong file.
        raise ValueError(
            f"model.backbone_weights: {path} does not hold MobileNetV2 (alpha 1.0, no top) "
            f"weights ({' '.join(str(error).split())[:200]})"
        ) from None
    inputs = keras.Input((image_size, image_size, 3))
    features = keras.Model(base.input, base.get_layer(BACKBONE_LAYER).output, name="mobilenet_v2")
    features.trainable = False  # frozen: batch norm keeps its statistics
    outputs = features(keras.layers.Rescaling(2.0, offset=-1.0)(inputs), training=False)
    return keras.Model(inputs, outputs, name="encoder")


def grid_size(config):
    """`(h, w)`: the encoder's grid for the config's image size."""
    size = config.data.image_size
    if config.model.encoder in ("cnn", "factored"):
        side = size // 2 ** len(config.model.cnn_filters)
    else:
        side = size // BACKBONE_STRIDE
    return side, side


def output_groups(config, vocabulary):
    """`ShowAttendTell`'s output groups for `model.factored_output`: the scenes'
    colour words read the factored encoder's colour channels only, their size and
    shape words its form channels only (words missing from the vocabulary are
    left out); None when it is off or the encoder is not the factored one."""
    if not config.model.factored_output or config.model.encoder != "factored":
        return None
    from datasets.scenes import COLOURS, SHAPES, SIZES

    form = [COLOUR_CHANNELS, COLOUR_CHANNELS + config.model.cnn_filters[-1]]
    groups = []
    for words, channels in (
        (SIZES, form),
        (COLOURS, [0, COLOUR_CHANNELS]),
        (SHAPES, form),
    ):
        tokens = [vocabulary.index[w] for w in words if w in vocabulary.index]
        if tokens:
            groups.append({"tokens": tokens, "features": channels})
    return groups


def build_model(config, vocabulary_size, groups=None):
    """The `ShowAttendTell` of `config.model` over `build_encoder`'s grid, with the
    output groups `groups` (`output_groups`)."""
    m = config.model
    return ShowAttendTell(
        vocab_size=vocabulary_size,
        encoder=build_encoder(m, config.data.image_size),
        embedding_dim=m.embedding_dim,
        units=m.units,
        attention_units=m.attention_units,
        cell=m.cell,
        gate=m.gate,
        positions=m.positions,
        doubly_stochastic=m.doubly_stochastic,
        dropout=m.dropout,
        word_dropout=m.word_dropout,
        start_id=START,
        end_id=END,
        pad_id=PAD,
        unk_id=UNK,
        seed=config.train.seed,
        output_groups=groups,
        name="show_attend_tell",
    )


class TokenCrossEntropy(keras.metrics.Metric):
    """The mean negative log-likelihood per real target token (padding left
    out, no label smoothing, no regulariser): the number the learning curves
    compare between training and validation."""

    def __init__(self, name="cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable((), initializer="zeros", name="total")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.cast(y_true, "int32")
        log_probs = keras.ops.log_softmax(keras.ops.cast(y_pred, "float32"), axis=-1)
        nll = -keras.ops.take_along_axis(log_probs, y_true[..., None], axis=-1)[..., 0]
        real = keras.ops.cast(keras.ops.not_equal(y_true, PAD), "float32")
        self.total.assign_add(keras.ops.sum(nll * real))
        self.count.assign_add(keras.ops.sum(real))

    def result(self):
        return self.total / keras.ops.maximum(self.count, 1.0)


def build_variables(model, image_size):
    """Creates every variable of `model` (one step on a blank image)."""
    images = np.zeros((1, image_size, image_size, 3), np.float32)
    model((images, np.full((1, 1), START, np.int32)), training=False)
    return model
