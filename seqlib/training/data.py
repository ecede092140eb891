"""Per-epoch data order and a progress bar for data preparation."""

import keras
import tensorflow as tf

# Spreads (seed, epoch) pairs apart so that seed 1 epoch 1 and seed 2 epoch 0
# do not shuffle alike.
_EPOCH_STRIDE = 1_000_003


def shuffle_for_epoch(dataset, epoch, buffer_size, seed):
    """Shuffles a dataset in an order that depends only on `(seed, epoch)`.

    `Dataset.shuffle(reshuffle_each_iteration=True)` draws each epoch's order
    from how many times the dataset was iterated in this process, so a resumed
    run would replay epoch 1's order as its epoch 3. Seeding the shuffle by the
    epoch makes epoch 3 the same wherever it runs. Use it inside the
    `train_data(epoch)` callable given to `seqlib.training.train`, before
    batching.

    Args:
        dataset: An unbatched `tf.data.Dataset`.
        epoch: The epoch index, a python int or a scalar integer tensor (the
            runner passes a `tf.int64` tensor).
        buffer_size: The shuffle buffer size; the number of examples for a
            uniform shuffle.
        seed: A python int, e.g. `TrainConfig.seed`.

    Returns:
        The shuffled `tf.data.Dataset`.

    Example:

    >>> def train_data(epoch):
    ...     return shuffle_for_epoch(examples, epoch, 10_000, seed=1).batch(32)
    """
    epoch = tf.cast(epoch, tf.int64)
    return dataset.shuffle(
        buffer_size,
        seed=tf.constant(seed, tf.int64) * _EPOCH_STRIDE + epoch,
        reshuffle_each_iteration=False,
    )


def progress(iterable, total=None, desc=None, verbose=1):
    """Iterates over `iterable` showing a keras progress bar.

    For the slow loops of data preparation (tokenising a corpus, parsing MIDI
    files, extracting image features), with the same bar that `fit` shows.

    Args:
        iterable: Any iterable.
        total: Number of items; taken from `len(iterable)` when it has one,
            otherwise the bar counts without a target.
        desc: Optional line printed above the bar.
        verbose: 1 for a bar, 2 for one line at the end, 0 for silence.

    Returns:
        A generator over the items of `iterable`.

    Example:

    >>> for path in progress(paths, desc="Parsing MIDI files"):
    ...     parse(path)
    """
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    if desc and verbose:
        print(desc, flush=True)
    bar = keras.utils.Progbar(total, verbose=verbose)
    count = 0
    for item in iterable:
        yield item
        count += 1
        bar.update(count)
    if total is None or count < total:
        # The bar only finishes its line itself when it reaches the target.
        bar.update(count, finalize=True)
