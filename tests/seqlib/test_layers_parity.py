"""Parity of seqlib.layers with keras.layers: outputs, gradients and configs.

Every check builds the same graph twice, once around the keras layer and once
around ours, gives both the same (random, biases included) weights and compares
the outputs and the gradients of one loss w.r.t. the inputs and every trainable
weight.
"""

import copy

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqlib.cells
import seqlib.layers

BATCH, TIME, INPUT, UNITS = 3, 5, 4, 6
ATOL = 1e-5

# Right-padded: full row, length 3, length 1.
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=bool)

# name -> (class name in keras.layers and seqlib.layers, constructor kwargs, number of states)
KINDS = {
    "simple_rnn": ("SimpleRNN", {}, 1),
    "gru_reset_after": ("GRU", {"reset_after": True}, 1),
    "gru_reset_before": ("GRU", {"reset_after": False}, 1),
    "lstm": ("LSTM", {}, 2),
}


def _maker(module, kind):
    class_name, kwargs, _ = KINDS[kind]
    cls = getattr(module, class_name)
    return lambda **extra: cls(UNITS, **kwargs, **extra)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=(BATCH, TIME, INPUT)).astype("float32"),
        "mask": MASK,
        "empty_row_mask": MASK * np.array([[1], [1], [0]], dtype=bool),  # row 2: no step at all
        "padded": (rng.normal(size=(BATCH, TIME, INPUT)) * MASK[..., None]).astype("float32"),
        "ids": rng.integers(1, 10, size=(BATCH, TIME)) * MASK,
        "h0": rng.normal(size=(BATCH, UNITS)).astype("float32"),
        "c0": rng.normal(size=(BATCH, UNITS)).astype("float32"),
    }


def _seq():
    return keras.Input((TIME, INPUT), name="x")


def _mask():
    return keras.Input((TIME,), dtype="bool", name="mask")


# ---------------------------------------------------------------- scenarios
# Each builds a functional model around `make(**layer_kwargs)` and names its inputs.


def _plain(make, n_states):
    x = _seq()
    return keras.Model(x, make()(x)), ["x"]


def _sequences(make, n_states):
    x = _seq()
    return keras.Model(x, make(return_sequences=True)(x)), ["x"]


def _mask_argument(make, n_states):
    x, m = _seq(), _mask()
    return keras.Model([x, m], make(return_sequences=True)(x, mask=m)), ["x", "mask"]


def _masking_layer(make, n_states):
    x = _seq()
    y = make(return_sequences=True)(keras.layers.Masking(0.0)(x))
    return keras.Model(x, y), ["padded"]


def _embedding_mask(make, n_states):
    ids = keras.Input((TIME,), dtype="int32")
    y = make()(keras.layers.Embedding(10, INPUT, mask_zero=True)(ids))
    return keras.Model(ids, y), ["ids"]


def _go_backwards(make, n_states):
    x = _seq()
    return keras.Model(x, make(go_backwards=True)(x)), ["x"]


def _go_backwards_mask(make, n_states):
    x, m = _seq(), _mask()
    y = make(go_backwards=True, return_sequences=True)(x, mask=m)
    return keras.Model([x, m], y), ["x", "mask"]


def _return_state(make, n_states):
    x = _seq()
    return keras.Model(x, make(return_state=True)(x)), ["x"]


def _sequences_and_state_mask(make, n_states):
    x, m = _seq(), _mask()
    y = make(return_sequences=True, return_state=True)(x, mask=m)
    return keras.Model([x, m], y), ["x", "mask"]


def _initial_state(make, n_states):
    x = _seq()
    states = [keras.Input((UNITS,), name=n) for n in ("h0", "c0")[:n_states]]
    y = make(return_sequences=True, return_state=True)(x, initial_state=states)
    return keras.Model([x, *states], y), ["x", "h0", "c0"][: 1 + n_states]


def _bidirectional_concat(make, n_states):
    x = _seq()
    y = keras.layers.Bidirectional(make(), merge_mode="concat")(x)
    return keras.Model(x, y), ["x"]


