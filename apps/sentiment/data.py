"""What the sentiment model reads: the fixed split of rated texts and its `tf.data`
pipelines (`(text, {"probability": label, "rating": rating / 4})` examples).

The training order depends on `(seed, epoch)` only (`shuffle_for_epoch`), so a
resumed run reads what an uninterrupted one would have.
"""

import numpy as np
import tensorflow as tf

from apps.sentiment.model import RATING_SCALE
from datasets.sentiment_data import load_tweets, load_user_csv
from seqlib.training import shuffle_for_epoch


def load_data(config, data=None):
    """The fixed split: the tweets by default, or a user's CSV file `data`."""
    if data:
        return load_user_csv(data)
    return load_tweets(extras=config.data.extras)


def examples(frame):
    """`(text, {"probability": label, "rating": rating / 4})` examples; a missing
    rating is NaN, which the rating loss skips."""
    labels = frame["label"].to_numpy("float32")[:, None]
    ratings = (frame["rating"].to_numpy("float32") / RATING_SCALE)[:, None]
    texts = np.array([str(t) for t in frame["text"]], dtype=object)
    return tf.data.Dataset.from_tensor_slices((texts, {"probability": labels, "rating": ratings}))


def training_batches(config, data):
    """`train_data(epoch)` for the runner: the training split in an order drawn
    from `(train.seed, epoch)`, in batches of `train.batch_size`."""
    train_examples = examples(data.train)

    def train_data(epoch):
        return shuffle_for_epoch(
            train_examples, epoch, buffer_size=len(data.train), seed=config.train.seed
        ).batch(config.train.batch_size)

    return train_data


def validation_batches(config, data):
    """The validation split, in order, in batches of `train.batch_size`."""
    return examples(data.validation).batch(config.train.batch_size)
