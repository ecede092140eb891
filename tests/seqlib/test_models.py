"""seqlib.models: the encoder-decoder and the language model.

The central checks: the teacher-forced forward pass equals the one-step
function that decoding drives (so what is trained is what is decoded), and
the stateful paths equal one pass over the whole sequence."""

import numpy as np
import pytest
import tensorflow as tf

from seqlib.models import LanguageModel, Seq2Seq

SRC_VOCAB, TGT_VOCAB = 20, 25


def _batch(batch=3, src_len=6, tgt_len=5, seed=0):
    rng = np.random.default_rng(seed)
    source = rng.integers(3, SRC_VOCAB, (batch, src_len)).astype("int32")
    source[0, 4:] = 0  # right padding
    source[1, 5:] = 0
    target_in = rng.integers(3, TGT_VOCAB, (batch, tgt_len)).astype("int32")
    target_in[:, 0] = 1  # start id
    return source, target_in


def _model(**kwargs):
    config = dict(embedding_dim=8, units=6, encoder_layers=2, decoder_layers=2)
    config.update(kwargs)
    model = Seq2Seq(SRC_VOCAB, TGT_VOCAB, **config)
    model(_batch())
    return model


def _stepwise_logits(model, source, target_in):
    state = model.initial_decoder_state(source)
    logits = []
    for t in range(target_in.shape[1]):
        step_logits, state = model.decoder_step(target_in[:, t], state, t)
        logits.append(step_logits)
    return np.stack(logits, axis=1)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize(
    "attention,input_feeding",
    [("bahdanau", True), ("bahdanau", False), ("luong", True), ("luong", False), (None, False)],
)
def test_teacher_forcing_equals_decoder_steps(cell, attention, input_feeding):
    model = _model(cell=cell, attention=attention, input_feeding=input_feeding)
    source, target_in = _batch()
    logits = model((source, target_in))
    assert logits.shape == (3, 5, TGT_VOCAB)
    np.testing.assert_allclose(_stepwise_logits(model, source, target_in), logits, atol=1e-5)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_unequal_depths_and_directions(bidirectional):
    model = _model(encoder_layers=3, decoder_layers=1, bidirectional=bidirectional)
    source, target_in = _batch()
    np.testing.assert_allclose(
        _stepwise_logits(model, source, target_in), model((source, target_in)), atol=1e-5
    )


def test_source_padding_is_masked():
    model = _model()
    source, target_in = _batch()
    padded = np.pad(source, ((0, 0), (0, 4)))
    logits, weights = model((source, target_in), return_attention=True)
    padded_logits, padded_weights = model((padded, target_in), return_attention=True)
    np.testing.assert_allclose(padded_logits, logits, atol=1e-5)
    np.testing.assert_array_equal(padded_weights[:, :, 6:], 0.0)
    np.testing.assert_array_equal(weights[0, :, 4:], 0.0)
    np.testing.assert_allclose(np.sum(weights, axis=-1), 1.0, atol=1e-5)


def test_reverse_source_reverses_within_length():
    source, target_in = _batch()
    reversed_model = _model(reverse_source=True)
    plain = _model(reverse_source=False)
    plain.set_weights(reversed_model.get_weights())
    lengths = (source != 0).sum(axis=1)
    manual = source.copy()
    for b, n in enumerate(lengths):
        manual[b, :n] = source[b, :n][::-1]

    logits, weights = reversed_model((source, target_in), return_attention=True)
    plain_logits, plain_weights = plain((manual, target_in), return_attention=True)
    np.testing.assert_allclose(logits, plain_logits, atol=1e-6)
    # The weights come back in the order of the source as given.
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(
            weights[b, :, :n], plain_weights.numpy()[b, :, :n][:, ::-1], atol=1e-6
        )


def test_no_attention_model_has_no_weights_to_show():
    model = _model(attention=None)
    assert not any("attention" in w.path for w in model.weights)
    with pytest.raises(ValueError, match="no attention"):
        model(_batch(), return_attention=True)


@pytest.mark.parametrize("input_feeding", [True, False])
def test_training_step_updates_every_weight(input_feeding):
    model = _model(input_feeding=input_feeding, dropout=0.1)
    source, target_in = _batch()
    target_out = np.roll(target_in, -1, axis=1)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def grads():
        with tf.GradientTape() as tape:
            loss = loss_fn(target_out, model((source, target_in), training=True))
        return tape.gradient(loss, model.trainable_weights)

    for weight, grad in zip(model.trainable_weights, grads()):
        assert grad is not None, weight.path
        assert np.any(tf.convert_to_tensor(grad).numpy() != 0), weight.path


