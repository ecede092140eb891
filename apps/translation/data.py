"""What the translation model reads: Tatoeba's English-Spanish pairs (or a
user's file) in a fixed split, cut into tokens and ids, and the `tf.data`
pipelines of training and validation: `((source, target_in), target_out)`
batches bucketed by length.

The training order depends on `(seed, epoch)` only (`shuffle_for_epoch`), so a
resumed run reads what an uninterrupted one would have.
"""

import collections

import numpy as np
import tensorflow as tf

from apps.common.text import (
    END,
    PAD,
    SOURCE_SPECIALS,
    START,
    TARGET_SPECIALS,
    Vocabulary,
    tokenize_all,
)
from apps.translation.numbers import is_number, mark_pair
from datasets.translation_data import load_tatoeba, load_user_pairs
from seqlib.training import shuffle_for_epoch

# Training pairs held in the shuffle buffer (all of them for Tatoeba: a uniform shuffle).
SHUFFLE_BUFFER = 200_000


def load_data(config, data=None):
    """The fixed split: Tatoeba's English-Spanish pairs, or a user's TSV file `data`
    (the direction is chosen later, by `sides`)."""
    return load_user_pairs(data) if data else load_tatoeba()


def sides(pairs, direction):
    """`(sources, targets)`: two lists of sentences in the given direction."""
    if not pairs:
        return [], []
    sources, targets = zip(*(pair.source_target(direction) for pair in pairs))
    return list(sources), list(targets)


def references(pairs, direction):
    """Groups pairs by source sentence: `(sources, [translations of each])`, in
    order of first appearance. Tatoeba often has several translations of one
    sentence; all of them are references."""
    grouped = collections.OrderedDict()
    for source, target in zip(*sides(pairs, direction)):
        grouped.setdefault(source, []).append(target)
    return list(grouped), list(grouped.values())


def tokenized(pairs, direction, numbers="words"):
    """`(sources, source_tokens, target_tokens)` of `pairs` in the direction;
    with `numbers="placeholders"`, numbers become `<numk>` (`numbers.mark_pair`)."""
    sources, targets = sides(pairs, direction)
    source_tokens, target_tokens = tokenize_all(sources), tokenize_all(targets)
    if numbers == "placeholders":
        marked = [mark_pair(s, t) for s, t in zip(source_tokens, target_tokens)]
        source_tokens, target_tokens = [s for s, _ in marked], [t for _, t in marked]
    return sources, source_tokens, target_tokens


def within(source_tokens, target_tokens, max_tokens):
    """The indices of the pairs with 1 to `max_tokens` tokens a side."""
    return [
        i
        for i, (s, t) in enumerate(zip(source_tokens, target_tokens))
        if 1 <= len(s) <= max_tokens and 1 <= len(t) <= max_tokens
    ]


def training_pairs(config, data):
    """`(source_tokens, target_tokens)` of the training pairs the model learns
    from: at most `data.max_tokens` a side, at most `data.train_pairs` of them
    (a seeded draw). Raises ValueError when they do not fill a batch."""
    max_tokens = config.data.max_tokens
    _, source_tokens, target_tokens = tokenized(
        data.train, config.data.direction, config.data.numbers
    )
    keep = within(source_tokens, target_tokens, max_tokens)
    if config.data.train_pairs:
        order = np.random.default_rng(config.train.seed).permutation(len(keep))
        keep = sorted(keep[i] for i in order[: config.data.train_pairs])
    if len(keep) < config.train.batch_size:
        raise ValueError(
            f"{len(keep)} training pairs have at most {max_tokens} tokens a side; a batch "
            f"needs {config.train.batch_size} (lower train.batch_size or raise "
            "data.max_tokens)."
        )
    return [source_tokens[i] for i in keep], [target_tokens[i] for i in keep]


