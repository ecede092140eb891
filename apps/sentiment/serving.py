"""The sentiment export and the function that asks any form of the model.

`SentimentServing` is what TensorFlow Serving calls (`serving_default`: raw
strings in, label and probabilities out; `explain`: the same, with the words
the model read and its attention over them); `positive_probability` reads P(positive)
from a keras model, a loaded export or a served model alike, in batches.
"""

import numpy as np
import tensorflow as tf

from apps.sentiment.model import explainer, mean_probability, standardizer
from seqlib.export import text_input

LABELS = ("negative", "positive")


class SentimentServing(tf.Module):
    """What TensorFlow Serving calls: raw strings in, label and probabilities out.

    `serve` (`serving_default`) returns `label`, `probability` (of that label)
    and `positive_probability`; `explain` returns the same and `words`
    `(batch, T)`, the words the model read after standardization (`""` pads;
    words past the model's length are not read), and `attention` `(batch, T)`,
    the attention pooling's weight of each word (0 on padding).
    """

    def __init__(self, model, config):
        super().__init__()
        self.model = model
        self.standardize = standardizer(config)
        self.explainer = explainer(model)
        self.labels = tf.constant(list(LABELS))

    def _answer(self, positive):
        is_positive = positive > 0.5
        return {
            "label": tf.gather(self.labels, tf.cast(is_positive, tf.int32)),  # (batch,) string
            "probability": tf.where(is_positive, positive, 1.0 - positive),  # of that label
            "positive_probability": positive,
        }

    @tf.function(input_signature=[text_input("text")])
    def serve(self, text):
        return self._answer(mean_probability(self.model(text, training=False)))  # (batch,)

    @tf.function(input_signature=[text_input("text")])
    def explain(self, text):
        outputs = self.explainer(text, training=False)
        attention = tf.cast(outputs["attention"], tf.float32)  # (batch, T)
        # The same standardization and split as the model's vectorizer, cut to its T.
        words = tf.strings.split(self.standardize(text)).to_tensor(
            default_value="", shape=tf.stack([tf.shape(text)[0], tf.shape(attention)[1]])
        )  # (batch, T)
        return {
            **self._answer(mean_probability(outputs)),
            "words": words,
            "attention": attention,
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
    return outputs["probability"].mean(axis=-1)