def _bidirectional_state(make, n_states):
    x, m = _seq(), _mask()
    y = keras.layers.Bidirectional(make(return_state=True), merge_mode="sum")(x, mask=m)
    return keras.Model([x, m], y), ["x", "mask"]


def _empty_row_mask(make, n_states):
    x, m = _seq(), _mask()
    y = make(return_sequences=True, return_state=True)(x, mask=m)
    return keras.Model([x, m], y), ["x", "empty_row_mask"]


def _bidirectional_sequences_mask(make, n_states):
    x, m = _seq(), _mask()
    y = keras.layers.Bidirectional(make(return_sequences=True))(x, mask=m)
    return keras.Model([x, m], y), ["x", "mask"]


def _stacked_masked(make, n_states):
    x = _seq()
    y = make()(make(return_sequences=True)(keras.layers.Masking(0.0)(x)))
    return keras.Model(x, y), ["padded"]


def _unroll_mask(make, n_states):
    x, m = _seq(), _mask()
    y = make(unroll=True, return_sequences=True, return_state=True)(x, mask=m)
    return keras.Model([x, m], y), ["x", "mask"]


SCENARIOS = {
    f.__name__[1:]: f
    for f in (
        _plain,
        _sequences,
        _mask_argument,
        _masking_layer,
        _embedding_mask,
        _go_backwards,
        _go_backwards_mask,
        _return_state,
        _sequences_and_state_mask,
        _initial_state,
        _bidirectional_concat,
        _bidirectional_sequences_mask,
        _bidirectional_state,
        _empty_row_mask,
        _stacked_masked,
        _unroll_mask,
    )
}


# ---------------------------------------------------------------- helpers


def _randomize(layer_or_model, seed=1):
    """Random weights everywhere (zero biases would hide bias bugs)."""
    rng = np.random.default_rng(seed)
    layer_or_model.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype(w.dtype) for w in layer_or_model.get_weights()]
    )


def _copy_weights(source_model, target_model):
    for source, target in zip(source_model.layers, target_model.layers, strict=True):
        target.set_weights(source.get_weights())


def _seqlib_layers(model):
    found = []
    for layer in model.layers:
        inner = getattr(layer, "forward_layer", layer)
        if isinstance(inner, seqlib.layers.RNN):
            found.append(inner)
    return found


def _call(model, training=False):
    return lambda inputs: model(inputs if len(inputs) > 1 else inputs[0], training=training)


# seqlib runs inference on a lean loop and training on hand-written BPTT: check both.
TRAINING = pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])


def _loss(outputs):
    """A fixed random linear functional of every output, so every output counts."""
    total = 0.0
    for k, out in enumerate(keras.tree.flatten(outputs)):
        coef = np.random.default_rng(100 + k).normal(size=out.shape).astype("float32")
        total += tf.reduce_sum(out * coef)
    return total


def _outputs_and_grads(fn, inputs, variables):
    inputs = [tf.constant(v) for v in inputs]
    watched = [v for v in inputs if v.dtype.is_floating]
    with tf.GradientTape() as tape:
        tape.watch(watched)
        outputs = fn(inputs)
        loss = _loss(outputs)
    grads = tape.gradient(loss, watched + list(variables))
    return keras.tree.flatten(outputs), [tf.convert_to_tensor(g) for g in grads]


def _assert_same(expected, got, what):
    assert len(expected) == len(got), what
    for k, (e, g) in enumerate(zip(expected, got, strict=True)):
        assert tuple(e.shape) == tuple(g.shape), f"{what}[{k}]"
        np.testing.assert_allclose(g, e, atol=ATOL, err_msg=f"{what}[{k}]")


def _assert_parity(keras_fn, keras_vars, ours_fn, ours_vars, inputs):
    assert len(keras_vars) == len(ours_vars) > 0
    for kv, ov in zip(keras_vars, ours_vars, strict=True):
        assert tuple(kv.shape) == tuple(ov.shape), (kv.path, ov.path)
    expected_out, expected_grads = _outputs_and_grads(keras_fn, inputs, keras_vars)
    got_out, got_grads = _outputs_and_grads(ours_fn, inputs, ours_vars)
    _assert_same(expected_out, got_out, "outputs")
    _assert_same(expected_grads, got_grads, "gradients")
    return got_out


