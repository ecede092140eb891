"""What the music model reads: the fixed split of ABC tunes and the streams of
truncated BPTT.

Training (`training_windows`) reads the training text (every tune followed by
the end-of-tune mark, tunes in an order drawn from `(seed, epoch)` only) cut
into `train.batch_size` contiguous streams; batch `k` holds window `k` of every
stream (`stream_windows`). Validation reads its tunes, in order, the same way;
evaluation reads them as `tune_sequences` of whole tunes.
"""

import numpy as np
import tensorflow as tf

from apps.music.model import END
from datasets.music_data import load_corpus, load_user_abc, normalize, transposed_tunes
from seqlib.training import shuffle_for_epoch


def load_data(config, data=None):
    """The fixed split: music21's corpus by default, or a user's .abc file or
    folder `data`; in the canonical form when `data.normalize` (the split is
    the same either way)."""
    corpus = load_user_abc(data) if data else load_corpus()
    if config.data.normalize:
        corpus = normalize(corpus, keep_text=config.data.keep_text)
    return corpus


def training_tunes(config, corpus):
    """`(tunes, notes)`: the training tunes, and their copies transposed by each of
    `data.transpose` (`datasets.music_data.transposed_tunes`), with what the
    transposition made and refused."""
    if not config.data.transpose:
        return list(corpus.train), ()
    copies, notes = transposed_tunes(corpus, config.data.transpose)
    return [*corpus.train, *copies], notes


def texts(tunes):
    """The ABC text of each tune."""
    return [tune.abc for tune in tunes]


def window_count(total, streams, window):
    """Windows of `window` characters in each of `streams` rows of a text of `total`."""
    windows = (total // streams - 1) // window
    if windows < 1:
        raise ValueError(
            f"Expected a text of at least {streams * (window + 1):,} characters for "
            f"{streams} streams of windows of {window}. Received: {total:,} characters; "
            "lower train.batch_size or data.window."
        )
    return windows


def stream_windows(ids, streams, window):
    """`(inputs, targets)` batches of truncated BPTT over one text.

    `ids` `(N,)` is cut into `streams` contiguous rows; batch `k` holds
    characters `k * window ... (k + 1) * window` of every row, and the targets
    are the same shifted by one. The last `N mod streams` characters, and
    what does not fill a whole window, are not read.

    Returns:
        `(dataset, windows)`: batches `((streams, window), (streams, window))`
        and their number.
    """
    total = int(ids.shape[0])
    windows = window_count(total, streams, window)
    rows = tf.reshape(ids[: streams * (total // streams)], (streams, total // streams))

    def window_at(k):
        start = tf.cast(k, tf.int32) * window
        x = tf.slice(rows, [0, start], [streams, window])  # (streams, window)
        y = tf.slice(rows, [0, start + 1], [streams, window])  # (streams, window)
        return x, y

    return tf.data.Dataset.range(windows).map(window_at), windows


def training_windows(flat_ids, tune_lengths, streams, window, seed):
    """`train_data(epoch)` for the runner: the tunes in an order drawn from
    `(seed, epoch)` only, concatenated and read as `stream_windows`.

    Returns:
        `(train_data, windows per epoch)`.
    """
    tunes = tf.RaggedTensor.from_row_lengths(
        tf.constant(flat_ids, tf.int32), tf.constant(tune_lengths, tf.int64)
    )
    count = len(tune_lengths)
    windows = window_count(len(flat_ids), streams, window)

    def train_data(epoch):
        order = (
            shuffle_for_epoch(tf.data.Dataset.range(count), epoch, buffer_size=count, seed=seed)
            .batch(count)
            .get_single_element()
        )  # (tunes,) a permutation
        ids = tf.ensure_shape(tf.gather(tunes, order).flat_values, [len(flat_ids)])  # (N,)
        return stream_windows(ids, streams, window)[0]

    return train_data, windows


def training_batches(config, vocabulary, tunes):
    """`(train_data(epoch), steps per epoch)` for the runner: `training_windows`
    over `tunes` (`training_tunes`: the training tunes and their transposed
    copies), `data.steps_per_epoch` windows an epoch (0: all)."""
    flat, lengths = vocabulary.encode_tunes(texts(tunes))
    train_data, windows = training_windows(
        flat, lengths, config.train.batch_size, config.data.window, config.train.seed
    )
    return train_data, min(config.data.steps_per_epoch or windows, windows)


def validation_batches(config, vocabulary, data):
    """The validation tunes, in order, after an end mark, as `stream_windows`."""
    ids = np.concatenate([[END], vocabulary.encode_tunes(texts(data.validation))[0]])
    dataset, _ = stream_windows(
        tf.constant(ids, tf.int32), config.train.batch_size, config.data.window
    )
    return dataset


def tune_sequences(vocabulary, tunes, streams):
    """The tunes, in order, in about `streams` sequences of whole tunes of about equal
    length, each starting with the end mark as context (see `bits_per_character`)."""
    flat, lengths = vocabulary.encode_tunes(tunes)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    # Cut at the tune boundaries nearest to equal shares of the text.
    targets = np.linspace(0, bounds[-1], min(streams, len(tunes)) + 1)
    cuts = np.unique(bounds[np.searchsorted(bounds, targets)])
    return [
        np.concatenate([[END], flat[a:b]]).astype(np.int32)
        for a, b in zip(cuts[:-1], cuts[1:])
        if b > a
    ]