def test_learns_to_copy():
    # A copy task: the decoder must read the source through attention.
    rng = np.random.default_rng(1)
    source = rng.integers(3, 10, (512, 5)).astype("int32")
    target_in = np.concatenate([np.ones((512, 1), "int32"), source], axis=1)
    target_out = np.concatenate([source, np.full((512, 1), 2, "int32")], axis=1)
    model = Seq2Seq(10, 10, embedding_dim=16, units=32, attention="luong")
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.01),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit((source, target_in), target_out, batch_size=64, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.25 * history.history["loss"][0]
    result = model.generate(source[:32], method="greedy", max_length=6)
    accuracy = np.mean(result.ids.numpy()[:, :5] == source[:32])
    assert accuracy > 0.9, accuracy


def test_generate_greedy_matches_argmax_of_steps():
    model = _model()
    source, _ = _batch()
    result = model.generate(source, method="greedy", max_length=6)
    state = model.initial_decoder_state(source)
    ids = np.full((3,), 1, "int32")
    done = np.zeros(3, bool)
    for t in range(6):
        logits, state = model.decoder_step(ids, state, t)
        ids = np.argmax(logits, axis=-1).astype("int32")
        expected = np.where(done, model.end_id, ids)
        np.testing.assert_array_equal(result.ids.numpy()[:, t], expected)
        done |= ids == model.end_id


def test_generate_in_a_graph_with_unknown_batch():
    model = _model()
    source, _ = _batch()

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)])
    def beam(source):
        return model.generate(source, method="beam", beam_width=3, max_length=7).ids

    ids = beam(tf.constant(source))
    assert ids.shape == (3, 3, 7)
    np.testing.assert_array_equal(
        ids, model.generate(source, method="beam", beam_width=3, max_length=7).ids
    )


def test_beam_search_with_a_logit_bias_matches_brute_force_on_the_biased_model():
    """A small target vocabulary, so every hypothesis can be scored: with a bias
    the beam's scores are the log-probabilities of the biased distribution, its
    hypotheses the best of them, and a `-1e9` bias keeps a token out entirely."""
    import itertools

    vocab, end, max_length, alpha = 5, 3, 3, 0.6
    model = Seq2Seq(SRC_VOCAB, vocab, embedding_dim=8, units=6, start_id=2, end_id=end)
    source = _batch(batch=2)[0]
    model((source, np.full((2, 1), 2, "int32")))
    bias = np.array([-1e9, -2.0, -1e9, 0.0, 0.5], "float32")  # no pad, no start; 1 is rarer

    def log_prob(row, tokens):
        state = model.initial_decoder_state(source[row : row + 1])
        total, previous = 0.0, 2
        for t, token in enumerate(tokens):
            logits, state = model.decoder_step(np.array([previous], "int32"), state, t)
            total += float(tf.nn.log_softmax(logits[0] + bias)[token])
            previous = token
        return total

    words = [1, 4]  # the tokens the bias allows, besides the end
    hypotheses = [
        [*prefix, end] for n in range(max_length) for prefix in itertools.product(words, repeat=n)
    ] + [list(p) for p in itertools.product(words, repeat=max_length)]
    result = model.generate(
        source,
        method="beam",
        beam_width=4,
        max_length=max_length,
        length_penalty=alpha,
        logit_bias=bias,
    )
    for row in range(2):
        scored = sorted(
            ((log_prob(row, h) / ((5 + len(h)) / 6) ** alpha, h) for h in hypotheses),
            key=lambda x: -x[0],
        )[:4]
        np.testing.assert_allclose(result.scores[row], [s for s, _ in scored], atol=1e-4)
        for j, (_, tokens) in enumerate(scored):
            assert result.ids[row, j, : result.lengths[row, j]].numpy().tolist() == tokens
    assert not np.isin(result.ids.numpy(), [0, 2]).any()
    greedy = model.generate(source, method="greedy", max_length=6, logit_bias=bias)
    assert not np.isin(greedy.ids.numpy(), [0, 2]).any()


@pytest.mark.parametrize("attention", ["bahdanau", None])
def test_keras_file_round_trip(tmp_path, attention):
    model = _model(attention=attention, reverse_source=True, cell="gru")
    source, target_in = _batch()
    path = tmp_path / "model.keras"
    model.save(path)
    restored = tf.keras.models.load_model(path)
    assert restored.get_config() == model.get_config()
    np.testing.assert_allclose(restored((source, target_in)), model((source, target_in)))


def test_invalid_configs_are_refused():
    with pytest.raises(ValueError, match="attention"):
        Seq2Seq(5, 5, attention="cosine")
    with pytest.raises(ValueError, match="even"):
        Seq2Seq(5, 5, units=7, bidirectional=True)
    with pytest.raises(ValueError, match="cell"):
        Seq2Seq(5, 5, cell="transformer")
    with pytest.raises(ValueError, match="method"):
        _model().generate(_batch()[0], method="viterbi")