# ---------------------------------------------------------------- tests


@TRAINING
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kind", KINDS)
def test_matches_keras_outputs_and_gradients(kind, scenario, training):
    n_states = KINDS[kind][2]
    keras_model, names = SCENARIOS[scenario](_maker(keras.layers, kind), n_states)
    ours_model, _ = SCENARIOS[scenario](_maker(seqlib.layers, kind), n_states)
    assert _seqlib_layers(ours_model) and not _seqlib_layers(keras_model)
    _randomize(keras_model)
    _copy_weights(keras_model, ours_model)

    data = _data()
    _assert_parity(
        _call(keras_model, training),
        keras_model.trainable_weights,
        _call(ours_model, training),
        ours_model.trainable_weights,
        [data[n] for n in names],
    )


@TRAINING
@pytest.mark.parametrize("kind", KINDS)
def test_initial_state_held_in_variables(kind, training):
    # A learned initial state: the states are variables, read when the layer runs,
    # and get gradients like any other weight.
    n_states = KINDS[kind][2]
    keras_layer = _maker(keras.layers, kind)(return_sequences=True, return_state=True)
    ours = _maker(seqlib.layers, kind)(return_sequences=True, return_state=True)
    data = _data()
    keras_layer(data["x"])
    ours(data["x"])
    _randomize(keras_layer)
    ours.set_weights(keras_layer.get_weights())
    names = ("h0", "c0")[:n_states]
    keras_states = [keras.Variable(data[n], name=n) for n in names]
    our_states = [keras.Variable(data[n], name=n) for n in names]

    def call(layer, states):
        return lambda inputs: layer(inputs[0], initial_state=states, training=training)

    _assert_parity(
        call(keras_layer, keras_states),
        [*keras_layer.trainable_weights, *keras_states],
        call(ours, our_states),
        [*ours.trainable_weights, *our_states],
        [data["x"]],
    )


def _stateful_pair(kind):
    keras_layer = _maker(keras.layers, kind)(stateful=True, return_sequences=True)
    ours = _maker(seqlib.layers, kind)(stateful=True, return_sequences=True)
    stateless = _maker(seqlib.layers, kind)(return_sequences=True)
    x = _data()["x"]
    for layer in (keras_layer, ours, stateless):
        layer(x)
    _randomize(keras_layer)
    ours.set_weights(keras_layer.get_weights())
    stateless.set_weights(keras_layer.get_weights())
    keras_layer.reset_state()
    ours.reset_state()
    return keras_layer, ours, stateless


@pytest.mark.parametrize("kind", KINDS)
def test_stateful_over_two_calls_and_reset_state(kind):
    keras_layer, ours, stateless = _stateful_pair(kind)
    first, second = _data(0)["x"], _data(1)["x"]
    got = []
    for x in (first, second):
        expected = keras_layer(x)
        got.append(np.asarray(ours(x)))
        np.testing.assert_allclose(got[-1], expected, atol=ATOL)
        for kv, ov in zip(keras_layer.states, ours.states, strict=True):
            np.testing.assert_allclose(ov, kv, atol=ATOL)
    # The first call starts from zeros, the second from the first call's final states.
    np.testing.assert_allclose(got[0], stateless(first), atol=ATOL)
    assert not np.allclose(got[1], stateless(second), atol=1e-3)

    ours.reset_state()
    for state in ours.states:
        np.testing.assert_array_equal(state, np.zeros(state.shape))
    np.testing.assert_allclose(ours(second), stateless(second), atol=ATOL)


@TRAINING
@pytest.mark.parametrize("kind", KINDS)
def test_stateful_gradients_over_two_calls(kind, training):
    keras_layer, ours, _ = _stateful_pair(kind)

    def call(layer):
        return lambda inputs: layer(inputs[0], training=training)

    for seed in (0, 1):  # the second call starts from the first call's states
        _assert_parity(
            call(keras_layer),
            keras_layer.trainable_weights,
            call(ours),
            ours.trainable_weights,
            [_data(seed)["x"]],
        )


