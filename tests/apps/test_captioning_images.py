"""The captioning app's pixel budget: image sizes read from PNG, JPEG, GIF, BMP
and WebP headers in the graph, an image over the budget refused before it is
decoded (eagerly, in a graph, in `tf.data`, through an export behind the local
server and on the command line), broken bytes refused cleanly."""

import base64
import io
import struct
import zlib

import numpy as np
import pytest
import requests
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from apps.captioning.images import check_pixel_budget, describe_limit, read_image_size
from apps.captioning.model import decode_image, decode_images
from seqlib.serving.server import error_message

BUDGET = "image of 20000 x 20000 pixels exceeds the limit of 16777216 (4096 x 4096)"


def _encoded(image, kind, **options):
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def _noise(width, height, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _blank_png(width, height):
    """A valid 1-bit PNG of `width x height` white pixels, compressed row by row
    (20,000 x 20,000 makes 49 kB in 0.2 s and never holds the 50 MB of rows)."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then the bits
    parts = [compressor.compress(row * 1000) for _ in range(height // 1000)]
    parts += [compressor.compress(row * (height % 1000)), compressor.flush()]
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def huge_png():
    return _blank_png(20000, 20000)


def _size(data):
    size = read_image_size(tf.constant(data))
    assert size.problem.numpy() == b"", size.problem.numpy()
    return int(size.height), int(size.width)


def _refusal(fn, *args, **kwargs):
    """The one-line message of the InvalidArgumentError `fn(*args, **kwargs)` raises."""
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        fn(*args, **kwargs)
    return error_message(caught.value)


# -- sizes ----------------------------------------------------------------------


@pytest.mark.parametrize("width, height", [(1, 1), (37, 23), (300, 1000), (1001, 17)])
def test_sizes_read_from_headers_equal_the_decoded_shapes(width, height):
    image = _noise(width, height)
    exif = Image.Exif()
    exif[0x010E] = "a scene " * 200  # ImageDescription: a long APP1 segment to skip
    encodings = {
        "png": _encoded(image, "PNG"),
        "jpeg": _encoded(image, "JPEG", quality=90),
        "progressive jpeg": _encoded(image, "JPEG", progressive=True),
        "jpeg with exif": _encoded(image, "JPEG", exif=exif),
        "grey jpeg": _encoded(image.convert("L"), "JPEG"),
        "gif": _encoded(image, "GIF"),
        "bmp": _encoded(image, "BMP"),
        "webp": _encoded(image, "WEBP"),
        "lossless webp": _encoded(image, "WEBP", lossless=True),
    }
    for kind, data in encodings.items():
        decoded = tf.io.decode_image(data, channels=3, expand_animations=False)
        assert _size(data) == (height, width) == tuple(decoded.shape[:2]), kind


def test_jpeg_bytes_between_segments_and_a_gif_of_frames():
    jpeg = _encoded(_noise(40, 30), "JPEG")
    # Fill bytes (0xFF) may precede any marker, and libjpeg skips stray bytes
    # between segments (with a warning): so does the reader.
    for before in (b"\xff\xff", b"stray\xff\x00bytes"):
        padded = jpeg.replace(b"\xff\xdb", before + b"\xff\xdb", 1)
        assert tf.io.decode_image(padded).shape[:2] == (30, 40)
        assert _size(padded) == (30, 40)

    frames = [Image.new("RGB", (50, 40), (20 * i, 0, 0)) for i in range(10)]
    gif = _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    size = read_image_size(gif)
    assert [int(x) for x in size[:4]] == [40, 50, 10, 10 * 50 * 40]
    # The decoder reads every frame before it keeps the first: all count.
    check_pixel_budget(gif, max_pixels=20000)
    message = _refusal(check_pixel_budget, gif, max_pixels=19999)
    assert message == "GIF of 10 frames and 20000 pixels exceeds the limit of 19999"


# -- the budget -----------------------------------------------------------------


def test_a_huge_png_is_refused_before_it_is_decoded(huge_png):
    assert len(huge_png) < 100_000
    assert _size(huge_png) == (20000, 20000)
    assert _refusal(check_pixel_budget, huge_png) == BUDGET
    assert _refusal(decode_image, huge_png, 32) == BUDGET

    # In a graph the check runs first: this header's image data is garbage, so
    # a decoder that ran before it would fail with a message of its own.
    claims = huge_png[:33] + _chunk(b"IDAT", b"garbage") + _chunk(b"IEND", b"")
    graph = tf.function(lambda data: decode_images(data, 32))
    dataset = tf.data.Dataset.from_tensors(claims).map(lambda data: decode_image(data, 32))
    for _ in range(3):
        assert _refusal(graph, tf.constant([claims])) == BUDGET
        assert _refusal(list, dataset) == BUDGET
    assert _refusal(graph, tf.constant([huge_png])) == BUDGET


def test_an_image_at_the_limit_passes():
    data = _encoded(_noise(64, 32), "PNG")
    for decode in (decode_image, tf.function(decode_image)):
        assert decode(tf.constant(data), 16, max_pixels=64 * 32).shape == (16, 16, 3)
        message = _refusal(decode, tf.constant(data), 16, max_pixels=64 * 32 - 1)
        assert message == "image of 64 x 32 pixels exceeds the limit of 2047"
    assert describe_limit(4096 * 4096) == "16777216 (4096 x 4096)"
    with pytest.raises(ValueError, match="max_pixels"):
        check_pixel_budget(data, max_pixels=0)


def test_the_limit_is_in_the_config():
    from apps.captioning.config import DataConfig

    assert DataConfig().max_pixels == 4096 * 4096
    assert DataConfig(image_size=32, max_pixels=1024).max_pixels == 1024
    with pytest.raises(ValueError, match="max_pixels"):
        DataConfig(image_size=64, max_pixels=64 * 64 - 1)


def test_broken_bytes_are_refused_cleanly(huge_png):
    image = _noise(48, 32)
    whole = {
        "png": _encoded(image, "PNG"),
        "jpeg": _encoded(image, "JPEG"),
        "gif": _encoded(image, "GIF"),
        "bmp": _encoded(image, "BMP"),
        "webp": _encoded(image, "WEBP"),
    }
    unreadable = [b"", b"garbage", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"BM1"]
    unreadable += [b"RIFF\0\0\0\0WEBPVP8X", b"\x00" * 64, huge_png[:16]]
    for data in unreadable:
        message = _refusal(decode_image, data, 16)
        assert message.startswith("cannot read the image size: "), (data, message)
    # Cut short or overwritten with noise: decoded (a decoder may fill in what
    # is missing) or refused with a one-line error, never a crash.
    rng = np.random.default_rng(0)
    for kind, data in whole.items():
        broken = [data[: len(data) // 2], data[:-3]]
        for _ in range(8):
            noisy = bytearray(data)
            for at in rng.integers(2, len(data), 8):
                noisy[at] = rng.integers(0, 256)
            broken.append(bytes(noisy))
        for data in broken:
            try:
                assert decode_image(data, 16).shape == (16, 16, 3)
            except tf.errors.InvalidArgumentError as error:
                assert error_message(error), kind
    # A JPEG whose segments lead nowhere, and a GIF with an unknown block.
    jpeg = whole["jpeg"]
    assert "frame header" in _refusal(decode_image, jpeg[:2] + b"\xff\xe0\x00\x01", 16)
    gif = whole["gif"]
    blocks = 13 + (3 << (gif[10] % 8 + 1) if gif[10] >= 0x80 else 0)  # after the colour table
    assert "unknown kind" in _refusal(decode_image, gif[:blocks] + b"\x99" * 20, 16)


# -- the export, served, and the command line -------------------------------------


def test_an_export_behind_the_local_server_refuses_a_huge_image(
    home, model_server, huge_png, monkeypatch
):
    """An untrained tiny captioner: the budget is in the exported graph, so the
    server answers 400 with the message, and `caption` says it in one line."""
    from app_fixtures import CAPTIONING_TINY as TINY

    from apps.captioning.cli import cli
    from apps.captioning.config import PRESETS, DecodeConfig
    from apps.captioning.model import build_model, build_variables, grid_size
    from apps.captioning.serving import Captioner, caption_images
    from apps.common.text import TARGET_SPECIALS, Vocabulary
    from seqlib.training import from_overrides

    config = from_overrides(PRESETS["cpu-small"], [TINY[i + 1] for i in range(0, len(TINY), 2)])
    vocabulary = Vocabulary([*TARGET_SPECIALS, "a", "red", "circle"], len(TARGET_SPECIALS))
    model = build_variables(build_model(config, vocabulary.size), 32)
    decode = DecodeConfig(beam_width=2, max_length=4)
    captioner = Captioner(model, vocabulary, 32, grid_size(config), decode)
    small = _encoded(_noise(40, 30), "PNG")

    # In process first.
    assert len(caption_images(captioner, [small])[0]) == 1
    with pytest.raises(ValueError) as caught:
        caption_images(captioner, [small, huge_png])
    assert str(caught.value) == f"an image cannot be captioned: {BUDGET}"

    export_dir = captioner.export(home / "models", "captioning", {})
    url = model_server(home / "models")
    predict = f"{url}/v1/models/captioning:predict"

    def post(*images):
        body = {"instances": [{"b64": base64.b64encode(x).decode("ascii")} for x in images]}
        return requests.post(predict, json=body, timeout=60)

    answer = post(small)
    assert answer.status_code == 200, answer.text
    answer = post(small, huge_png)
    assert answer.status_code == 400
    assert answer.json() == {"error": BUDGET}

    monkeypatch.chdir(home)
    (home / "huge.png").write_bytes(huge_png)
    # The command line reads the header before anything decodes the file (the
    # graph's refusal is the server's 400 above).
    (home / "large.png").write_bytes(_blank_png(5000, 5000))
    for args, message in [
        (["--model", export_dir, "large.png"], "large.png: image of 5000 x 5000 pixels exceeds"),
        (["--server", url, "large.png"], "large.png: image of 5000 x 5000 pixels exceeds"),
        (["--model", export_dir, "huge.png"], "huge.png: image of 20000 x 20000 pixels exceeds"),
    ]:
        result = CliRunner().invoke(cli, ["caption", *map(str, args)])
        assert result.exit_code == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], result.output
