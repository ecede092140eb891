"""Input specs and named outputs for serving signatures.

A serving signature takes what a client has (raw strings, float prices, encoded image
bytes) and returns what a person reads (labels, probabilities, text). These helpers
spell the common input specs once and build the usual classification outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def text_input(name="texts"):
    """The spec of a batch of raw UTF-8 strings: one string per example.

    Args:
        name: The input's name in the signature (the key clients send).

    Returns:
        A `tf.TensorSpec` of shape `(None,)` and dtype `tf.string`.

    Example:

    >>> text_input()
    TensorSpec(shape=(None,), dtype=tf.string, name='texts')
    """
    return tf.TensorSpec([None], tf.string, name=name)


def image_bytes_input(name="images"):
    """The spec of a batch of encoded images (JPEG or PNG file contents).

    Decoding happens inside the signature (`tf.io.decode_image`), so a client sends
    the file bytes as they are.

    Args:
        name: The input's name in the signature.

    Returns:
        A `tf.TensorSpec` of shape `(None,)` and dtype `tf.string`.

    Example:

    >>> image_bytes_input()
    TensorSpec(shape=(None,), dtype=tf.string, name='images')
    """
    return tf.TensorSpec([None], tf.string, name=name)


def float_input(shape, name):
    """The spec of a batch of float32 arrays, e.g. windows of OHLCV prices.

    Args:
        shape: The shape of one example, without the batch axis; `None` for an axis
            of any length (a window of any number of days, say).
        name: The input's name in the signature.

    Returns:
        A `tf.TensorSpec` of shape `(None, *shape)` and dtype `tf.float32`.

    Example:

    >>> float_input((None, 5), "prices")
    TensorSpec(shape=(None, None, 5), dtype=tf.float32, name='prices')
    """
    return tf.TensorSpec([None, *shape], tf.float32, name=name)


def label_outputs(probabilities, labels: Sequence[str]):
    """Named classification outputs: the most probable label and its probability.

    Call it inside a serving `tf.function`; `labels` become a constant of the graph,
    so the exported model needs no label file.

    Args:
        probabilities: `(batch, classes)` softmax probabilities, or `(batch, 1)`
            sigmoid probabilities of `labels[1]` when there are two labels.
        labels: One name per class, in the order of the model's output units.

    Returns:
        A dict with `"label"`, a `(batch,)` `tf.string` tensor, and `"probability"`,
        the `(batch,)` float32 probability of that label.

    Example:

    >>> label_outputs(tf.constant([[0.2, 0.8]]), ["negative", "positive"])["label"]
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'positive'], dtype=object)>
    """
    labels = [str(label) for label in labels]
    probabilities = tf.convert_to_tensor(probabilities)
    classes = probabilities.shape[-1]
    if classes == 1 and len(labels) == 2:
        # A single sigmoid unit scores labels[1]; spell out both classes so the
        # argmax below serves binary and multi-class models alike.
        probabilities = tf.concat([1.0 - probabilities, probabilities], axis=-1)  # (batch, 2)
    elif classes is not None and classes != len(labels):
        raise ValueError(
            f"Expected one label per output unit ({classes}). "
            f"Received: labels={labels} ({len(labels)} labels)"
        )
    index = tf.argmax(probabilities, axis=-1)  # (batch,)
    return {
        "label": tf.gather(tf.constant(labels, tf.string), index),
        "probability": tf.cast(tf.reduce_max(probabilities, axis=-1), tf.float32),
    }