@TRAINING
@pytest.mark.parametrize("kind", KINDS)
def test_inside_tf_function_with_unknown_time(kind, training):
    keras_layer = _maker(keras.layers, kind)(return_sequences=True, return_state=True)
    ours = _maker(seqlib.layers, kind)(return_sequences=True, return_state=True)
    x = _data()["x"]
    keras_layer(x)
    ours(x)
    _randomize(keras_layer)
    ours.set_weights(keras_layer.get_weights())

    def compiled(layer):
        signature = [
            tf.TensorSpec((None, None, INPUT), tf.float32),
            tf.TensorSpec((None, None), tf.bool),
        ]

        @tf.function(input_signature=signature)
        def run(x, mask):
            with tf.GradientTape() as tape:
                tape.watch(x)
                outputs = layer(x, mask=mask, training=training)
                loss = tf.reduce_sum(outputs[0] ** 2) + tf.reduce_sum(outputs[-1])
            return outputs, tape.gradient(loss, [x, *layer.trainable_weights])

        return run

    run_keras, run_ours = compiled(keras_layer), compiled(ours)
    for time in (TIME, 3):  # one trace serves both lengths
        args = x[:, :time], MASK[:, :time]
        expected_out, expected_grads = run_keras(*args)
        got_out, got_grads = run_ours(*args)
        assert got_out[0].shape == (BATCH, time, UNITS)
        _assert_same(expected_out, got_out, f"outputs, time={time}")
        _assert_same(expected_grads, got_grads, f"gradients, time={time}")
    assert len(run_ours.get_concrete_function().graph.inputs) >= 2
    assert run_ours.experimental_get_tracing_count() == 1


# Non-default values, so a key the config forgets or garbles shows.
CONFIG_KWARGS = dict(
    activation="relu",
    use_bias=False,
    kernel_initializer="he_normal",
    kernel_regularizer="l2",
    dropout=0.25,
    recurrent_dropout=0.125,
    seed=7,
    return_sequences=True,
    return_state=True,
    go_backwards=True,
    unroll=True,
    name="rnn_under_test",
)


@pytest.mark.parametrize("kind", KINDS)
def test_config_has_keras_keys_and_round_trips(kind):
    keras_layer = _maker(keras.layers, kind)(**CONFIG_KWARGS)
    ours = _maker(seqlib.layers, kind)(**CONFIG_KWARGS)
    keras_config, config = keras_layer.get_config(), ours.get_config()

    assert set(keras_config) <= set(config), set(keras_config) - set(config)
    for key in keras_config:
        assert config[key] == keras_config[key], key

    rebuilt = type(ours).from_config(copy.deepcopy(config))
    assert type(rebuilt) is type(ours)
    assert rebuilt.get_config() == config
    # The rebuilt layer computes the same function once given the same weights.
    x = _data()["x"]
    ours(x)
    rebuilt(x)
    _randomize(ours)
    rebuilt.set_weights(ours.get_weights())
    _assert_same(
        keras.tree.flatten(ours(x)), keras.tree.flatten(rebuilt(x)), "rebuilt layer outputs"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_generic_rnn_layer_config_matches_keras_rnn(kind):
    cell_name = KINDS[kind][0] + "Cell"
    cell_kwargs = KINDS[kind][1]
    keras_layer = keras.layers.RNN(
        getattr(keras.layers, cell_name)(UNITS, **cell_kwargs), return_sequences=True
    )
    ours = seqlib.layers.RNN(
        getattr(seqlib.cells, cell_name)(UNITS, **cell_kwargs), return_sequences=True
    )
    keras_config, config = keras_layer.get_config(), ours.get_config()
    assert set(keras_config) <= set(config)
    rebuilt = seqlib.layers.RNN.from_config(copy.deepcopy(config))  # keras pops "cell"
    assert type(rebuilt.cell) is type(ours.cell)
    assert rebuilt.get_config() == config


@pytest.mark.parametrize("kind", KINDS)
def test_fresh_weights_have_keras_layout_and_bias_init(kind):
    keras_layer = _maker(keras.layers, kind)()
    ours = _maker(seqlib.layers, kind)()
    x = _data()["x"]
    keras_layer(x)
    ours(x)
    assert [v.path.split("/")[-1] for v in ours.weights] == [
        v.path.split("/")[-1] for v in keras_layer.weights
    ]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in keras_layer.get_weights()]
    # Biases are deterministic (zeros, and ones for an LSTM's forget gate).
    np.testing.assert_array_equal(ours.get_weights()[-1], keras_layer.get_weights()[-1])


