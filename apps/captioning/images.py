"""The size of an encoded image, read from its header in the graph, and the
pixel budget checked before the image is decoded.

`tf.io.decode_image` allocates the whole image before it reads a pixel, and
the header of a 1 MB PNG can claim 20,000 x 20,000 pixels (1.2 GB decoded, and
more once resized in floats). `check_pixel_budget` reads the size from the
bytes first, with TensorFlow ops only, so the check runs wherever the decoding
does: in `caption`, in training's `tf.data` pipeline and in an exported model
under TensorFlow Serving. It reads the formats `tf.io.decode_image` tells
apart, by the same leading bytes:

- PNG: the IHDR chunk (width and height, big-endian, at bytes 16 and 20).
- JPEG: the markers are walked from the start, each segment skipped by its
  length (and stray bytes between segments skipped, as libjpeg does), up to
  the first frame header (SOF0..SOF15 but C4 DHT, C8 JPG and CC DAC), which
  holds the height and width.
- GIF: the blocks are walked to the end: the decoder reads every frame before
  it keeps the first, so the budget counts the pixels of all the frames, and
  the size is the larger of the logical screen and the largest frame.
- BMP: width and height as TensorFlow's decoder reads them (little-endian
  int32 at bytes 18 and 22; a negative height is a top-down image).
- WebP: the first chunk (VP8, VP8L or VP8X) gives the canvas.

Anything else (JPEG XL among them) has no size that can be read, and is
refused like an image over the budget.
"""

import collections
import math
import numbers

import tensorflow as tf

from apps.captioning.config import MAX_PIXELS

# Most steps of the JPEG marker walk (a marker, or a byte skipped before one)
# up to the frame header; real files take a few dozen. Most GIF blocks and
# sub-blocks (255 bytes of image data each): a 16 MB GIF. Both bound the time
# a crafted file can take.
JPEG_MARKERS = 1024
GIF_BLOCKS = 1 << 16

ImageSize = collections.namedtuple("ImageSize", ["height", "width", "frames", "pixels", "problem"])
ImageSize.__doc__ = """The size of an encoded image, read from its header (`read_image_size`).

Fields:
    height, width: int64 scalars: the size `tf.io.decode_image` returns.
    frames: int64 scalar: the frames of a GIF, 1 for other formats.
    pixels: int64 scalar: what the budget counts: `height * width`, or for a
        GIF the larger of that and the pixels of all its frames.
    problem: string scalar: `""` when the size was read, otherwise why not.
"""

_HEAD = 32  # bytes that hold the PNG, GIF, BMP and WebP sizes
_PNG, _JPEG, _GIF, _BMP, _WEBP = 1, 2, 3, 4, 5
# The bytes of a GIF colour table with the 3-bit size field k: 3 * 2 ** (k + 1).
_COLOUR_TABLE = [3 * 2 ** (k + 1) for k in range(8)]
_SEARCHING, _FOUND, _FAILED = 0, 1, 2


def _int(value):
    return tf.constant(value, tf.int64)


def _bytes_at(data, length, pos, count):
    """`count` bytes of `data` from `pos`, int64, zeros past its end."""
    piece = tf.strings.substr(data, tf.minimum(pos, length), _int(count))
    return tf.cast(tf.io.decode_raw(piece, tf.uint8, fixed_length=count), tf.int64)


def _uint(b, start, size, big_endian=False):
    """The unsigned integer of bytes `b[start : start + size]`."""
    value = tf.constant(0, tf.int64)
    for i in range(size) if big_endian else reversed(range(size)):
        value = value * 256 + b[start + i]
    return value


def _int32(b, start):
    value = _uint(b, start, 4)
    return tf.where(value >= 2**31, value - 2**32, value)


def _starts_with(b, start, text):
    expected = tf.constant(list(text), tf.int64)
    return tf.reduce_all(tf.equal(b[start : start + len(text)], expected))


