"""Pretraining a recurrent encoder as a language model, and moving it into a task model.

The ULMFiT / ELMo recipe: train a language model on unlabelled text, keep its
embedding and recurrent layers (the encoder), and start a classifier built
from the same seqlib layers with them.

- `BidirectionalLanguageModel` trains a forward stack to predict the next
  token and a backward stack to predict the previous one, over one embedding.
- `save_encoder` writes its embedding and recurrent weights, the architecture
  and the vocabulary as one directory; `load_encoder` reads it back as a
  `PretrainedEncoder`.
- `transfer_encoder` copies an encoder into a task model: forward layer `i`
  into `Bidirectional` (keras' or seqlib's) layer `bidirectional_i`'s forward layer,
  backward layer `i` into its backward layer, and the embedding row by row
  through the two vocabularies.

Why the backward weights mean the same thing in the classifier. keras'
`Bidirectional(layer)` runs a copy of `layer` with `go_backwards=True`: it
reads the sequence from its last step to its first and returns its outputs in
that order, which `Bidirectional` flips back to time order. The backward
layers of `BidirectionalLanguageModel` are the same layers, built with
`go_backwards=True`, and their outputs are flipped back the same way, so the
backward state at step `t` has read the tokens `t, t+1, ..., T-1` in both
models. Like `Bidirectional`, they output zeros at masked steps.
"""

import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from seqlib.models.components import recurrent_layer

ENCODER_CONFIG = "encoder.json"
ENCODER_WEIGHTS = "encoder.weights.npz"
_FORMAT = "seqlib.encoder"
_ARCHITECTURE = ("vocab_size", "embedding_dim", "units", "num_layers", "cell", "bidirectional")


class _Perplexity(keras.metrics.Mean):
    """exp of the token-weighted mean cross-entropy."""

    def result(self):
        return ops.exp(super().result())