@pytest.mark.parametrize("kind", KINDS)
def test_regularization_losses(kind):
    regularizers = dict(
        kernel_regularizer="l2",
        recurrent_regularizer="l1",
        bias_regularizer="l2",
        activity_regularizer="l1",
    )
    keras_layer = _maker(keras.layers, kind)(**regularizers)
    ours = _maker(seqlib.layers, kind)(**regularizers)
    x = _data()["x"]
    keras_layer(x)
    ours(x)
    _randomize(keras_layer)
    ours.set_weights(keras_layer.get_weights())
    keras_layer(x)
    output = ours(x)

    weight_losses = sorted(float(v) for v in ours.cell.losses)
    assert len(weight_losses) == 3
    np.testing.assert_allclose(
        weight_losses, sorted(float(v) for v in keras_layer.cell.losses), rtol=1e-6
    )
    # keras' activity regularization: the penalty of the output, per sample.
    activity = float(sum(ours.losses)) - sum(weight_losses)
    np.testing.assert_allclose(activity, 0.01 * np.abs(output).sum() / BATCH, rtol=1e-5)


def test_use_cudnn_argument():
    with pytest.raises(ValueError, match=r"Expected one of .*Received: use_cudnn='?yes"):
        seqlib.layers.LSTM(UNITS, use_cudnn="yes")
    x = _data()["x"]
    for layer in (
        seqlib.layers.LSTM(UNITS, peephole=True, use_cudnn=True),
        seqlib.layers.GRU(UNITS, reset_after=False, use_cudnn=True),
    ):
        with pytest.raises(ValueError, match="cannot run on cuDNN"):
            layer(x)
    # "auto" falls back to the loop wherever cuDNN does not apply.
    assert seqlib.layers.LSTM(UNITS, peephole=True)(x).shape == (BATCH, UNITS)