def _size(height, width, problem, frames=1, pixels=None):
    height, width = tf.cast(height, tf.int64), tf.cast(width, tf.int64)
    pixels = height * width if pixels is None else pixels
    return ImageSize(height, width, tf.constant(frames, tf.int64), pixels, problem)


def _problem(ok, text):
    return tf.where(ok, tf.constant(""), tf.constant(text))


def _png_size(head, length):
    ok = (length >= 24) & _starts_with(head, 12, b"IHDR")
    return _size(
        _uint(head, 20, 4, True),
        _uint(head, 16, 4, True),
        _problem(ok, "a PNG without its IHDR header"),
    )


def _bmp_size(head, length):
    # TensorFlow's decoder reads a 32-byte header, whatever its version says.
    height, width = tf.abs(_int32(head, 22)), tf.abs(_int32(head, 18))
    return _size(height, width, _problem(length >= 32, "a BMP header cut short"))


def _webp_size(head, length):
    chunk = head[12:16]
    lossy = _starts_with(chunk, 0, b"VP8 ")
    lossless = _starts_with(chunk, 0, b"VP8L")
    extended = _starts_with(chunk, 0, b"VP8X")
    bits = _uint(head, 21, 4)  # VP8L: 14 bits of width - 1, 14 of height - 1
    width = tf.where(
        lossy,
        _uint(head, 26, 2) % 2**14,
        tf.where(lossless, bits % 2**14 + 1, _uint(head, 24, 3) + 1),
    )
    height = tf.where(
        lossy,
        _uint(head, 28, 2) % 2**14,
        tf.where(lossless, bits // 2**14 % 2**14 + 1, _uint(head, 27, 3) + 1),
    )
    ok = (lossless & (length >= 25)) | ((lossy | extended) & (length >= 30))
    return _size(height, width, _problem(ok, "a WebP without a VP8, VP8L or VP8X header"))


def _jpeg_size(data, length):
    """Walks the markers from the one after SOI to the first frame header."""

    def cond(pos, height, width, state):
        return tf.equal(state, _SEARCHING)

    def body(pos, height, width, state):
        b = _bytes_at(data, length, pos, 9)  # (9,): FF, marker, length, and SOF's fields
        marker = b[1]
        # As libjpeg does, skip (with a warning there) any byte before a marker:
        # one that is not 0xFF, "FF 00", and fill bytes (a run of 0xFF).
        is_marker = tf.equal(b[0], 0xFF) & tf.not_equal(marker, 0x00) & tf.not_equal(marker, 0xFF)
        skip = tf.where(tf.equal(b[0], 0xFF) & tf.equal(marker, 0x00), _int(2), _int(1))
        standalone = ((marker >= 0xD0) & (marker <= 0xD8)) | tf.equal(marker, 0x01)
        frame = (
            (marker >= 0xC0)
            & (marker <= 0xCF)
            & tf.not_equal(marker, 0xC4)
            & tf.not_equal(marker, 0xC8)
            & tf.not_equal(marker, 0xCC)
        )
        segment = _uint(b, 2, 2, True)  # counts its own two bytes
        variable = ~(standalone | frame)
        failed = (pos + 9 > length) | (
            is_marker
            & (
                tf.equal(marker, 0xD9)  # EOI
                | tf.equal(marker, 0xDA)  # SOS: the image data starts
                | (variable & (segment < 2))
            )
        )
        step = tf.where(is_marker, tf.where(standalone, _int(2), 2 + segment), skip)
        found = is_marker & frame & ~failed
        state = tf.where(failed, _FAILED, tf.where(found, _FOUND, _SEARCHING))
        height = tf.where(found, _uint(b, 5, 2, True), height)
        width = tf.where(found, _uint(b, 7, 2, True), width)
        return pos + step, height, width, state

    zero = tf.constant(0, tf.int64)
    _, height, width, state = tf.while_loop(
        cond,
        body,
        (tf.constant(2, tf.int64), zero, zero, tf.constant(_SEARCHING)),
        maximum_iterations=JPEG_MARKERS,
    )
    problem = _problem(
        tf.equal(state, _FOUND),
        "a JPEG without a readable frame header (SOF)",
    )
    return _size(height, width, problem)


def _gif_size(data, length, head):
    """Walks the blocks (extensions and images, each followed by its data in
    sub-blocks) to the trailer, and counts the frames."""
    screen_width, screen_height = _uint(head, 6, 2), _uint(head, 8, 2)
    colour_tables = tf.constant(_COLOUR_TABLE, tf.int64)

    def table_bytes(flags):
        return tf.where(flags >= 0x80, tf.gather(colour_tables, flags % 8), _int(0))

    def skip_sub_blocks(pos, steps):
        # Each sub-block is its size (1 byte) and that many bytes; size 0 ends
        # them. The loop is lean: most of a GIF's steps are here.
        def cond(pos, size, steps):
            return tf.not_equal(size, 0) & (steps < GIF_BLOCKS)

        def body(pos, size, steps):
            size = _bytes_at(data, length, pos, 1)[0]
            return pos + 1 + size, size, steps + 1

        pos, _, steps = tf.while_loop(cond, body, (pos, _int(-1), steps))
        return pos, steps

    def cond(pos, steps, frames, total, height, width, state):
        return tf.equal(state, _SEARCHING) & (steps < GIF_BLOCKS)

    def body(pos, steps, frames, total, height, width, state):
        b = _bytes_at(data, length, pos, 10)  # (10,): introducer, then an image's descriptor
        extension, image = tf.equal(b[0], 0x21), tf.equal(b[0], 0x2C)
        frame_height, frame_width = _uint(b, 7, 2), _uint(b, 5, 2)
        frames += tf.cast(image, tf.int64)
        total += tf.where(image, frame_height * frame_width, _int(0))
        height = tf.where(image, tf.maximum(height, frame_height), height)
        width = tf.where(image, tf.maximum(width, frame_width), width)
        # An extension: introducer and label; an image: its descriptor, its
        # colour table and the LZW code size.
        # Past the end of a cut file, the decoder fails on its own.
        ended = (pos >= length) | tf.equal(b[0], 0x3B)
        state = tf.where(ended, _FOUND, tf.where(extension | image, _SEARCHING, _FAILED))
        pos = pos + tf.where(extension, _int(2), 10 + table_bytes(b[9]) + 1)
        pos, steps = tf.cond(
            extension | image, lambda: skip_sub_blocks(pos, steps + 1), lambda: (pos, steps + 1)
        )
        return pos, steps, frames, total, height, width, state

    zero = _int(0)
    _, steps, frames, total, height, width, state = tf.while_loop(
        cond,
        body,
        (
            13 + table_bytes(head[10]),
            zero,
            zero,
            zero,
            screen_height,
            screen_width,
            tf.constant(_SEARCHING),
        ),
    )
    problem = tf.where(
        tf.equal(state, _FAILED),
        "a GIF with a block of unknown kind",
        tf.where(tf.equal(state, _FOUND), "", f"a GIF of more than {GIF_BLOCKS} blocks"),
    )
    size = _size(height, width, problem, pixels=tf.maximum(height * width, total))
    return size._replace(frames=frames)


def read_image_size(data):
    """Reads the size of an encoded image from its header, with TensorFlow ops.

    Works eagerly, in a `tf.function`, in `tf.data` and in a SavedModel. Only
    the header is read (for a JPEG, its markers up to the frame header; for a
    GIF, its block structure); nothing is decoded.

    Args:
        data: A scalar string tensor: the bytes of a PNG, JPEG, GIF, BMP or
            WebP image.

    Returns:
        An `ImageSize`. When `problem` is not empty, the other fields are
        meaningless.

    Example:

    ```python
    size = read_image_size(tf.io.read_file("photo.jpg"))
    size.height, size.width  # int64 scalars, e.g. 3000, 4000
    ```
    """
    return ImageSize(*_read_image_size(tf.convert_to_tensor(data, tf.string)))


# One graph for eager calls too: eagerly, the loops would run op by op.
@tf.function(input_signature=[tf.TensorSpec([], tf.string)])
def _read_image_size(data):
    length = tf.cast(tf.strings.length(data), tf.int64)
    head = _bytes_at(data, length, tf.constant(0, tf.int64), _HEAD)  # (_HEAD,)
    # The leading bytes `tf.io.decode_image` tells the formats apart by.
    kind = tf.where(_starts_with(head, 0, b"\xff\xd8\xff"), _JPEG, 0)
    kind = tf.where(_starts_with(head, 0, b"\x89PNG\r\n\x1a\n") & tf.equal(kind, 0), _PNG, kind)
    kind = tf.where(_starts_with(head, 0, b"GIF8") & tf.equal(kind, 0), _GIF, kind)
    kind = tf.where(_starts_with(head, 0, b"BM") & tf.equal(kind, 0), _BMP, kind)
    webp = _starts_with(head, 0, b"RIFF") & _starts_with(head, 8, b"WEBP") & (length > 12)
    kind = tf.where(webp & tf.equal(kind, 0), _WEBP, kind)

    def unknown():
        zero = tf.constant(0, tf.int64)
        return _size(zero, zero, tf.constant("not a PNG, JPEG, GIF, BMP or WebP image"))

    return tf.switch_case(
        kind,
        [
            unknown,
            lambda: _png_size(head, length),
            lambda: _jpeg_size(data, length),
            lambda: _gif_size(data, length, head),
            lambda: _bmp_size(head, length),
            lambda: _webp_size(head, length),
        ],
    )


def describe_limit(max_pixels):
    """`"16777216 (4096 x 4096)"`: the limit as the error message writes it."""
    side = math.isqrt(max_pixels)
    return f"{max_pixels} ({side} x {side})" if side * side == max_pixels else f"{max_pixels}"


def check_pixel_budget(data, max_pixels=MAX_PIXELS):
    """Refuses an image too large to decode, before it is decoded.

    Reads the size with `read_image_size`. An image whose size cannot be read,
    or with more than `max_pixels` pixels (for a GIF, all its frames
    together), raises `tf.errors.InvalidArgumentError` with a one-line
    message, e.g. "image of 20000 x 20000 pixels exceeds the limit of
    16777216 (4096 x 4096)". Eagerly it raises at once; in a graph the check
    is an `Assert` that the returned tensor depends on, so an op that reads
    it (`tf.io.decode_image`) runs only after the check passed. In a graph
    the message reads "assertion failed: [<message>]"
    (`seqlib.serving.server.error_message` takes the wrapping off).

    Args:
        data: A scalar string tensor: the encoded image.
        max_pixels: int >= 1. Most pixels of an image.

    Returns:
        `data`, unchanged.

    Example:

    ```python
    data = check_pixel_budget(tf.io.read_file("photo.jpg"), max_pixels=4096 * 4096)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    ```
    """
    if (
        not isinstance(max_pixels, numbers.Integral)
        or isinstance(max_pixels, bool)
        or max_pixels < 1
    ):
        raise ValueError(
            f"Expected `max_pixels` to be an int >= 1. Received: max_pixels={max_pixels!r}"
        )
    max_pixels = int(max_pixels)
    data = tf.convert_to_tensor(data, tf.string)
    size = read_image_size(data)
    readable = tf.equal(size.problem, "")
    ok = readable & (size.pixels <= max_pixels)
    what = tf.where(
        size.frames > 1,
        tf.strings.format("GIF of {} frames and {} pixels", (size.frames, size.pixels)),
        tf.strings.format("image of {} x {} pixels", (size.width, size.height)),
    )
    message = tf.where(
        readable,
        tf.strings.join([what, f" exceeds the limit of {describe_limit(max_pixels)}"]),
        tf.strings.join(["cannot read the image size: ", size.problem]),
    )
    if tf.executing_eagerly():
        if not bool(ok):
            raise tf.errors.InvalidArgumentError(None, None, message.numpy().decode("utf-8"))
        return data
    check = tf.debugging.Assert(ok, [message])
    with tf.control_dependencies([check]):
        return tf.identity(data)
