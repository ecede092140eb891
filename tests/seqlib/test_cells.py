"""Tests of seqlib.cells: numpy references of the equations and the keras cell contract."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqlib.layers
from seqlib.cells import GRUCell, LSTMCell, SimpleRNNCell, ZoneoutWrapper

BATCH, TIME, INPUT, UNITS = 3, 5, 4, 6
ATOL = 1e-5

# Not right-padded on purpose: row 1 has a gap in the middle, row 2 masks the first step.
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 1], [0, 1, 1, 0, 0]], dtype=bool)


def _x(seed=0):
    return np.random.default_rng(seed).normal(size=(BATCH, TIME, INPUT)).astype("float32")


def _randomize(layer, seed=1):
    """Random weights everywhere, biases and peepholes included."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype(w.dtype) for w in layer.get_weights()]
    )


# ---------------------------------------------------------------- numpy references


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_simple_rnn_step(cell, x, states):
    (h,) = states
    w, u, b = (v.numpy().astype("float64") for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    return [np.tanh(x @ w + h @ u + b)]


def np_classic_gru_step(cell, x, states):
    """The seed slides' GRU: the reset gate applies to h_{t-1} before the matmul."""
    (h,) = states
    w, u, b = (v.numpy().astype("float64") for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    n = cell.units
    w_z, w_r, w_h = w[:, :n], w[:, n : 2 * n], w[:, 2 * n :]
    u_z, u_r, u_h = u[:, :n], u[:, n : 2 * n], u[:, 2 * n :]
    b_z, b_r, b_h = b[:n], b[n : 2 * n], b[2 * n :]
    z = sigmoid(x @ w_z + h @ u_z + b_z)
    r = sigmoid(x @ w_r + h @ u_r + b_r)
    h_tilde = np.tanh(x @ w_h + (r * h) @ u_h + b_h)
    return [z * h + (1.0 - z) * h_tilde]


def np_reset_after_gru_step(cell, x, states):
    (h,) = states
    w, u, b = (v.numpy().astype("float64") for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    xz, xr, xh = np.split(x @ w + b[0], 3, axis=-1)  # bias row 0: input
    hz, hr, hh = np.split(h @ u + b[1], 3, axis=-1)  # bias row 1: recurrent
    z, r = sigmoid(xz + hz), sigmoid(xr + hr)
    return [z * h + (1.0 - z) * np.tanh(xh + r * hh)]


def np_lstm_step(cell, x, states):
    """LSTM; with peepholes p (rows i, f, o), i and f see c_{t-1} and o sees c_t."""
    h, c = states
    w, u, b = (v.numpy().astype("float64") for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    zi, zf, zc, zo = np.split(x @ w + h @ u + b, 4, axis=-1)
    if cell.peephole:
        p_i, p_f, p_o = cell.peephole_kernel.numpy().astype("float64")
        zi, zf = zi + p_i * c, zf + p_f * c
    i, f = sigmoid(zi), sigmoid(zf)
    c_new = f * c + i * np.tanh(zc)
    if cell.peephole:
        zo = zo + p_o * c_new
    h_new = sigmoid(zo) * np.tanh(c_new)
    return [h_new, c_new]


def np_run(step, cell, x, states, rates=()):
    """Runs `step` over time; with `rates`, zoneout at inference on each state:
    s_t = rate * s_{t-1} + (1 - rate) * s~_t."""
    x = x.astype("float64")
    outputs = []
    for t in range(x.shape[1]):
        new = step(cell, x[:, t], states)
        states = (
            [rate * old + (1.0 - rate) * s for old, s, rate in zip(states, new, rates, strict=True)]
            if rates
            else new
        )
        outputs.append(states[0])
    return np.stack(outputs, axis=1), states


def _zeros(n_states):
    return [np.zeros((BATCH, UNITS)) for _ in range(n_states)]


REFERENCES = {
    # name -> (cell factory, numpy step, zoneout rates or None)
    "simple_rnn": (lambda: SimpleRNNCell(UNITS), np_simple_rnn_step, None),
    "gru_classic": (lambda: GRUCell(UNITS, reset_after=False), np_classic_gru_step, None),
    "gru_reset_after": (lambda: GRUCell(UNITS), np_reset_after_gru_step, None),
    "lstm": (lambda: LSTMCell(UNITS), np_lstm_step, None),
    "lstm_peephole": (lambda: LSTMCell(UNITS, peephole=True), np_lstm_step, None),
    "zoneout_lstm_peephole": (
        lambda: ZoneoutWrapper(LSTMCell(UNITS, peephole=True), zoneout_h=0.3, zoneout_c=0.6),
        np_lstm_step,
        (0.3, 0.6),
    ),
    "zoneout_gru_classic": (
        lambda: ZoneoutWrapper(GRUCell(UNITS, reset_after=False), zoneout_h=0.4, zoneout_c=0.9),
        np_classic_gru_step,
        (0.4,),  # one state: zoneout_c does not apply
    ),
}


@pytest.mark.parametrize("name", REFERENCES)
def test_cell_matches_numpy_reference(name):
    factory, step, rates = REFERENCES[name]
    cell = factory()
    wrapped = getattr(cell, "cell", cell)
    x = _x()
    layers = {
        "keras.layers.RNN": keras.layers.RNN(cell, return_sequences=True, return_state=True),
        "seqlib.layers.RNN": seqlib.layers.RNN(cell, return_sequences=True, return_state=True),
    }
    layers["keras.layers.RNN"](x)  # builds the shared cell
    _randomize(cell)

    n_states = len(keras.tree.flatten(cell.state_size))
    ref_outputs, ref_states = np_run(step, wrapped, x, _zeros(n_states), rates)
    for where, layer in layers.items():
        outputs, *states = layer(x, training=False)
        np.testing.assert_allclose(outputs, ref_outputs, atol=ATOL, err_msg=where)
        for k, (got, expected) in enumerate(zip(states, ref_states, strict=True)):
            np.testing.assert_allclose(got, expected, atol=ATOL, err_msg=f"{where} state {k}")


@pytest.mark.parametrize("peephole", [False, True], ids=["lstm", "peephole"])
def test_lstm_layer_matches_numpy_reference(peephole):
    layer = seqlib.layers.LSTM(UNITS, peephole=peephole, return_sequences=True, return_state=True)
    x = _x()
    layer(x)
    _randomize(layer)
    if peephole:
        assert layer.cell.peephole_kernel.shape == (3, UNITS)
    ref_outputs, (ref_h, ref_c) = np_run(np_lstm_step, layer.cell, x, _zeros(2))
    outputs, h, c = layer(x)
    np.testing.assert_allclose(outputs, ref_outputs, atol=ATOL)
    np.testing.assert_allclose(h, ref_h, atol=ATOL)
    np.testing.assert_allclose(c, ref_c, atol=ATOL)


def test_peephole_rows_are_input_forget_output():
    # Zero peepholes are a plain LSTM; then one row at a time against the reference,
    # so rows in the wrong order (or o seeing c_{t-1} instead of c_t) show.
    x = _x()
    layer = seqlib.layers.LSTM(UNITS, peephole=True, peephole_initializer="zeros")
    plain = seqlib.layers.LSTM(UNITS)
    layer(x)
    plain(x)
    plain.set_weights(layer.get_weights()[:3])
    np.testing.assert_allclose(layer(x), plain(x), atol=ATOL)  # zero peepholes: a plain LSTM
    for row in range(3):
        peepholes = np.zeros((3, UNITS), "float32")
        peepholes[row] = 0.7
        layer.cell.peephole_kernel.assign(peepholes)
        ref, _ = np_run(np_lstm_step, layer.cell, x, _zeros(2))
        np.testing.assert_allclose(layer(x), ref[:, -1], atol=ATOL, err_msg=f"row {row}")


# ---------------------------------------------------------------- the cell contract

CELLS = {
    "simple_rnn": lambda **kw: SimpleRNNCell(UNITS, **kw),
    "gru_reset_after": lambda **kw: GRUCell(UNITS, **kw),
    "gru_reset_before": lambda **kw: GRUCell(UNITS, reset_after=False, **kw),
    "lstm": lambda **kw: LSTMCell(UNITS, **kw),
    "lstm_peephole": lambda **kw: LSTMCell(UNITS, peephole=True, **kw),
    "zoneout_lstm": lambda **kw: ZoneoutWrapper(
        LSTMCell(UNITS, **kw), zoneout_h=0.2, zoneout_c=0.3, seed=3
    ),
    "zoneout_gru": lambda **kw: ZoneoutWrapper(GRUCell(UNITS, **kw), zoneout_h=0.2, seed=3),
    "zoneout_keras_gru": lambda **kw: ZoneoutWrapper(
        keras.layers.GRUCell(UNITS, **kw), zoneout_h=0.2, seed=3
    ),
}
N_STATES = {name: 2 if "lstm" in name else 1 for name in CELLS}

LAYER_TYPES = {"keras": keras.layers.RNN, "seqlib": seqlib.layers.RNN}


def _states(n, seed=5):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(n)]


@pytest.mark.parametrize("name", CELLS)
def test_contract_sizes_initial_state_and_one_step(name):
    cell = CELLS[name]()
    n = N_STATES[name]
    assert keras.tree.flatten(cell.state_size) == [UNITS] * n
    assert cell.output_size == UNITS
    initial = keras.tree.flatten(cell.get_initial_state(batch_size=BATCH))
    assert [tuple(s.shape) for s in initial] == [(BATCH, UNITS)] * n
    assert all(not np.any(np.asarray(s)) for s in initial)

    states = _states(n)
    output, new_states = cell(_x()[:, 0], states)
    new_states = keras.tree.flatten(new_states)
    assert tuple(output.shape) == (BATCH, UNITS) and len(new_states) == n
    np.testing.assert_array_equal(output, new_states[0])  # the output is h_t
    assert not np.allclose(new_states[0], states[0])


@pytest.mark.parametrize("name", CELLS)
def test_keras_rnn_and_seqlib_rnn_agree(name):
    cell = CELLS[name]()
    n = N_STATES[name]
    x, mask = tf.constant(_x()), tf.constant(MASK)
    initial = [tf.constant(s) for s in _states(n)]
    results = {}
    for kind, cls in LAYER_TYPES.items():
        layer = cls(cell, return_sequences=True, return_state=True, go_backwards=True)
        layer(x)
        if kind == "keras":
            _randomize(cell)
        with tf.GradientTape() as tape:
            tape.watch([x, *initial])
            outputs = layer(x, initial_state=initial, mask=mask)
            loss = sum(
                tf.reduce_sum(o * np.arange(1, o.shape[-1] + 1, dtype="float32")) for o in outputs
            )
        grads = tape.gradient(loss, [x, *initial, *cell.trainable_weights])
        results[kind] = [np.asarray(o) for o in [*outputs, *grads]]
    assert len(results["seqlib"]) == 1 + n + 1 + n + len(cell.trainable_weights)
    for k, (expected, got) in enumerate(zip(results["keras"], results["seqlib"], strict=True)):
        np.testing.assert_allclose(got, expected, atol=ATOL, err_msg=f"result {k}")


@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.3], ids=["dropout", "both_dropouts"])
@pytest.mark.parametrize("name", CELLS)
def test_training_with_dropout_agrees_between_keras_rnn_and_seqlib_rnn(name, recurrent_dropout):
    # Two cells with the same seed draw the same masks (and zoneout draws), so the
    # fused layer must compute, and differentiate, exactly what keras' loop does.
    x, mask = tf.constant(_x()), tf.constant(MASK)
    results = {}
    for kind, cls in LAYER_TYPES.items():
        cell = CELLS[name](dropout=0.3, recurrent_dropout=recurrent_dropout, seed=5)
        if isinstance(cell, ZoneoutWrapper):
            # keras' loop runs one extra step up front (for the output shape), which
            # shifts every later zoneout draw: compare the dropout alone here.
            cell.zoneout_h = cell.zoneout_c = 0.0
        layer = cls(cell, return_sequences=True, return_state=True)
        layer(x)
        _randomize(cell)
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, mask=mask, training=True)
            loss = sum(tf.reduce_sum(o * np.arange(1, UNITS + 1, dtype="float32")) for o in outputs)
        grads = tape.gradient(loss, [x, *cell.trainable_weights])
        results[kind] = [np.asarray(o) for o in [*outputs, *grads]]
    inference = np.asarray(layer(x, mask=mask)[0])
    assert not np.allclose(results["seqlib"][0], inference)  # dropout was active
    for k, (expected, got) in enumerate(zip(results["keras"], results["seqlib"], strict=True)):
        np.testing.assert_allclose(got, expected, atol=ATOL, err_msg=f"result {k}")