@pytest.mark.skipif(not tf.config.list_logical_devices("GPU"), reason="needs a GPU (cuDNN)")
@pytest.mark.parametrize("kind", ["gru_reset_after", "lstm"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("mask", ["none", "right_padded", "left_padded"])
def test_cudnn_path_matches_the_loop(kind, go_backwards, mask):
    masks = {"none": None, "right_padded": MASK, "left_padded": MASK[:, ::-1].copy()}
    kwargs = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
    fast = _maker(seqlib.layers, kind)(use_cudnn=True, **kwargs)
    loop = _maker(seqlib.layers, kind)(use_cudnn=False, **kwargs)
    x = _data()["x"]
    fast(x)
    loop(x)
    _randomize(fast)
    loop.set_weights(fast.get_weights())

    def call(layer):
        return lambda inputs: layer(inputs[0], mask=masks[mask])

    _assert_parity(call(loop), loop.trainable_weights, call(fast), fast.trainable_weights, [x])


# ------------------------------------------- found by keras' own tests (test_keras_suite.py)


@pytest.mark.parametrize("kind", KINDS)
def test_integer_and_boolean_inputs_are_cast_as_keras_casts_them(kind):
    ints = np.random.default_rng(0).integers(0, 4, size=(BATCH, TIME, INPUT))
    keras_layer = _maker(keras.layers, kind)(return_sequences=True, return_state=True)
    ours = _maker(seqlib.layers, kind)(return_sequences=True, return_state=True)
    keras_layer(ints)
    ours(ints)
    _randomize(keras_layer)
    ours.set_weights(keras_layer.get_weights())
    for inputs in (ints, ints.astype("int32"), ints > 1):
        expected = keras.tree.flatten(keras_layer(inputs, mask=MASK))
        got = keras.tree.flatten(ours(inputs, mask=MASK))
        assert [g.dtype for g in got] == [e.dtype for e in expected]
        _assert_same(expected, got, f"outputs for {inputs.dtype} inputs")


def test_integer_inputs_in_bidirectional_and_generic_rnn():
    x = np.array([[[101, 202], [303, 404]]])  # keras' bidirectional_test.test_output_shape
    for layer, shapes in (
        (
            keras.layers.Bidirectional(seqlib.layers.LSTM(2, return_state=True)),
            [(1, 4)] + [(1, 2)] * 4,
        ),
        (seqlib.layers.Bidirectional(seqlib.layers.GRU(2), merge_mode=None), [(1, 2)] * 2),
        (seqlib.layers.RNN(seqlib.cells.SimpleRNNCell(2)), [(1, 2)]),
        (seqlib.layers.RNN(keras.layers.GRUCell(2)), [(1, 2)]),
    ):
        outputs = keras.tree.flatten(layer(x))
        assert [tuple(out.shape) for out in outputs] == shapes
        assert all(out.dtype == tf.float32 for out in outputs)


@pytest.mark.parametrize("kind", KINDS)
def test_use_cudnn_only_where_keras_has_it(kind):
    keras_layer = _maker(keras.layers, kind)()
    ours = _maker(seqlib.layers, kind)()
    expected = hasattr(keras_layer, "use_cudnn")
    assert hasattr(ours, "use_cudnn") is expected
    assert ("use_cudnn" in ours.get_config()) is expected
    # keras' Bidirectional copies the attribute to both directions where it exists.
    wrapped = keras.layers.Bidirectional(ours)
    assert hasattr(wrapped.forward_layer, "use_cudnn") is expected
    assert hasattr(wrapped.backward_layer, "use_cudnn") is expected


def test_simple_rnn_accepts_and_ignores_use_cudnn():
    # Earlier seqlib took it, so code building any of the three layers from one
    # set of arguments (seqlib.models.recurrent_layer) keeps working.
    layer = seqlib.layers.SimpleRNN(UNITS, use_cudnn=False)
    assert not hasattr(layer, "use_cudnn")
    assert "use_cudnn" not in layer.get_config()
    assert layer(_data()["x"]).shape == (BATCH, UNITS)


def _bidirectional_mask(make, n_states, wrapper):
    x, m = _seq(), _mask()
    y = wrapper(make(return_sequences=True, return_state=True), merge_mode="ave")(x, mask=m)
    return keras.Model([x, m], y), ["x", "mask"]


@TRAINING
@pytest.mark.parametrize("kind", KINDS)
def test_seqlib_bidirectional_matches_keras_bidirectional(kind, training):
    n_states = KINDS[kind][2]
    keras_model, names = _bidirectional_mask(
        _maker(keras.layers, kind), n_states, keras.layers.Bidirectional
    )
    ours_model, _ = _bidirectional_mask(
        _maker(seqlib.layers, kind), n_states, seqlib.layers.Bidirectional
    )
    _randomize(keras_model)
    _copy_weights(keras_model, ours_model)
    data = _data()
    _assert_parity(
        _call(keras_model, training),
        keras_model.trainable_weights,
        _call(ours_model, training),
        ours_model.trainable_weights,
        [data[n] for n in names],
    )


@pytest.mark.parametrize("kind", KINDS)
def test_seqlib_bidirectional_config_round_trips(kind):
    keras_layer = keras.layers.Bidirectional(_maker(keras.layers, kind)(), merge_mode="sum")
    ours = seqlib.layers.Bidirectional(_maker(seqlib.layers, kind)(), merge_mode="sum")
    assert set(ours.get_config()) == set(keras_layer.get_config())
    rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    assert type(rebuilt) is seqlib.layers.Bidirectional
    assert type(rebuilt.forward_layer) is type(ours.forward_layer)
    assert rebuilt.get_config() == ours.get_config()
