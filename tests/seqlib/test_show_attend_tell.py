"""ShowAttendTell: teacher forcing equals step-by-step decoding, the doubly
stochastic regulariser equals its formula, it learns a toy grid task, and it
saves and exports."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlib.models import ShowAttendTell

VOCAB, START, END = 12, 1, 2


def _model(cell="gru", **kwargs):
    return ShowAttendTell(
        VOCAB, encoder=None, embedding_dim=8, units=16, attention_units=8, cell=cell,
        start_id=START, end_id=END, **kwargs,
    )  # fmt: skip


def _batch(batch=3, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(batch, 3, 3, 5)).astype("float32")
    target_in = np.concatenate(
        [np.full((batch, 1), START), rng.integers(3, VOCAB, (batch, 5))], axis=1
    ).astype("int32")
    target_in[0, 4:] = 0  # padding
    return features, target_in


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_teacher_forcing_equals_the_decoder_step(cell):
    model = _model(cell)
    features, target_in = _batch()
    logits, alpha = model((features, target_in), return_attention=True)
    assert logits.shape == (3, 6, VOCAB) and alpha.shape == (3, 6, 9)
    np.testing.assert_allclose(np.sum(alpha, axis=-1), 1.0, atol=1e-5)
    state = model.initial_decoder_state(features)
    for t in range(target_in.shape[1]):
        step, state = model.decoder_step(tf.constant(target_in[:, t]), state, t)
        np.testing.assert_allclose(step, logits[:, t], atol=1e-5)


def test_doubly_stochastic_penalty_is_the_formula():
    model = _model(doubly_stochastic=0.7)
    features, target_in = _batch()
    model((features, target_in), training=False)
    assert not model.losses
    _, alpha = model((features, target_in), return_attention=True)
    model((features, target_in), training=True)
    real = (target_in != 0).astype("float32")
    real[:, 0] = 1.0
    coverage = np.sum(np.asarray(alpha) * real[:, :, None], axis=1)
    expected = 0.7 * np.mean(np.sum((1.0 - coverage) ** 2, axis=-1))
    assert len(model.losses) == 1
    np.testing.assert_allclose(float(model.losses[0]), expected, rtol=1e-5)


def test_word_dropout_hides_input_words_in_training_only():
    features, target_in = _batch(batch=64)
    target_in[:, 3] = 0  # a padded position stays padding
    model = _model(word_dropout=0.5, unk_id=11, seed=3, doubly_stochastic=0.0)
    plain = _model(doubly_stochastic=0.0)
    model((features, target_in))
    plain((features, target_in))
    plain.set_weights(model.get_weights())
    # Inference and teacher forcing without training see every word.
    np.testing.assert_allclose(
        model((features, target_in), training=False), plain((features, target_in)), atol=1e-6
    )
    # In training, the model sees what `plain` sees with about half the words
    # (never the start token, never padding) replaced by the unknown word.
    trained = np.asarray(model((features, target_in), training=True))
    # The logits of a row differ from the plain model's from its first hidden word on.
    full = np.asarray(plain((features, target_in)))
    changed = ~np.isclose(trained, full, atol=1e-6).all(axis=-1)  # (batch, T)
    assert not changed[:, 0].any()  # the start token is never hidden
    first = changed.argmax(axis=1)[changed.any(axis=1)]
    assert np.all(target_in[changed.any(axis=1), first] != 0)  # nor is padding
    share = changed.any(axis=1).mean()
    assert 0.8 < share < 1.0  # 1 - 0.5 ** 4 real words per row, about 0.94
    with pytest.raises(ValueError, match="unk_id"):
        _model(word_dropout=0.1)
    config = model.get_config()
    assert (config["word_dropout"], config["unk_id"], config["seed"]) == (0.5, 11, 3)


def test_learns_to_name_the_bright_cell_and_decodes_it():
    """Each 'image' is a 3 x 3 grid with one bright cell; the caption is the
    cell's row word then its column word: attention must find the cell."""
    rng = np.random.default_rng(1)
    n = 600
    cells = rng.integers(0, 9, n)
    features = rng.normal(scale=0.1, size=(n, 3, 3, 4)).astype("float32")
    features[np.arange(n), cells // 3, cells % 3, 0] += 3.0
    target = np.stack([3 + cells // 3, 6 + cells % 3, np.full(n, END)], axis=1)
    target_in = np.concatenate([np.full((n, 1), START), target[:, :-1]], axis=1)
    keras.utils.set_random_seed(0)
    model = _model(doubly_stochastic=0.1)
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit((features, target_in), target, batch_size=50, epochs=30, verbose=0)
    result = model.generate(features[:100], method="greedy", max_length=4)
    accuracy = np.mean(np.all(result.ids.numpy()[:, :3] == target[:100], axis=1))
    assert accuracy > 0.9
    beam = model.generate(features[:100], method="beam", beam_width=3, max_length=4)
    assert np.mean(np.all(beam.ids.numpy()[:, 0, :3] == target[:100], axis=1)) > 0.9


def test_keras_file_round_trip_with_an_encoder(tmp_path):
    encoder = keras.Sequential(
        [keras.layers.Conv2D(4, 3, padding="same", activation="relu"), keras.layers.MaxPool2D()]
    )
    model = ShowAttendTell(VOCAB, encoder=encoder, embedding_dim=8, units=16, attention_units=8)
    images = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    target_in = np.array([[1, 4, 5], [1, 6, 0]], "int32")
    expected = model((images, target_in))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded((images, target_in)), expected, atol=1e-6)


GROUPS = [{"tokens": [3, 4, 5], "features": [0, 2]}, {"tokens": [6, 7], "features": [2, 5]}]


def test_output_groups_choose_their_words_from_their_channels_alone(tmp_path):
    model = _model(positions=False, output_groups=GROUPS)
    features, target_in = _batch()
    log_probs = np.asarray(model((features, target_in)))  # (3, 6, VOCAB)
    np.testing.assert_allclose(np.log(np.exp(log_probs).sum(-1)), 0.0, atol=1e-5)

    def within(log_probs, tokens):
        chosen = log_probs[..., tokens]
        return chosen - np.log(np.exp(chosen).sum(-1, keepdims=True))

    # Group 0's words given the group depend on channels 0:2 of the attended
    # features only: the previous words and the other channels change nothing
    # but where the decoder looks. With one grid cell, it always looks there.
    one_cell = features[:, :1, :1]  # (3, 1, 1, 5)
    other_words = target_in.copy()
    other_words[:, 1:] = (target_in[:, 1:] + 5) % VOCAB
    other_channels = one_cell.copy()
    other_channels[..., 2:] = -one_cell[..., 2:]
    reference = np.asarray(model((one_cell, target_in)))
    for images, words in ((one_cell, other_words), (other_channels, target_in)):
        changed = np.asarray(model((images, words)))
        np.testing.assert_allclose(
            within(changed, [3, 4, 5]), within(reference, [3, 4, 5]), atol=1e-5
        )
        assert not np.allclose(changed, reference, atol=1e-5)  # the grammar part moves
    # Channels 0:2 do move group 0's words.
    own_channels = one_cell.copy()
    own_channels[..., :2] = -one_cell[..., :2]
    changed = np.asarray(model((own_channels, target_in)))
    assert not np.allclose(within(changed, [3, 4, 5]), within(reference, [3, 4, 5]), atol=1e-4)

    path = tmp_path / "grouped.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.output_groups == GROUPS
    np.testing.assert_allclose(np.asarray(loaded((features, target_in))), log_probs, atol=1e-5)


@pytest.mark.parametrize(
    "groups, message",
    [
        ([{"tokens": [3, 4], "features": [0, 2]}, {"tokens": [4], "features": [2, 3]}], "disjoint"),
        ([{"tokens": [3, VOCAB], "features": [0, 2]}], "below vocab_size"),
        ([{"tokens": [], "features": [0, 2]}], "with tokens"),
        ([{"tokens": [3], "features": [2, 2]}], "start < stop"),
    ],
)
def test_bad_output_groups_are_refused(groups, message):
    with pytest.raises(ValueError, match=message):
        _model(output_groups=groups)


def test_an_output_group_beyond_the_features_is_refused():
    model = _model(positions=False, output_groups=[{"tokens": [3], "features": [0, 9]}])
    with pytest.raises(ValueError, match="channels 0:9; the encoder gives 5"):
        model(_batch())