@pytest.mark.parametrize("name", CELLS)
def test_contract_bidirectional_and_stacked(name):
    x = _x()
    # Bidirectional copies the layer through its config: the cell must round-trip.
    outputs = {}
    for kind, cls in LAYER_TYPES.items():
        layer = keras.layers.Bidirectional(cls(CELLS[name](), return_sequences=True))
        layer(x, mask=MASK)
        if kind == "keras":
            _randomize(layer)
            weights = layer.get_weights()
        else:
            assert type(layer.backward_layer.cell) is type(layer.forward_layer.cell)
            layer.set_weights(weights)
        outputs[kind] = np.asarray(layer(x, mask=MASK))
    assert outputs["seqlib"].shape == (BATCH, TIME, 2 * UNITS)
    np.testing.assert_allclose(outputs["seqlib"], outputs["keras"], atol=ATOL)
    np.testing.assert_array_equal(outputs["seqlib"][~MASK], 0.0)  # zero_output_for_mask

    # Stacked: two layers, and two cells in one keras.layers.RNN, are the same model.
    first, second = CELLS[name](), CELLS[name]()
    lower = seqlib.layers.RNN(first, return_sequences=True)
    upper = seqlib.layers.RNN(second)
    two_layers = upper(lower(x))
    _randomize(lower)
    _randomize(upper, seed=2)
    two_layers = upper(lower(x))
    one_layer = keras.layers.RNN([first, second])(x)
    assert two_layers.shape == (BATCH, UNITS)
    np.testing.assert_allclose(one_layer, two_layers, atol=ATOL)


