"""The character model of ABC tunes, its vocabulary, and its score in bits per character.

```
characters -> ids (Vocabulary)              (streams, window) ints, 1 = end of tune
  -> LanguageModel: Embedding               (streams, window, E)
  -> seqlib LSTM | GRU x L (stateful)       (streams, window, U), state kept between windows
  -> Dense                                  (streams, window, V) logits of the next character
```

Training is truncated BPTT over parallel streams (`data.training_windows`): the
training text (every tune followed by the end-of-tune mark, tunes in an order
drawn per epoch) is cut into `batch_size` contiguous streams, and batch `k`
holds window `k` of every stream. The model's layers are stateful
(`LanguageModel(stateful=True)`), so each window starts from the state the
previous window of the same stream ended with; gradients stop at the window's
start. `ResetStates` zeroes the state at the start of every epoch and of every
validation pass, so an epoch depends on its data alone, which is what lets
`seqlib.training.train` resume a run bit for bit (the state is not in the
checkpoints, and need not be).

Evaluation (`bits_per_character`) and generation (`serving.sample_ids`) run a
copy of the model that is not stateful and pass the state explicitly.
"""

import json
import math

import keras
import numpy as np
import tensorflow as tf

from seqlib.models import LanguageModel
from seqlib.training.losses import sparse_categorical_crossentropy

UNKNOWN = 0  # a character the training tunes never used
END = 1  # the end of a tune: the blank line between two tunes
SPECIALS = ("<unknown>", "<end>")


class Vocabulary:
    """The characters of the training tunes, as ids `2 .. size - 1`.

    Id 0 stands for any other character (it never occurs in training, so the
    model learns to give it no probability); id 1 ends a tune.

    Args:
        characters: The characters, in id order.

    Example:

    ```python
    vocabulary = Vocabulary.from_tunes(["X:1\\nK:D\\nABc|\\n"])
    vocabulary.encode("ABc")          # array([4, 5, 9], dtype=int32)
    vocabulary.decode([4, 5, 9, 1])   # "ABc"
    ```
    """

    def __init__(self, characters):
        self.characters = tuple(characters)
        if len(set(self.characters)) != len(self.characters) or any(
            len(c) != 1 for c in self.characters
        ):
            raise ValueError(
                "Expected distinct single characters. "
                f"Received: characters={''.join(self.characters)!r}"
            )
        self._ids = {c: i for i, c in enumerate(self.characters, start=len(SPECIALS))}

    @classmethod
    def from_tunes(cls, tunes):
        return cls(sorted(set().union(*map(set, tunes))))

    @property
    def size(self):
        return len(SPECIALS) + len(self.characters)

    def unknown(self, text):
        """The characters of `text` that are not in the vocabulary, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._ids))

    def encode(self, text, strict=False):
        """Ids of `text` `(len,)` int32; unknown characters become 0, or raise when `strict`."""
        if strict:
            missing = self.unknown(text)
            if missing:
                shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing[:5])
                raise ValueError(
                    f"The prefix has characters the model never saw in training: {shown}. "
                    "Use only characters of the training tunes."
                )
        return np.array([self._ids.get(c, UNKNOWN) for c in text], dtype=np.int32)

    def encode_tunes(self, tunes):
        """Every tune's ids followed by `END`, as one flat array, and each tune's length."""
        pieces = [np.append(self.encode(t), np.int32(END)) for t in tunes]
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        flat = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
        return flat, lengths

    def decode(self, ids):
        """The text of `ids`; the specials are dropped."""
        table = ("", "", *self.characters)
        return "".join(table[i] for i in np.asarray(ids).ravel())

    def to_json(self):
        return json.dumps(
            {"specials": list(SPECIALS), "characters": list(self.characters)},
            ensure_ascii=False,
            indent=0,
        )

    @classmethod
    def from_json(cls, text):
        saved = json.loads(text)
        if tuple(saved.get("specials", ())) != SPECIALS:
            raise ValueError(
                f"Expected a vocabulary with specials {SPECIALS}. Received: {saved.get('specials')}"
            )
        return cls(saved["characters"])


def build_model(config, vocabulary_size, stateful=False):
    """The language model of `config.model`; `stateful=True` for training over windows."""
    m = config.model
    return LanguageModel(
        vocabulary_size,
        embedding_dim=m.embedding_dim,
        units=m.units,
        num_layers=m.layers,
        cell=m.cell,
        dropout=m.dropout,
        stateful=stateful,
        name="music_lm",
    )


@keras.saving.register_keras_serializable(package="apps.music")
class BitsPerCharacter(keras.metrics.MeanMetricWrapper):
    """Mean cross-entropy of the next character, in bits (log base 2), from logits."""

    def __init__(self, name="bits_per_character", **kwargs):
        super().__init__(fn=_bits, name=name, **kwargs)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _bits(y_true, logits):
    return sparse_categorical_crossentropy(y_true, logits, from_logits=True) / math.log(2.0)


class ResetStates(keras.callbacks.Callback):
    """Zeroes a stateful model's state at the start of every epoch and validation pass."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_states()

    def on_test_begin(self, logs=None):
        self.model.reset_states()


# -- evaluation ---------------------------------------------------------------


def bits_per_character(model, sequences, streams=64, window=256):
    """Total bits and number of characters the model spends on `sequences`.

    Every sequence's first id is context only (the end of the previous tune);
    every later id is predicted from all the ids before it in its sequence.
    The sequences are read in rows of `streams`, `window` steps at a time, the
    state passed from one window to the next.

    Args:
        model: A `LanguageModel` (not stateful).
        sequences: list of int arrays.

    Returns:
        `(bits, characters)`.
    """
    bits, characters = 0.0, 0
    for start in range(0, len(sequences), streams):
        group = sequences[start : start + streams]
        longest = max(len(s) for s in group) - 1
        steps = -(-longest // window) * window
        inputs = np.zeros((len(group), steps), np.int32)
        targets = np.zeros((len(group), steps), np.int32)
        weights = np.zeros((len(group), steps), np.float32)
        for row, sequence in enumerate(group):
            inputs[row, : len(sequence) - 1] = sequence[:-1]
            targets[row, : len(sequence) - 1] = sequence[1:]
            weights[row, : len(sequence) - 1] = 1.0
        state = model.initial_state(len(group))
        for t in range(0, steps, window):
            nats, state = _window_nats(
                model,
                tf.constant(inputs[:, t : t + window]),
                tf.constant(targets[:, t : t + window]),
                tf.constant(weights[:, t : t + window]),
                state,
            )
            bits += float(nats) / math.log(2.0)
        characters += int(weights.sum())
    return bits, characters


@tf.function(reduce_retracing=True)
def _window_nats(model, inputs, targets, weights, state):
    logits, state = model(inputs, initial_state=state, return_state=True, training=False)
    nats = sparse_categorical_crossentropy(targets, logits, from_logits=True)  # (rows, window)
    return tf.reduce_sum(nats * weights), state
