"""The captioning export and the functions that ask any form of it.

`Captioner` is what `caption`, `evaluate` and TensorFlow Serving run: image
bytes in, captions out (decoding, resizing, the encoder, the search and the
words in one graph). `caption_images` and `attention_of` call a `Captioner`,
a loaded export or a served model alike, in batches.
"""

import tensorflow as tf

from apps.captioning.config import MAX_PIXELS
from apps.captioning.model import decode_images
from apps.common.decoder import DecoderModule, attention_of_one, decode_batches

# The least share of an image's pixels that must stand out of its background for it
# to be captioned: 0.2 %, 8 pixels at 64 px, where the smallest shape covers about 40.
MIN_FIGURE = 0.002


class Captioner(DecoderModule):
    """Encoded images in (`image`), captions out (`caption`), with `ids` and `score`.

    With the factored encoder, an image with no figure on its background (a
    plain colour) is captioned "no shapes found" rather than decoded: the
    decoder has nothing to attend to, and would name shapes that are not there.

    Args:
        model: A built `ShowAttendTell`.
        vocabulary: Its `Vocabulary`.
        image_size: The side images are resized to.
        grid: `(h, w)` of the encoder's grid.
        decode: A `DecodeConfig`: beam width, length penalty, length limit.
        max_pixels: Most pixels of an input image (`DataConfig.max_pixels`):
            a larger one, or one whose size cannot be read from its header,
            fails the call with `tf.errors.InvalidArgumentError` before it is
            decoded (HTTP 400 when served).
    """

    input_name = "image"
    output_name = "caption"
    empty_text = "no shapes found"

    def __init__(self, model, vocabulary, image_size, grid, decode, max_pixels=MAX_PIXELS):
        super().__init__(model, vocabulary, decode)
        self.image_size = int(image_size)
        self.max_pixels = int(max_pixels)
        self.grid = tf.constant(grid, tf.int32)
        self.steps = int(decode.max_length) + 1  # the words and the end mark
        self.repetition_penalty = float(decode.repetition_penalty)
        self.no_repeat_ngram_size = int(decode.no_repeat_ngram_size)
        # The factored encoder's colour-blind map of where the image differs from
        # its background: an image with no figure at all gets `empty_text`.
        encoder = getattr(model, "encoder", None)
        layers = {layer.name: layer for layer in getattr(encoder, "layers", [])}
        self.figure_ground = layers.get("figure_ground")

    def images(self, image):
        """`(batch, S, S, 3)` floats of encoded images `(batch,)`."""
        return decode_images(image, self.image_size, self.max_pixels)

    def generate_options(self):
        """The repetition guards of `decode` (none when off)."""
        options = {}
        if self.repetition_penalty != 1.0:
            options["repetition_penalty"] = self.repetition_penalty
        if self.no_repeat_ngram_size:
            options["no_repeat_ngram_size"] = self.no_repeat_ngram_size
        return options

    def model_inputs(self, image):
        images = self.images(image)
        return images, self.steps, self.no_figure(images)

    def no_figure(self, images):
        """`(batch,)` True for images where fewer than `MIN_FIGURE` of the pixels stand
        out of the background (a plain colour, say); None without a factored encoder."""
        if self.figure_ground is None:
            return None
        figure = tf.cast(self.figure_ground(images)[..., 0] > 0.9, tf.float32)  # (batch, S, S)
        return tf.reduce_mean(figure, axis=[1, 2]) < MIN_FIGURE

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="image"),
            tf.TensorSpec([None, None], tf.int32, name="ids"),
        ]
    )
    def attention(self, image, ids):
        """Where the decoder looked while it emitted `ids` (the ids of a
        caption, end included, padded with 0 or the end id): `weights`
        `(batch, T, h * w)` over the grid cells (row-major), `tokens`
        `(batch, T)` (the words, `[END]`; empty strings pad) and `grid` `(h, w)`."""
        steps = tf.shape(ids)[1]
        # The decoder's loop is unrolled: feed it a fixed length, keep the first T steps.
        fixed = ids[:, : self.steps]
        fixed = tf.pad(fixed, [[0, 0], [0, self.steps - tf.shape(fixed)[1]]])
        fixed = tf.reshape(fixed, [-1, self.steps])
        target_in = self.decoder_inputs(fixed)
        _, weights = self.model(
            (self.images(image), target_in), training=False, return_attention=True
        )
        steps = tf.minimum(steps, self.steps)
        return {
            "weights": tf.cast(weights[:, :steps], tf.float32),
            "tokens": tf.gather(self.end_words(), ids[:, :steps]),
            "grid": self.grid,
        }


def caption_images(captioner, images, greedy=False, batch_size=64):
    """`(captions, ids, scores)` of a list of encoded images (bytes), in order,
    decoded `batch_size` at a time by a `Captioner`, a loaded export or a
    served model. An image that cannot be decoded, or one over the pixel budget,
    is a one-line ValueError."""
    try:
        return decode_batches(
            captioner, images, Captioner.input_name, Captioner.output_name, greedy, batch_size
        )
    except tf.errors.InvalidArgumentError as error:
        from seqlib.serving.server import error_message

        raise ValueError(f"an image cannot be captioned: {error_message(error)}") from None


def attention_of(captioner, image, ids):
    """`(weights (T, h * w), tokens (T,), grid (h, w))` of one image's caption
    `ids`, up to its end mark."""
    out = attention_of_one(captioner, Captioner.input_name, image, ids)
    tokens = [t.decode("utf-8") for t in out["tokens"].numpy()[0]]
    return out["weights"].numpy()[0], tokens, tuple(int(x) for x in out["grid"].numpy())