# -- language model --------------------------------------------------------


def _lm(**kwargs):
    config = dict(vocab_size=11, embedding_dim=5, units=7, num_layers=2)
    config.update(kwargs)
    return LanguageModel(**config)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_language_model_steps_equal_the_fused_pass(cell):
    model = _lm(cell=cell)
    ids = np.random.default_rng(0).integers(0, 11, (3, 9)).astype("int32")
    logits = model(ids)
    state = model.initial_state(3)
    for t in range(9):
        step_logits, state = model.step(ids[:, t], state)
        np.testing.assert_allclose(step_logits, logits[:, t], atol=1e-5)


def test_truncated_bptt_carries_the_state():
    # Two windows with the state carried, explicitly or by stateful layers,
    # equal one pass over the whole sequence.
    ids = np.random.default_rng(0).integers(0, 11, (2, 12)).astype("int32")
    model = _lm()
    whole = model(ids)
    first, state = model(ids[:, :5], return_state=True)
    second = model(ids[:, 5:], initial_state=state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-5)

    stateful = _lm(stateful=True)
    stateful.build((2, None))
    stateful.set_weights(model.get_weights())
    windows = [stateful(ids[:, :5]), stateful(ids[:, 5:])]
    np.testing.assert_allclose(np.concatenate(windows, axis=1), whole, atol=1e-5)
    stateful.reset_states()
    np.testing.assert_allclose(stateful(ids[:, :5]), whole[:, :5], atol=1e-5)


def test_prime_then_greedy_generation_continues_the_prefix():
    model = _lm()
    prefix = np.array([[3, 4, 5], [6, 7, 8]], "int32")
    result = model.generate(prefix, length=6, temperature=0.0)
    assert result.ids.shape == (2, 6)
    # Greedy continuation by hand: feed the prefix, then the argmax each time.
    sequence = prefix.copy()
    for _ in range(6):
        nxt = np.argmax(model(sequence)[:, -1], axis=-1).astype("int32")
        sequence = np.concatenate([sequence, nxt[:, None]], axis=1)
    np.testing.assert_array_equal(result.ids, sequence[:, 3:])


def test_generation_stops_at_the_end_id():
    model = _lm()
    prefix = np.array([[3, 4, 5], [6, 7, 8]], "int32")
    free = model.generate(prefix, length=8, temperature=1.0, seed=4)
    end_id = int(free.ids[0, 2])  # a token the first sequence draws at step 2
    stopped = model.generate(prefix, length=8, temperature=1.0, seed=4, end_id=end_id)
    for row in range(2):
        ids = list(free.ids[row].numpy())
        length = ids.index(end_id) + 1 if end_id in ids else 8
        assert int(stopped.lengths[row]) == length
        np.testing.assert_array_equal(stopped.ids[row, :length], ids[:length])
        assert set(stopped.ids[row, length:].numpy()) <= {end_id}
    assert int(stopped.lengths[0]) <= 3


def test_prime_does_not_touch_stateful_layers():
    model = _lm(stateful=True)
    model.build((2, None))
    before = [s.numpy().copy() for layer in model.rnns for s in layer.states]
    model.prime(np.array([[1, 2, 3], [4, 5, 6]], "int32"))
    after = [s.numpy() for layer in model.rnns for s in layer.states]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_language_model_round_trip(tmp_path):
    model = _lm(cell="gru", dropout=0.1)
    ids = np.random.default_rng(0).integers(0, 11, (2, 6)).astype("int32")
    model(ids)
    model.save(tmp_path / "lm.keras")
    restored = tf.keras.models.load_model(tmp_path / "lm.keras")
    np.testing.assert_allclose(restored(ids), model(ids), atol=1e-6)


@pytest.mark.parametrize("policy,jit_compile", [("float32", True), ("mixed_float16", False)])
def test_seq2seq_trains_compiled_and_in_mixed_precision(policy, jit_compile):
    import keras

    source, target_in = _batch(batch=8)
    target_out = np.roll(target_in, -1, axis=1)
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = Seq2Seq(SRC_VOCAB, TGT_VOCAB, embedding_dim=8, units=6, reverse_source=True)
        model((source, target_in))
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_compile,
        )
        before = [w.numpy().copy() for w in model.trainable_weights]
        history = model.fit((source, target_in), target_out, batch_size=4, epochs=1, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(history.history["loss"][0])
    assert model.output_projection.compute_dtype == (
        "float16" if policy != "float32" else "float32"
    )
    for b, w in zip(before, model.trainable_weights):
        assert np.any(b != w.numpy()), w.path