@pytest.mark.parametrize("kind", LAYER_TYPES)
@pytest.mark.parametrize("name", CELLS)
def test_masked_steps_keep_the_state(name, kind):
    layer = LAYER_TYPES[kind](CELLS[name](), return_sequences=True, return_state=True)
    x = _x()
    layer(x)
    _randomize(layer)
    outputs, *states = (np.asarray(t) for t in layer(x, mask=MASK))
    unmasked, *_ = (np.asarray(t) for t in layer(x))
    for b in range(BATCH):
        for t in range(TIME):
            if MASK[b, t]:
                assert not np.allclose(outputs[b, t], outputs[b, t - 1] if t else 0.0)
            else:  # the previous output (or zeros before the first step), exactly
                previous = outputs[b, t - 1] if t else np.zeros(UNITS)
                np.testing.assert_array_equal(outputs[b, t], previous, err_msg=f"b={b} t={t}")
    # The last state is the one of the last unmasked step.
    last = [np.flatnonzero(row)[-1] for row in MASK]
    np.testing.assert_array_equal(states[0], outputs[np.arange(BATCH), last])
    # A full mask changes nothing.
    np.testing.assert_allclose(layer(x, mask=np.ones_like(MASK))[0], unmasked, atol=ATOL)


@pytest.mark.parametrize("name", CELLS)
def test_one_fit_step_gives_finite_loss_and_changes_every_weight(name):
    x = _x()
    y = np.random.default_rng(2).normal(size=(BATCH, 1)).astype("float32")
    inputs = keras.Input((TIME, INPUT))
    cell = CELLS[name](dropout=0.1, recurrent_dropout=0.1)
    hidden = seqlib.layers.RNN(cell)(keras.layers.Masking(0.0)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    before = [np.array(w) for w in cell.trainable_weights]

    history = model.fit(x * MASK[..., None], y, batch_size=BATCH, epochs=1, verbose=0)

    assert np.isfinite(history.history["loss"][0])
    assert len(before) >= 3
    for variable, old in zip(cell.trainable_weights, before, strict=True):
        assert np.all(np.isfinite(variable)), variable.path
        assert not np.allclose(variable, old), variable.path


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="Received: units=0"):
        LSTMCell(0)
    with pytest.raises(ValueError, match="Received: zoneout_h=1.0"):
        ZoneoutWrapper(GRUCell(UNITS), zoneout_h=1.0)
    with pytest.raises(ValueError, match="Received: zoneout_c=-0.1"):
        ZoneoutWrapper(LSTMCell(UNITS), zoneout_c=-0.1)


