"""Transfer learning: the bidirectional language model, its encoder artifact,
and ULMFiT's fine-tuning devices (slanted triangular rates, discriminative
rates, gradual unfreezing)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlib.models import (
    BidirectionalLanguageModel,
    load_encoder,
    recurrent_layer,
    save_encoder,
    transfer_encoder,
)
from seqlib.training import GradualUnfreezing, SlantedTriangular, TrainConfig, layer_rates, train

VOCAB = ["<pad>", "a", "b", "c", "d", "e"]


def _lm(**kwargs):
    lm = BidirectionalLanguageModel(
        **{"vocab_size": len(VOCAB), "embedding_dim": 4, "units": 5, **kwargs}
    )
    lm(np.zeros((1, 3), "int32"))
    return lm


def _classifier(vocab_size, num_layers=1, units=5, embedding_dim=4, cell="lstm"):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(ids)
    for i in range(num_layers):
        layer = recurrent_layer(cell, units, return_sequences=True)
        x = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(ids, keras.layers.Dense(2, name="head")(x))


def _weights(layer):
    return [w.copy() for w in layer.get_weights()]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# -- the language model --------------------------------------------------------


def test_saved_encoder_transfers_into_a_classifier(tmp_path):
    lm = _lm()
    path = save_encoder(lm, tmp_path / "encoder", vocabulary=VOCAB)
    assert sorted(os.listdir(path)) == ["encoder.json", "encoder.weights.npz"]
    assert [p for p in os.listdir(tmp_path) if p != "encoder"] == []  # no staging left
    encoder = load_encoder(path)
    assert encoder.vocabulary == VOCAB and encoder.config["units"] == 5

    vocabulary = ["<pad>", "c", "zz", "a", "yy", "b", "e"]
    classifier = _classifier(len(vocabulary))
    initial = classifier.get_layer("embedding").get_weights()[0]
    summary = transfer_encoder(encoder, classifier, vocabulary=vocabulary)

    assert summary["embedding_rows"] == 5
    bidirectional = classifier.get_layer("bidirectional_0")
    assert _same(bidirectional.forward_layer.get_weights(), lm.forward_layers[0].get_weights())
    assert _same(bidirectional.backward_layer.get_weights(), lm.backward_layers[0].get_weights())
    rows = classifier.get_layer("embedding").get_weights()[0]
    source = lm.embedding.get_weights()[0]
    np.testing.assert_array_equal(rows[[0, 1, 3, 5, 6]], source[[0, 3, 1, 2, 5]])
    np.testing.assert_array_equal(rows[[2, 4]], initial[[2, 4]])  # unknown words keep theirs

    # Saving again replaces the encoder whole.
    lm.forward_layers[0].set_weights([w + 1 for w in lm.forward_layers[0].get_weights()])
    save_encoder(lm, path, vocabulary=VOCAB)
    assert _same(load_encoder(path).weights["forward_0"], lm.forward_layers[0].get_weights())


def test_transferred_layers_compute_the_language_model_states():
    # The classifier's Bidirectional reads the sequence as the LM's two stacks
    # do, padding included, so the copied weights mean the same thing.
    lm = _lm(dropout=0.3)
    classifier = _classifier(len(VOCAB))
    transfer_encoder(lm, classifier)
    features = keras.Model(classifier.input, classifier.get_layer("bidirectional_0").output)
    ids = np.array([[1, 2, 3, 4, 0, 0], [5, 4, 3, 2, 1, 2]], "int32")
    states = lm.encode(ids)
    expected = np.concatenate([states["forward"], states["backward"]], axis=-1)
    np.testing.assert_allclose(features(ids), expected, atol=1e-6)
    # Padding changes nothing at the tokens.
    short = lm.encode(ids[:1, :4])
    for direction in ("forward", "backward"):
        np.testing.assert_allclose(states[direction][:1, :4], short[direction], atol=1e-6)


def test_language_model_round_trips_through_a_keras_file(tmp_path):
    lm = _lm(num_layers=2, shared_softmax=False)
    ids = np.array([[1, 2, 3, 0]], "int32")
    lm.save(tmp_path / "lm.keras")
    restored = keras.saving.load_model(tmp_path / "lm.keras")
    assert restored.get_config() == lm.get_config()
    for direction, logits in lm(ids).items():
        np.testing.assert_allclose(restored(ids)[direction], logits, atol=1e-6)
    with pytest.raises(ValueError, match="targets"):
        lm.compute_loss(ids, ids, lm(ids))


def test_transfer_names_the_layer_whose_shapes_differ():
    lm = _lm(num_layers=2)
    classifier = _classifier(len(VOCAB), num_layers=2)
    before = _weights(classifier.get_layer("embedding"))
    # A stacked Bidirectional feeds 2 * units to its second layer; the LM's stack, units.
    with pytest.raises(ValueError, match="forward_1"):
        transfer_encoder(lm, classifier)
    assert _same(classifier.get_layer("embedding").get_weights(), before)  # nothing copied
    with pytest.raises(ValueError, match="forward_0"):
        transfer_encoder(_lm(), _classifier(len(VOCAB), units=6))
    with pytest.raises(ValueError, match="vocabulary"):
        transfer_encoder(_lm(), _classifier(len(VOCAB) + 1))


def test_language_model_trains_and_backward_predicts_the_previous_token():
    # Pairs (f(b), b): b in 1..8 at random, f(b) = 9 + (b - 1) // 2 in 9..12.
    # The token before a b is f(b), known; the token after an f(b) is one of
    # two b's, a coin toss.
    rng = np.random.default_rng(0)
    b = rng.integers(1, 9, size=(256, 3))
    ids = np.stack([9 + (b - 1) // 2, b], axis=-1).reshape(256, 6).astype("int32")
    lm = BidirectionalLanguageModel(vocab_size=13, embedding_dim=8, units=16)
    lm.compile(optimizer=keras.optimizers.Adam(0.02), jit_compile=False)
    history = lm.fit(ids, batch_size=32, epochs=8, verbose=0).history
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert "perplexity" in history

    logits = lm(ids[:64])
    previous = np.argmax(logits["backward"][:, 1::2], axis=-1)  # at each b: the token before
    following = np.argmax(logits["forward"][:, 0::2], axis=-1)  # at each f(b): the token after
    assert np.mean(previous == ids[:64, 0::2]) > 0.95
    assert np.mean(following == ids[:64, 1::2]) < 0.8


def test_forward_only_language_model_trains_under_the_runner(tmp_path):
    ids = np.tile(np.array([[1, 2, 3, 4, 5, 1, 2, 3, 0, 0]], "int32"), (16, 1))
    result = train(
        lambda: BidirectionalLanguageModel(6, embedding_dim=4, units=8, bidirectional=False),
        tf.data.Dataset.from_tensor_slices(ids).batch(8),
        TrainConfig(epochs=3, learning_rate=0.05),
        tmp_path / "run",
        verbose=0,
    )
    assert set(result.model(ids[:1])) == {"forward"}
    assert result.history["loss"][-1] < result.history["loss"][0]
    np.testing.assert_allclose(
        result.history["perplexity"][-1], np.exp(result.history["loss"][-1]), rtol=1e-4
    )


# -- the learning-rate schedule ------------------------------------------------


def _slanted(t, max_lr, total, cut_frac, ratio):
    cut = np.floor(total * cut_frac)
    p = np.where(t < cut, t / cut, 1 - (t - cut) / (cut * (1 / cut_frac - 1)))
    return max_lr * (1 + np.maximum(p, 0) * (ratio - 1)) / ratio


def test_slanted_triangular_rises_then_decays():
    schedule = SlantedTriangular(0.01, total_steps=200, cut_frac=0.1, ratio=32)
    steps = np.arange(0, 260)
    values = np.array([float(schedule(t)) for t in steps])
    np.testing.assert_allclose(values, _slanted(steps, 0.01, 200, 0.1, 32), rtol=1e-6)
    np.testing.assert_allclose(values[[0, 20, 200, 259]], [0.01 / 32, 0.01, 0.01 / 32, 0.01 / 32])
    np.testing.assert_allclose(values[10], 0.01 * (1 + 0.5 * 31) / 32, rtol=1e-6)
    assert np.all(np.diff(values[:21]) > 0) and np.all(np.diff(values[20:201]) < 0)
    np.testing.assert_allclose(np.diff(values[:21]), np.diff(values[:21])[0], rtol=1e-4)
    # On a step variable, as the optimizer calls it.
    np.testing.assert_allclose(schedule(keras.Variable(110, dtype="int64")), values[10], rtol=1e-6)
    for bad in ({"total_steps": 5}, {"cut_frac": 1.0}, {"ratio": 0.5}, {"total_steps": 0}):
        with pytest.raises(ValueError):
            SlantedTriangular(0.01, **{"total_steps": 200, **bad})


def test_slanted_triangular_round_trips():
    schedule = SlantedTriangular(0.02, total_steps=50, cut_frac=0.2, ratio=8)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert isinstance(restored, SlantedTriangular)
    assert restored.get_config() == schedule.get_config()
    optimizer = keras.optimizers.AdamW.from_config(
        keras.optimizers.AdamW(learning_rate=schedule).get_config()
    )
    assert optimizer.learning_rate.numpy() == pytest.approx(float(schedule(0)))
    assert float(restored(17)) == float(schedule(17))


# -- discriminative rates and gradual unfreezing -------------------------------


def _mlp():
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, name="bottom"),
            keras.layers.Dense(4, name="middle"),
            keras.layers.Dense(1, name="top"),
        ]
    )
    return model, [model.get_layer(name) for name in ("bottom", "middle", "top")]


def test_discriminative_rates_scale_each_group_update():
    model, groups = _mlp()
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    multipliers = layer_rates(optimizer, groups, decay=2.0)
    np.testing.assert_array_equal([float(m) for m in multipliers], [0.25, 0.5, 1.0])
    model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 1)).astype("float32")
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, model(x))
    gradients = tape.gradient(loss, model.trainable_variables)
    before = [v.numpy() for v in model.trainable_variables]
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    rate = {id(v): 0.1 * m for g, m in zip(groups, (0.25, 0.5, 1.0)) for v in g.trainable_variables}
    for v, old, gradient in zip(model.trainable_variables, before, gradients):
        np.testing.assert_allclose(v.numpy() - old, -rate[id(v)] * gradient.numpy(), atol=1e-7)


def test_rates_of_one_give_keras_own_adamw_updates():
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(16, 1)).astype("float32")
    results = []
    for with_rates in (False, True):
        keras.utils.set_random_seed(7)
        model, groups = _mlp()
        optimizer = keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1)
        if with_rates:
            layer_rates(optimizer, groups, decay=1.0)
        model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        results.append(model.get_weights())
    assert _same(*results)


def _unfreezing_data():
    rng = np.random.default_rng(0)
    return rng.integers(1, 8, size=(16, 5)).astype("int32"), rng.integers(0, 2, size=(16,))


def _compiled_classifier():
    model = _classifier(8)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    return model


GROUPS = ["embedding", "bidirectional_0", "head"]


class _Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epochs[epoch] = {name: _weights(self.model.get_layer(name)) for name in GROUPS}


def test_gradual_unfreezing_moves_only_the_unfrozen_groups():
    x, y = _unfreezing_data()
    model = _compiled_classifier()
    initial = {name: _weights(model.get_layer(name)) for name in GROUPS}
    record = _Record()
    model.fit(
        x, y, batch_size=8, epochs=1, verbose=0, callbacks=[GradualUnfreezing(GROUPS), record]
    )
    # Resumed at epoch 1 by a new callback: the state comes from the epoch number.
    unfreezing = GradualUnfreezing(GROUPS)
    model.fit(
        x, y, batch_size=8, initial_epoch=1, epochs=3, verbose=0, callbacks=[unfreezing, record]
    )
    np.testing.assert_allclose([float(m) for m in unfreezing.multipliers], [2.6**-2, 2.6**-1, 1])

    epochs = record.epochs
    # Bit for bit, AdamW's weight decay included.
    assert _same(epochs[0]["embedding"], initial["embedding"])
    assert _same(epochs[0]["bidirectional_0"], initial["bidirectional_0"])
    assert not _same(epochs[0]["head"], initial["head"])
    assert _same(epochs[1]["embedding"], initial["embedding"])
    assert not _same(epochs[1]["bidirectional_0"], epochs[0]["bidirectional_0"])
    assert not _same(epochs[2]["embedding"], initial["embedding"])


def test_gradual_unfreezing_under_the_runner_resumes(tmp_path):
    x, y = _unfreezing_data()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    initial = {}

    def build_model():
        model = _classifier(8)
        initial.setdefault("weights", {name: _weights(model.get_layer(name)) for name in GROUPS})
        return model

    def run(epochs, resume):
        return train(
            build_model,
            data,
            TrainConfig(epochs=epochs, optimizer="adamw", weight_decay=0.1, learning_rate=0.01),
            tmp_path / "run",
            compile_kwargs={"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
            resume=resume,
            callbacks=[GradualUnfreezing(GROUPS)],
            verbose=0,
        ).model

    model = run(1, resume=False)
    first = initial["weights"]
    assert _same(_weights(model.get_layer("bidirectional_0")), first["bidirectional_0"])
    assert not _same(_weights(model.get_layer("head")), first["head"])
    model = run(2, resume=True)
    assert _same(_weights(model.get_layer("embedding")), first["embedding"])
    assert not _same(_weights(model.get_layer("bidirectional_0")), first["bidirectional_0"])


def test_a_train_config_names_the_slanted_triangular_schedule():
    from seqlib.training import TrainConfig, make_learning_rate

    schedule = make_learning_rate(
        TrainConfig(lr_schedule="slanted_triangular", learning_rate=0.01, epochs=2), 50
    )
    assert isinstance(schedule, SlantedTriangular)
    assert float(schedule(10)) == pytest.approx(0.01)  # the peak: 10% of 100 steps
    assert float(schedule(100)) == pytest.approx(0.01 / 32)
