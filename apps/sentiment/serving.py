"""The sentiment export and the function that asks any form of the model.

`SentimentServing` is what TensorFlow Serving calls (`serving_default`: raw
strings in, label and probabilities out); `positive_probability` reads P(positive)
from a keras model, a loaded export or a served model alike, in batches.
"""

import numpy as np
import tensorflow as tf

from seqlib.export import text_input

LABELS = ("negative", "positive")


class SentimentServing(tf.Module):
    """What TensorFlow Serving calls: raw strings in, label and probabilities out."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.labels = tf.constant(list(LABELS))

    @tf.function(input_signature=[text_input("text")])
    def serve(self, text):
        positive = self.model(text, training=False)["probability"][:, 0]  # (batch,)
        is_positive = positive > 0.5
        return {
            "label": tf.gather(self.labels, tf.cast(is_positive, tf.int32)),  # (batch,) string
            "probability": tf.where(is_positive, positive, 1.0 - positive),  # of that label
            "positive_probability": positive,
        }


def positive_probability(model, texts, batch_size=256):
    """P(positive) of every text, from a keras model or a loaded SavedModel."""
    texts = np.array([str(t) for t in texts], dtype=object)
    if hasattr(model, "signatures"):
        serve = model.signatures["serving_default"]
        out = [
            serve(text=tf.constant(texts[i : i + batch_size]))["positive_probability"].numpy()
            for i in range(0, len(texts), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros(0, "float32")
    outputs = model.predict(texts, batch_size=batch_size, verbose=0)
    return outputs["probability"][:, 0]