# ---------------------------------------------------------------- dropout and zoneout


@pytest.mark.parametrize("kind", LAYER_TYPES)
@pytest.mark.parametrize("name", CELLS)
def test_dropout_only_in_training(name, kind):
    layer = LAYER_TYPES[kind](
        CELLS[name](dropout=0.4, recurrent_dropout=0.4, seed=11), return_sequences=True
    )
    x = _x()
    inference = np.asarray(layer(x, training=False))
    np.testing.assert_array_equal(layer(x, training=False), inference)
    np.testing.assert_array_equal(layer(x), inference)  # training defaults to False
    first, second = np.asarray(layer(x, training=True)), np.asarray(layer(x, training=True))
    assert not np.allclose(first, inference)
    assert not np.allclose(first, second)  # a new mask per call
    # Without dropout, inference is the same function.
    clean = LAYER_TYPES[kind](CELLS[name](), return_sequences=True)
    clean(x)
    clean.set_weights(layer.get_weights())
    np.testing.assert_allclose(clean(x), inference, atol=ATOL)


def _identity_cell(**kwargs):
    cell = SimpleRNNCell(UNITS, activation=None, **kwargs)
    cell.build((BATCH, INPUT))
    cell.kernel.assign(np.eye(INPUT, UNITS, dtype="float32"))
    cell.recurrent_kernel.assign(np.zeros((UNITS, UNITS), "float32"))
    cell.bias.assign(np.zeros(UNITS, "float32"))
    return cell


