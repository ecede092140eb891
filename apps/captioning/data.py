"""What the captioning model reads: the generated scenes (or a user's
Flickr8k or COCO folder) in a fixed split, captions framed into fixed-length
ids, and the `tf.data` pipelines of training and validation: one
`((image, target_in), target_out)` example per caption.

The training order depends on `(seed, epoch)` only (`shuffle_for_epoch`), so a
resumed run reads what an uninterrupted one would have.
"""

import re
import time

import numpy as np
import tensorflow as tf

from apps.captioning.config import MAX_PIXELS
from apps.captioning.images import check_pixel_budget
from apps.captioning.model import decode_image
from apps.common.text import END, PAD, START, TARGET_SPECIALS, Vocabulary, tokenize_all
from datasets.caption_data import DataError, image_problem, load_user_captions
from datasets.fetch import read_bytes
from datasets.scenes import load_scenes
from seqlib.training import shuffle_for_epoch

# Decoded training images are kept in memory when they take at most this much
# (the 8,000 scenes at 64 px: 0.4 GB); larger sets are read from disk every epoch.
CACHE_BYTES = 2 << 30
# Captions of one image are spread apart by a second shuffle of this many examples.
MIX_BUFFER = 1024


def load_data(config, data=None, skip_bad=False):
    """The fixed split: the generated scenes (`config.data.scenes` of them, at
    `config.data.image_size`), or a user's Flickr8k or COCO folder `data`
    (`skip_bad`: leave out its broken images and empty captions)."""
    if data:
        return load_user_captions(data, skip_bad=skip_bad)
    train, validation, test = config.data.scenes
    return load_scenes(
        image_size=config.data.image_size, train=train, validation=validation, test=test
    )


def read_images(paths, max_pixels=MAX_PIXELS):
    """The bytes of image files, each checked first: a file whose header says
    more than `max_pixels` pixels (nothing is decoded then), that is not a whole
    JPEG or PNG (`image_problem`), or that TensorFlow's decoder, the one the
    model runs, refuses, is a one-line `DataError` naming it."""
    out = []
    for path in paths:
        data = read_bytes(path)
        try:
            check_pixel_budget(data, max_pixels)
        except tf.errors.InvalidArgumentError as error:
            raise DataError(f"{path}: {_tf_message(error)}") from None
        problem = image_problem(path)
        if problem:
            raise DataError(f"{path}: {problem}")
        try:
            # Pillow forgives what libjpeg only warns about (a scan cut short);
            # TensorFlow does not, and would fail inside the model's graph.
            tf.io.decode_image(data, channels=3, expand_animations=False)
        except tf.errors.InvalidArgumentError as error:
            raise DataError(f"{path}: not a readable image ({_tf_message(error)})") from None
        out.append(data)
    return out


def _tf_message(error):
    """An op error's message without the op and device TensorFlow wraps it in."""
    text = " ".join(error.message.split())
    text = re.sub(r"^\{\{[^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:\w+\]$", "", text) or "refused by TensorFlow"


def caption_tokens(examples, config):
    """The tokens of every caption of `examples`, in order (lowercased when
    `data.lowercase`)."""
    captions = [c for e in examples for c in e.captions]
    return tokenize_all(captions, config.data.lowercase)


def build_vocabulary(config, examples):
    """The `Vocabulary` of `data.vocabulary` ids: the specials and the most
    frequent tokens of the captions of at most `data.max_tokens` tokens."""
    tokens = [t for t in caption_tokens(examples, config) if len(t) <= config.data.max_tokens]
    return Vocabulary.from_sentences(tokens, config.data.vocabulary, TARGET_SPECIALS)


def frame(ids, max_tokens):
    """`[START] ids [END]` right-padded with `PAD` to `max_tokens + 2` ids
    (the decoder's loop is unrolled: every target has that one length)."""
    framed = [START, *ids[:max_tokens], END]
    return framed + [PAD] * (max_tokens + 2 - len(framed))


def encode_split(examples, vocabulary, config):
    """`(paths, targets, dropped)`: per image, its captions of at most
    `max_tokens` tokens as framed id lists (`frame`), and how many captions
    were longer; images with no caption left are left out."""
    max_tokens = config.data.max_tokens
    tokens = iter(caption_tokens(examples, config))
    paths, targets, dropped = [], [], 0
    for example in examples:
        kept = []
        for _ in example.captions:
            sentence = next(tokens)
            if 1 <= len(sentence) <= max_tokens:
                kept.append(frame(vocabulary.encode(sentence), max_tokens))
            else:
                dropped += 1
        if kept:
            paths.append(str(example.image))
            targets.append(kept)
    return paths, targets, dropped


def _captions_array(targets):
    """`(images, most captions, length)` int32 and the count of each image's captions."""
    counts = np.array([len(t) for t in targets], np.int32)
    length = len(targets[0][0])
    array = np.full((len(targets), int(counts.max()), length), PAD, np.int32)
    for i, captions in enumerate(targets):
        array[i, : len(captions)] = captions
    return array, counts


def _loader(image_size):
    def load(path, captions, count):
        return decode_image(tf.io.read_file(path), image_size), captions, count

    return load


def _per_caption(image, captions, count):
    """One `((image, target_in), target_out)` example per caption of an image."""
    framed = tf.data.Dataset.from_tensor_slices(captions[:count])
    return framed.map(lambda ids: ((image, ids[:-1]), ids[1:]))


def image_dataset(paths, targets, image_size):
    """Unbatched `(image, captions, count)` in the order of `paths`, decoded from
    the files (`decode_image`)."""
    captions, counts = _captions_array(targets)
    meta = tf.data.Dataset.from_tensor_slices((paths, captions, counts))
    return meta.map(_loader(image_size), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def fits_in_memory(count, image_size):
    return count * image_size * image_size * 3 * 4 <= CACHE_BYTES


def training_batches(paths, targets, image_size, batch_size, seed, say=print):
    """`(train_data, steps)`: `train_data(epoch)` gives the batches of an epoch,
    one example per caption, in an order that depends only on `(seed, epoch)`."""
    captions, counts = _captions_array(targets)
    total = int(counts.sum())
    several = bool(counts.max() > 1)
    load = _loader(image_size)
    meta = tf.data.Dataset.from_tensor_slices((paths, captions, counts))
    cached = None
    if fits_in_memory(len(paths), image_size):
        started = time.time()
        cached = meta.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).cache()
        for _ in cached:  # decode every image once now; later epochs read memory
            pass
        say(f"decoded {len(paths):,} training images in {time.time() - started:.0f} s")

    def train_data(epoch):
        if cached is not None:
            images = shuffle_for_epoch(cached, epoch, len(paths), seed)
        else:
            images = shuffle_for_epoch(meta, epoch, len(paths), seed).map(
                load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            )
        examples = images.flat_map(_per_caption)
        if several:
            examples = shuffle_for_epoch(examples, epoch, min(total, MIX_BUFFER), seed + 1)
        return examples.batch(batch_size, drop_remainder=True)

    return train_data, total // batch_size


def validation_batches(paths, targets, image_size, batch_size):
    """Every validation caption once, in order, batched; cached after the first pass."""
    if not paths:
        return None
    images = image_dataset(paths, targets, image_size)
    if fits_in_memory(len(paths), image_size):
        images = images.cache()
    total = sum(len(t) for t in targets)
    batches = images.flat_map(_per_caption).batch(batch_size)
    # flat_map hides the number of batches; keras wants it to end an evaluation
    # without a warning.
    return batches.apply(tf.data.experimental.assert_cardinality(-(-total // batch_size)))