@keras.saving.register_keras_serializable(package="seqlib")
class BidirectionalLanguageModel(keras.Model):
    """A language model in both directions over one embedding (ELMo-style).

    ```
    e_t = E[x_t]
    forward:   h^1_t = cell_1(e_t, h^1_{t-1}),  h^l_t = cell_l(h^{l-1}_t, h^l_{t-1})
               p(x_{t+1} | x_<=t) = softmax(W_f h^L_t + b_f)
    backward:  g^1_t = cell'_1(e_t, g^1_{t+1}), g^l_t = cell'_l(g^{l-1}_t, g^l_{t+1})
               p(x_{t-1} | x_>=t) = softmax(W_b g^L_t + b_b)
    loss = mean over token pairs of (CE_forward + CE_backward) / 2
    ```

    Id 0 is padding: a pair of neighbouring tokens counts in the loss only if
    neither is padding, and the recurrent layers skip padded steps (so a
    padded sequence gives the same predictions as the unpadded one). The
    model computes its own loss from its input, so it trains with
    `compile(optimizer)` (no `loss`) and `fit` on batches of ids, `ids` or
    `(ids,)`, as `seqlib.training.train` does with `compile_kwargs=None`.
    Besides `loss` it reports `perplexity`: exp of the token-weighted mean
    cross-entropy over the epoch (of both directions together: the
    geometric mean of their perplexities).

    The layer names are stable, for `save_encoder` and `transfer_encoder`:
    `embedding`, `forward_0 .. forward_{L-1}`, `backward_0 ..`, and `softmax`
    (shared) or `forward_softmax` and `backward_softmax`.

    Args:
        vocab_size: int. Number of tokens, padding (id 0) included.
        embedding_dim: int. Size of the embedding.
        units: int. Size of every recurrent layer.
        num_layers: int. Depth of each direction's stack.
        cell: `"lstm"`, `"gru"` or `"simple_rnn"`.
        dropout: float. Dropout on the embedding and on every layer's output.
        bidirectional: bool. Also train the backward stack; if False, the
            model is a forward language model.
        shared_softmax: bool. One output layer for both directions (ELMo),
            else one per direction.
        **kwargs: `keras.Model` keyword arguments, such as `name`.

    Call arguments:
        ids: int `(batch, T)`.
        training: bool.

    Returns:
        A dict of logits `(batch, T, vocab_size)`: `"forward"` (at `t`, of
        token `t + 1`) and, if bidirectional, `"backward"` (at `t`, of token
        `t - 1`).

    Example:

    ```python
    lm = BidirectionalLanguageModel(vocab_size=5000, embedding_dim=64, units=128)
    lm.compile(optimizer="adam")
    lm.fit(ids_dataset, epochs=3)             # batches of padded ids (batch, T)
    save_encoder(lm, "runs/lm/encoder", vocabulary=vocab)
    ```
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim=64,
        units=256,
        num_layers=1,
        cell="lstm",
        dropout=0.0,
        bidirectional=True,
        shared_softmax=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_layers < 1:
            raise ValueError(f"Expected num_layers >= 1. Received: num_layers={num_layers}")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.cell = cell
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.shared_softmax = shared_softmax
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        # zero_output_for_mask as `Bidirectional` sets it on its layers.
        self.forward_layers = [
            recurrent_layer(
                cell, units, return_sequences=True, zero_output_for_mask=True, name=f"forward_{i}"
            )
            for i in range(num_layers)
        ]
        self.backward_layers = [
            recurrent_layer(
                cell,
                units,
                return_sequences=True,
                go_backwards=True,
                zero_output_for_mask=True,
                name=f"backward_{i}",
            )
            for i in range(num_layers if bidirectional else 0)
        ]
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        if shared_softmax or not bidirectional:
            self.softmax_layers = [keras.layers.Dense(vocab_size, name="softmax")]
        else:
            self.softmax_layers = [
                keras.layers.Dense(vocab_size, name="forward_softmax"),
                keras.layers.Dense(vocab_size, name="backward_softmax"),
            ]
        self.perplexity = _Perplexity(name="perplexity")

    def build(self, input_shape=None):
        batch = input_shape[0] if input_shape else None
        self.embedding.build((batch, None))
        for layers in (self.forward_layers, self.backward_layers):
            for i, layer in enumerate(layers):
                layer.build((batch, None, self.embedding_dim if i == 0 else self.units))
        for layer in self.softmax_layers:
            layer.build((batch, None, self.units))
        self.built = True

    def encode(self, ids, training=None):
        """The top layer's states: a dict with `"forward"` `(batch, T, units)`,
        having read tokens `0..t`, and, if bidirectional, `"backward"`, having
        read tokens `T-1..t`; zeros at padded steps."""
        mask = ops.not_equal(ids, 0)  # (batch, T)
        embedded = self.dropout_layer(self.embedding(ids), training=training)
        states = {}
        x = embedded
        for layer in self.forward_layers:
            x = self.dropout_layer(layer(x, mask=mask, training=training), training=training)
        states["forward"] = x
        if self.bidirectional:
            x = embedded
            for layer in self.backward_layers:
                # A go_backwards layer returns its outputs from step T-1 down to
                # 0; flipped, step t is the state after reading T-1..t.
                x = ops.flip(layer(x, mask=mask, training=training), axis=1)
                x = self.dropout_layer(x, training=training)
            states["backward"] = x
        return states

    def call(self, ids, training=None):
        states = self.encode(ids, training=training)
        logits = {"forward": self.softmax_layers[0](states["forward"])}
        if self.bidirectional:
            logits["backward"] = self.softmax_layers[-1](states["backward"])
        return logits

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y is not None:
            raise ValueError(
                "Expected batches of ids alone, `ids` or `(ids,)`: the language model "
                f"takes its targets from its input. Received: targets {y!r}"
            )
        ids = x
        # A pair (t, t+1) counts if both are tokens: forward predicts t+1 from
        # t, backward predicts t from t+1.
        weights = ops.cast(
            ops.logical_and(ops.not_equal(ids[:, :-1], 0), ops.not_equal(ids[:, 1:], 0)),
            "float32",
        )  # (batch, T - 1)
        if sample_weight is not None:
            weights = weights * ops.cast(ops.reshape(sample_weight, (-1, 1)), "float32")
        total = ops.sum(_token_losses(ids[:, 1:], y_pred["forward"][:, :-1]) * weights)
        count = ops.sum(weights)
        if self.bidirectional:
            total = total + ops.sum(_token_losses(ids[:, :-1], y_pred["backward"][:, 1:]) * weights)
            count = 2.0 * count
        loss = ops.divide_no_nan(total, count)
        self.perplexity.update_state(loss, sample_weight=count)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        # Replicas' gradients are summed: each replica's loss is its share, as
        # keras' own losses are under a tf.distribute strategy.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return loss / replicas if replicas > 1 else loss

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "num_layers": self.num_layers,
                "cell": self.cell,
                "dropout": self.dropout,
                "bidirectional": self.bidirectional,
                "shared_softmax": self.shared_softmax,
            }
        )
        return config


def _token_losses(targets, logits):
    # (batch, T - 1); float32 even under mixed precision.
    return keras.losses.sparse_categorical_crossentropy(
        targets, ops.cast(logits, "float32"), from_logits=True
    )


class PretrainedEncoder:
    """The embedding and recurrent weights of a language model, with its vocabulary.

    What `load_encoder` returns and `transfer_encoder` reads: plain numpy
    arrays, no model.

    Args:
        config: dict. The architecture: `vocab_size`, `embedding_dim`, `units`,
            `num_layers`, `cell`, `bidirectional`.
        weights: dict. Layer name (`embedding`, `forward_i`, `backward_i`) to
            the list of its weight arrays, in `layer.get_weights()` order.
        vocabulary: Optional list of the token of every id, `vocab_size` long.

    Example:

    >>> encoder = PretrainedEncoder.from_model(lm, vocabulary=vocab)
    >>> encoder.weights["forward_0"][0].shape                # the kernel
    (64, 512)
    """

    def __init__(self, config, weights, vocabulary=None):
        if vocabulary is not None:
            vocabulary = list(vocabulary)
            if len(vocabulary) != config["vocab_size"]:
                raise ValueError(
                    f"Expected a vocabulary of vocab_size={config['vocab_size']} tokens. "
                    f"Received: {len(vocabulary)} tokens"
                )
        self.config = dict(config)
        self.weights = {name: list(arrays) for name, arrays in weights.items()}
        self.vocabulary = vocabulary

    @classmethod
    def from_model(cls, lm, vocabulary=None):
        """The encoder of a built `BidirectionalLanguageModel`."""
        if not isinstance(lm, BidirectionalLanguageModel):
            raise ValueError(f"Expected a BidirectionalLanguageModel. Received: {lm!r}")
        if not lm.built:
            raise ValueError("Expected a built language model: call it on a batch first.")
        layers = [lm.embedding, *lm.forward_layers, *lm.backward_layers]
        config = {key: getattr(lm, key) for key in _ARCHITECTURE}
        return cls(config, {layer.name: layer.get_weights() for layer in layers}, vocabulary)


def save_encoder(lm, path, vocabulary=None):
    """Writes a language model's encoder as one directory, atomically.

    The directory holds `encoder.json` (format, architecture, vocabulary and
    the weight names and shapes) and `encoder.weights.npz`. It is written
    under a temporary name beside `path` and renamed into place, so `path` is
    never a half-written encoder; an encoder already at `path` is replaced.

    Args:
        lm: A built `BidirectionalLanguageModel`, or a `PretrainedEncoder`.
        path: The directory to write.
        vocabulary: Optional list of the token of every id (`vocab_size`
            strings, padding first), which `transfer_encoder` needs to map the
            embedding into a model with another vocabulary.

    Returns:
        `path`.

    Example:

    >>> save_encoder(lm, "runs/lm/encoder", vocabulary=vocab)
    """
    if isinstance(lm, PretrainedEncoder):
        encoder = lm if vocabulary is None else PretrainedEncoder(lm.config, lm.weights, vocabulary)
    else:
        encoder = PretrainedEncoder.from_model(lm, vocabulary)
    if encoder.vocabulary is not None and not all(isinstance(t, str) for t in encoder.vocabulary):
        raise ValueError("Expected a vocabulary of strings. Received: non-string tokens")
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isfile(os.path.join(path, ENCODER_CONFIG)):
        raise ValueError(f"Expected `path` to be new or an encoder directory. Received: {path}")
    record = {
        "format": _FORMAT,
        "version": 1,
        "config": encoder.config,
        "layers": {
            name: [list(array.shape) for array in arrays]
            for name, arrays in encoder.weights.items()
        },
        "vocabulary": encoder.vocabulary,
    }
    arrays = {
        f"{name}.{i}": array
        for name, layer_arrays in encoder.weights.items()
        for i, array in enumerate(layer_arrays)
    }
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", dir=parent)
    try:
        np.savez(os.path.join(staging, ENCODER_WEIGHTS), **arrays)
        with open(os.path.join(staging, ENCODER_CONFIG), "w") as f:
            json.dump(record, f, indent=2)
        if os.path.exists(path):
            # A directory cannot be renamed over a non-empty one: move the old
            # encoder aside first; `path` is then briefly absent, never partial.
            old = f"{staging}.old"
            os.replace(path, old)
            os.replace(staging, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def load_encoder(path):
    """Reads an encoder written by `save_encoder`.

    Args:
        path: The encoder directory.

    Returns:
        A `PretrainedEncoder`.

    Example:

    >>> encoder = load_encoder("runs/lm/encoder")
    >>> encoder.config["units"], len(encoder.vocabulary)
    (128, 5000)
    """
    path = os.fspath(path)
    config_path = os.path.join(path, ENCODER_CONFIG)
    if not os.path.isfile(config_path):
        raise ValueError(f"Expected an encoder directory with {ENCODER_CONFIG}. Received: {path}")
    with open(config_path) as f:
        record = json.load(f)
    if record.get("format") != _FORMAT:
        raise ValueError(
            f"Expected an encoder written by save_encoder. Received: format={record.get('format')!r}"
        )
    with np.load(os.path.join(path, ENCODER_WEIGHTS)) as data:
        weights = {
            name: [data[f"{name}.{i}"] for i in range(len(shapes))]
            for name, shapes in record["layers"].items()
        }
    return PretrainedEncoder(record["config"], weights, record["vocabulary"])


def transfer_encoder(encoder, model, vocabulary=None, embedding="embedding", layers=None):
    """Copies a pretrained encoder's weights into a built task model.

    By default, for every encoder layer `i`:

    ```
    embedding   -> model.get_layer("embedding")
    forward_i   -> model.get_layer(f"bidirectional_{i}").forward_layer
    backward_i  -> model.get_layer(f"bidirectional_{i}").backward_layer
    forward_i   -> model.get_layer(f"rnn_{i}")       (a unidirectional encoder)
    ```

    where the model's recurrent layers are built like the encoder's:
    `seqlib.layers.Bidirectional(recurrent_layer(cell, units, return_sequences=True),
    name=f"bidirectional_{i}")`. A stack of `Bidirectional` layers feeds both
    directions' outputs (`2 * units`) to the next layer, where the language
    model's stacks each feed their own (`units`): only layer 0 of a deeper
    encoder fits it, and `layers` chooses what goes where.

    With `vocabulary`, the model's embedding may have another size and order:
    the row of each of its tokens that the encoder's vocabulary has is copied,
    the others keep their initialisation. Without it, the two embeddings must
    have the same shape and are copied whole.

    Args:
        encoder: A `PretrainedEncoder` (see `load_encoder`), or a
            `BidirectionalLanguageModel`.
        model: The built task model (call it on a batch first).
        vocabulary: Optional list of the model's token of every id.
        embedding: The model's embedding layer, or its name; `None` to leave
            the embedding alone.
        layers: Optional dict from encoder layer name (`forward_0`, ...) to a
            model layer, a layer name, or `"name.attribute"` (e.g.
            `"bidirectional_0.backward_layer"`); replaces the default mapping
            of the recurrent layers.

    Returns:
        A dict: `"embedding_rows"`, the number of embedding rows copied, and
        `"layers"`, encoder layer name to the path of the layer it went to.

    Raises:
        ValueError: A layer is missing, not built, or its weights' shapes
            differ from the encoder's (the message names both layers); the
            vocabularies are missing or do not match the embeddings.

    Example:

    >>> encoder = load_encoder("runs/lm/encoder")
    >>> classifier(ids[:1])                     # build it
    >>> transfer_encoder(encoder, classifier, vocabulary=classifier_vocab)
    {'embedding_rows': 4870, 'layers': {'forward_0': 'bidirectional_0/forward_lstm', ...}}
    """
    if isinstance(encoder, BidirectionalLanguageModel):
        encoder = PretrainedEncoder.from_model(encoder)
    if not isinstance(encoder, PretrainedEncoder):
        raise ValueError(f"Expected a PretrainedEncoder. Received: encoder={encoder!r}")
    if layers is None:
        layers = {}
        for i in range(encoder.config["num_layers"]):
            if encoder.config["bidirectional"]:
                layers[f"forward_{i}"] = f"bidirectional_{i}.forward_layer"
                layers[f"backward_{i}"] = f"bidirectional_{i}.backward_layer"
            else:
                layers[f"forward_{i}"] = f"rnn_{i}"
    targets = {}
    for name, target in layers.items():
        if name not in encoder.weights or name == "embedding":
            raise ValueError(
                f"Expected an encoder recurrent layer name, one of "
                f"{sorted(set(encoder.weights) - {'embedding'})}. Received: {name!r}"
            )
        targets[name] = _resolve(model, target)
    # Check everything before changing anything.
    for name, target in targets.items():
        _check_shapes(name, encoder.weights[name], target)
    rows = 0
    if embedding is not None:
        layer = _resolve(model, embedding)
        new_rows, rows = _embedding_rows(encoder, layer, vocabulary)
        layer.set_weights([new_rows])
    for name, target in targets.items():
        target.set_weights(encoder.weights[name])
    return {"embedding_rows": rows, "layers": {name: t.path for name, t in targets.items()}}


def _resolve(model, target):
    layer = target if isinstance(target, keras.layers.Layer) else _find(model, target)
    if not layer.weights:
        raise ValueError(
            f"Expected the layer {layer.name!r} to be built: call the model on a batch first."
        )
    return layer


def _find(model, target):
    name, _, attribute = target.partition(".")
    try:
        layer = model.get_layer(name)
    except ValueError:
        raise ValueError(
            f"Expected the model to have a layer named {name!r}. Received: layers "
            f"{[layer.name for layer in model.layers]}"
        ) from None
    if attribute:
        layer = getattr(layer, attribute, None)
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(f"Expected {target!r} to be a layer. Received: {layer!r}")
    return layer


def _check_shapes(name, arrays, target):
    expected = [tuple(array.shape) for array in arrays]
    received = [tuple(w.shape) for w in target.weights]
    if expected != received:
        raise ValueError(
            f"Expected the layer {target.path!r} to have the weight shapes of the encoder's "
            f"{name!r}: {expected}. Received: {received}"
        )


def _embedding_rows(encoder, layer, vocabulary):
    """The model's new embedding matrix and the number of rows copied."""
    (source,) = encoder.weights["embedding"]  # (encoder vocab, dim)
    current = layer.get_weights()
    if len(current) != 1:
        raise ValueError(
            f"Expected {layer.path!r} to be an embedding (one weight). "
            f"Received: {len(current)} weights"
        )
    (target,) = current  # (model vocab, dim)
    if target.shape[1] != source.shape[1]:
        raise ValueError(
            f"Expected the layer {layer.path!r} to have embedding_dim={source.shape[1]}, the "
            f"encoder's. Received: shape {target.shape}"
        )
    if vocabulary is None:
        if target.shape != source.shape:
            raise ValueError(
                f"Expected the layer {layer.path!r} to have the encoder's embedding shape "
                f"{source.shape}, or `vocabulary` to map rows by token. Received: {target.shape}"
            )
        return source, source.shape[0]
    if encoder.vocabulary is None:
        raise ValueError(
            "Expected an encoder saved with its vocabulary to map the embedding by token. "
            "Received: an encoder without one"
        )
    if len(vocabulary) != target.shape[0]:
        raise ValueError(
            f"Expected a vocabulary of {target.shape[0]} tokens, the rows of {layer.path!r}. "
            f"Received: {len(vocabulary)} tokens"
        )
    index = {}
    for i, token in enumerate(encoder.vocabulary):
        index.setdefault(token, i)
    pairs = [(j, index[token]) for j, token in enumerate(vocabulary) if token in index]
    new = target.copy()
    if pairs:
        rows, source_rows = zip(*pairs)
        new[list(rows)] = source[list(source_rows)]
    return new, len(pairs)