def _call(layer, mode, x, **kwargs):
    """Calls a built layer eagerly or inside a `tf.function` (the loop then is a graph)."""
    if mode == "graph":
        return np.asarray(tf.function(lambda x: layer(x, **kwargs))(tf.constant(x)))
    return np.asarray(layer(x, **kwargs))


MODES = ["eager", "graph"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", LAYER_TYPES)
def test_input_dropout_mask_is_the_same_at_every_step(kind, mode):
    # h_t = (d * x_t) W with W = identity and x_t = 1 constant: h_t = d, the mask itself.
    layer = LAYER_TYPES[kind](_identity_cell(dropout=0.5, seed=4), return_sequences=True)
    x = np.ones((BATCH, TIME, INPUT), "float32")
    layer(x)
    outputs = _call(layer, mode, x, training=True)
    mask = outputs[:, 0, :INPUT]
    assert set(np.unique(mask)) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - 0.5)
    for t in range(1, TIME):
        np.testing.assert_array_equal(outputs[:, t], outputs[:, 0], err_msg=f"t={t}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", LAYER_TYPES)
def test_recurrent_dropout_mask_is_the_same_at_every_step(kind, mode):
    # x = 0 and U = identity: h_t = d_r * h_{t-1}, so from h_0 = 1, h_t = d_r ** t: a unit
    # once dropped stays 0, a kept one is 2 ** t. A new mask per step would break both.
    cell = _identity_cell(recurrent_dropout=0.5, seed=4)
    cell.recurrent_kernel.assign(np.eye(UNITS, dtype="float32"))
    layer = LAYER_TYPES[kind](cell, return_sequences=True)
    x = np.zeros((BATCH, TIME, INPUT), "float32")
    layer(x)
    ones = tf.ones((BATCH, UNITS))
    outputs = _call(layer, mode, x, initial_state=[ones], training=True)
    kept = outputs[:, 0] != 0.0
    assert kept.any() and not kept.all()
    for t in range(TIME):
        np.testing.assert_array_equal(outputs[:, t], np.where(kept, 2.0 ** (t + 1), 0.0))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", LAYER_TYPES)
@pytest.mark.parametrize("name", ["zoneout_lstm", "zoneout_gru", "zoneout_keras_gru"])
def test_zoneout_in_training_keeps_some_units_exactly(name, kind, mode):
    layer = LAYER_TYPES[kind](CELLS[name](), return_sequences=True)
    layer.cell.zoneout_h = 0.5
    x = _x()
    inference = np.asarray(layer(x, training=False))
    outputs = _call(layer, mode, x, training=True)
    kept = outputs[:, 1:] == outputs[:, :-1]  # (batch, time - 1, units)
    assert 0.2 < kept.mean() < 0.8, kept.mean()
    # Per unit and per step: not the same units at every step.
    assert any(not np.array_equal(kept[:, t], kept[:, 0]) for t in range(1, TIME - 1))
    # At inference nothing is kept exactly.
    assert not np.any(inference[:, 1:] == inference[:, :-1])


@pytest.mark.parametrize("path", ["call", "recurrent_step"])
def test_zoneout_step_in_training_keeps_units_of_h_and_c(path):
    # One step, both states: per unit, either exactly the previous value or the cell's.
    cell = ZoneoutWrapper(LSTMCell(UNITS), zoneout_h=0.5, zoneout_c=0.5, seed=9)
    x = _x()[:, 0]
    states = _states(2)
    cell(x, states)  # build
    _randomize(cell)
    _, candidate = cell.cell(x, states)  # the wrapped cell's s~_t
    if path == "call":
        _, new = cell(x, states, training=True)
    else:
        _, new = cell.recurrent_step(cell.input_projection(x), states, None, True)
    for k, name in enumerate("hc"):
        old, tilde, got = states[k], np.asarray(candidate[k]), np.asarray(new[k])
        kept = got == old
        assert np.all(kept | np.isclose(got, tilde, atol=ATOL)), name
        assert 0.1 < kept.mean() < 0.9, (name, kept.mean())
    assert not np.array_equal(new[0] == states[0], np.asarray(new[1]) == states[1])