def build_vocabularies(config, source_tokens, target_tokens):
    """The source and the target `Vocabulary` of the training pairs' tokens:
    the specials and the most frequent tokens of each side (numbers left out
    unless `data.numbers` is "words"; placeholders are tokens like others)."""
    if config.data.numbers != "words":
        source_tokens, target_tokens = (
            [[t for t in sentence if not is_number(t)] for sentence in side]
            for side in (source_tokens, target_tokens)
        )
    return (
        Vocabulary.from_sentences(source_tokens, config.data.source_vocabulary, SOURCE_SPECIALS),
        Vocabulary.from_sentences(target_tokens, config.data.target_vocabulary, TARGET_SPECIALS),
    )


def encode_examples(source_tokens, target_tokens, source_vocabulary, target_vocabulary):
    """Id lists: sources as they are, targets framed as `[START] ... [END]`."""
    sources = [source_vocabulary.encode(tokens) for tokens in source_tokens]
    targets = [[START, *target_vocabulary.encode(tokens), END] for tokens in target_tokens]
    return sources, targets


def _ragged(sequences):
    lengths = np.array([len(s) for s in sequences], np.int64)
    flat = np.fromiter((i for s in sequences for i in s), np.int32, count=int(lengths.sum()))
    return tf.RaggedTensor.from_row_lengths(flat, lengths)


def bucket_boundaries(max_tokens):
    """Length buckets (sentences are padded to `boundary - 1`); few fixed shapes
    keep an XLA-compiled train step from recompiling for every batch."""
    top = max_tokens + 3  # the target plus [START] (or [END]) is at most max_tokens + 1
    inner = [b for b in (8, 12, 20, 32) if b < top - 2]
    return [*inner, top]


def example_dataset(sources, targets):
    """Unbatched `((source, target_in), target_out)` with ragged-free elements."""
    dataset = tf.data.Dataset.from_tensor_slices((_ragged(sources), _ragged(targets)))
    return dataset.map(lambda s, t: ((s, t[:-1]), t[1:]))


def batched(dataset, batch_size, max_tokens, drop_remainder):
    """Buckets by length and pads each batch to its bucket's boundary."""
    boundaries = bucket_boundaries(max_tokens)
    return dataset.bucket_by_sequence_length(
        lambda x, y: tf.maximum(tf.shape(x[0])[0], tf.shape(x[1])[0]),
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padded_shapes=(([None], [None]), [None]),
        padding_values=((PAD, PAD), PAD),
        pad_to_bucket_boundary=True,
        drop_remainder=drop_remainder,
    )


def training_batches(config, source_tokens, target_tokens, source_vocabulary, target_vocabulary):
    """`(train_data, steps)`: `train_data(epoch)` gives the batches of an epoch
    in an order drawn from `(train.seed, epoch)`; `steps` batches make one."""
    examples = example_dataset(
        *encode_examples(source_tokens, target_tokens, source_vocabulary, target_vocabulary)
    )
    batch_size, seed, count = config.train.batch_size, config.train.seed, len(source_tokens)

    def train_data(epoch):
        # Repeated, so that the buckets' partial batches never leave an epoch
        # short; the runner cuts each epoch to `steps` batches (about one pass).
        shuffled = shuffle_for_epoch(examples, epoch, min(count, SHUFFLE_BUFFER), seed)
        return batched(shuffled.repeat(), batch_size, config.data.max_tokens, drop_remainder=True)

    return train_data, count // batch_size


def validation_batches(config, data, source_vocabulary, target_vocabulary):
    """Every validation pair of at most `data.max_tokens` tokens a side, in
    order, bucketed and batched; None when there is none."""
    max_tokens = config.data.max_tokens
    _, source_tokens, target_tokens = tokenized(
        data.validation, config.data.direction, config.data.numbers
    )
    keep = within(source_tokens, target_tokens, max_tokens)
    if not keep:
        return None
    validation = batched(
        example_dataset(
            *encode_examples(
                [source_tokens[i] for i in keep],
                [target_tokens[i] for i in keep],
                source_vocabulary,
                target_vocabulary,
            )
        ),
        config.train.batch_size,
        max_tokens,
        drop_remainder=False,
    )
    # Buckets hide the number of batches; keras wants it to end an evaluation
    # without a warning.
    batches = int(validation.reduce(0, lambda count, _: count + 1))
    return validation.apply(tf.data.experimental.assert_cardinality(batches))
