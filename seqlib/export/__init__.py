"""Exports for TensorFlow Serving: versioned SavedModels and the server's model config.

Layout of `base_dir` after a few exports (mount it as `/models` in the server):

```
base_dir/
  models.config             # ModelServerConfig in text format, one entry per model
  sentiment/
    1/                      # a version: written elsewhere, renamed in one step
      saved_model.pb
      variables/
      assets/
      assets.extra/         # optional files that travel with it (the app config)
    2/
  stocks/
    1/
```

## The serving contract

TF Serving calls a signature, not Python. Everything a prediction needs happens
inside the `serving_default` signature, so a client sends what it has and reads
what it wants:

- inputs are raw: `tf.string` texts (tokenized inside, by a `TextVectorization`
  layer or a lookup table), float32 prices, `tf.string` encoded image bytes
  (decoded inside with `tf.io.decode_image`);
- outputs are a dict of named, human-usable tensors: labels as `tf.string`,
  probabilities as float32, generated text as `tf.string`. Never bare logits or
  token ids, and never a single unnamed tensor (TF Serving would call it
  `output_0`).

The export holds only graphs, variables and lookup tables, so it loads with
TensorFlow alone: seqlib layers are traced into plain TensorFlow ops. The tests prove
it by serving each export in a process that cannot import the project
(`seqlib.export.testing`).

Example: a sentiment classifier on raw strings.

```python
import keras
import tensorflow as tf

from seqlib.export import export_for_serving, label_outputs, text_input
from seqlib.layers import GRU

vectorize = keras.layers.TextVectorization(max_tokens=100, output_sequence_length=8)
vectorize.adapt(["a good film", "a bad film", "great acting", "awful plot"])
texts = keras.Input((), dtype="string")
x = vectorize(texts)  # (batch, 8) token ids
x = keras.layers.Embedding(100, 16)(x)  # (batch, 8, 16)
x = GRU(16)(x)  # (batch, 16)
probabilities = keras.layers.Dense(2, activation="softmax")(x)  # (batch, 2)
model = keras.Model(texts, probabilities)


class TextClassifier(tf.Module):
    def __init__(self, model, labels):
        super().__init__()
        self.model = model
        self.labels = tf.constant(labels)  # saved as a constant of the graph

    @tf.function(input_signature=[text_input("texts")])  # (None,) tf.string
    def serve(self, texts):
        probabilities = self.model(texts, training=False)  # (batch, 2)
        index = tf.argmax(probabilities, axis=-1)
        return {
            "label": tf.gather(self.labels, index),  # (batch,) tf.string
            "probability": tf.reduce_max(probabilities, axis=-1),  # (batch,) float32
        }
        # or: return label_outputs(probabilities, ["negative", "positive"])


path = export_for_serving(TextClassifier(model, ["negative", "positive"]), "exports", "sentiment")
# -> exports/sentiment/1, and exports/models.config lists "sentiment"
```

Served with:

```
docker run -p 8501:8501 -v "$PWD/exports:/models" tensorflow/serving \\
    --model_config_file=/models/models.config --model_config_file_poll_wait_seconds=60
curl -d '{"inputs": {"texts": ["a good film"]}}' \\
    localhost:8501/v1/models/sentiment:predict
# {"outputs": {"label": ["positive"], "probability": [0.93]}}
```
"""

from seqlib.export.models_config import (
    MODELS_CONFIG,
    read_models_config,
    served_models,
    write_models_config,
)
from seqlib.export.saved_model import EXTRA_ASSETS_DIR, SERVING_DEFAULT, export_for_serving
from seqlib.export.signatures import float_input, image_bytes_input, label_outputs, text_input
from seqlib.export.versions import latest_version, list_versions, next_version

__all__ = [
    "EXTRA_ASSETS_DIR",
    "MODELS_CONFIG",
    "SERVING_DEFAULT",
    "export_for_serving",
    "float_input",
    "image_bytes_input",
    "label_outputs",
    "latest_version",
    "list_versions",
    "next_version",
    "read_models_config",
    "served_models",
    "text_input",
    "write_models_config",
]
