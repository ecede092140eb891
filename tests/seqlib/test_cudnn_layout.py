"""The cuDNN path cannot run without a GPU; its weight conversion can be checked.

`cudnn._params` flattens keras-layout weights into cuDNN's canonical buffer. These
tests unpack that buffer the way cuDNN documents it (per-gate matrices, input
weights, then recurrent weights, then input and recurrent biases; GRU gates in
r, z, h order) and run cuDNN's equations in numpy: if the layout were wrong, the
result would not match the seqlib layer.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlib import layers
from seqlib.cells import GRUCell, LSTMCell, SimpleRNNCell
from seqlib.layers import cudnn


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _unpack(params, n_gates, input_dim, units):
    params = np.asarray(params)
    pieces, offset = [], 0
    for k in range(2 * n_gates):
        cols = input_dim if k < n_gates else units
        pieces.append(params[offset : offset + units * cols].reshape(units, cols))
        offset += units * cols
    weights, recurrent = pieces[:n_gates], pieces[n_gates:]
    biases = params[offset:].reshape(2 * n_gates, units)
    assert offset + 2 * n_gates * units == params.size
    return weights, recurrent, biases[:n_gates], biases[n_gates:]


def _cudnn_lstm_numpy(params, x, input_dim, units):
    (wi, wf, wc, wo), (ri, rf, rc, ro), bw, br = _unpack(params, 4, input_dim, units)
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    for t in range(x.shape[1]):
        xt = x[:, t]
        i = _sigmoid(xt @ wi.T + h @ ri.T + bw[0] + br[0])
        f = _sigmoid(xt @ wf.T + h @ rf.T + bw[1] + br[1])
        g = np.tanh(xt @ wc.T + h @ rc.T + bw[2] + br[2])
        o = _sigmoid(xt @ wo.T + h @ ro.T + bw[3] + br[3])
        c = f * c + i * g
        h = o * np.tanh(c)
    return h


def _cudnn_gru_numpy(params, x, input_dim, units):
    (wr, wz, wh), (rr, rz, rh), bw, br = _unpack(params, 3, input_dim, units)
    h = np.zeros((x.shape[0], units))
    for t in range(x.shape[1]):
        xt = x[:, t]
        r = _sigmoid(xt @ wr.T + bw[0] + h @ rr.T + br[0])
        z = _sigmoid(xt @ wz.T + bw[1] + h @ rz.T + br[1])
        hh = np.tanh(xt @ wh.T + bw[2] + r * (h @ rh.T + br[2]))
        h = (1.0 - z) * hh + z * h
    return h


@pytest.mark.parametrize(
    "layer_class, reference, gates",
    [(layers.LSTM, _cudnn_lstm_numpy, 4), (layers.GRU, _cudnn_gru_numpy, 3)],
)
def test_cudnn_params_layout_reproduces_the_layer(layer_class, reference, gates):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 4)).astype("float32")
    layer = layer_class(6, bias_initializer="random_normal")
    expected = np.asarray(layer(x))
    params = cudnn._params(layer.cell)
    assert params.shape == (gates * 6 * (4 + 6 + 2),)
    np.testing.assert_allclose(reference(params, x, 4, 6), expected, atol=1e-5)


@pytest.mark.parametrize(
    "cell, expected",
    [
        (LSTMCell(4), True),
        (GRUCell(4), True),
        (LSTMCell(4, peephole=True), False),
        (GRUCell(4, reset_after=False), False),
        (LSTMCell(4, recurrent_dropout=0.1), False),
        (LSTMCell(4, activation="relu"), False),
        (GRUCell(4, use_bias=False), False),
        (SimpleRNNCell(4), False),
    ],
)
def test_cudnn_eligibility(cell, expected):
    assert cudnn.cudnn_compatible(cell) is expected


def test_use_cudnn_true_without_gpu_is_a_clear_error():
    if cudnn.gpu_available():
        pytest.skip("a GPU is present")
    layer = layers.LSTM(4, use_cudnn=True)
    with pytest.raises(ValueError, match="cannot run on cuDNN"):
        layer(np.zeros((2, 3, 5), "float32"))


def test_right_padding_check():
    right = np.array([[1, 1, 0], [1, 1, 1]], bool)
    assert bool(cudnn.is_right_padded(right))
    assert not bool(cudnn.is_right_padded(np.array([[0, 1, 1], [1, 1, 1]], bool)))
    assert not bool(cudnn.is_right_padded(np.array([[1, 0, 1], [1, 1, 1]], bool)))
    assert not bool(cudnn.is_right_padded(np.array([[0, 0, 0], [1, 1, 1]], bool)))


# ------------------------------------------------ both directions in one call
#
# `seqlib.layers.Bidirectional` runs a seqlib LSTM or GRU pair as one
# bidirectional CudnnRNNV3 call. Without a GPU the op cannot run, so the tests
# below put an emulation of it in its place: numpy, reading the parameter buffer
# the way cuDNN lays out two pseudo-layers (matrices of both, then biases of
# both) and honouring `sequence_lengths`. The GPU tests run the real op.

HAS_GPU = bool(tf.config.list_logical_devices("GPU"))


def _pseudo_layers(params, n_gates, input_dim, units, directions):
    """Splits a buffer of `directions` pseudo-layers into one `_unpack` buffer each."""
    params = np.asarray(params)
    n_matrices = n_gates * units * (input_dim + units)
    n_biases = 2 * n_gates * units
    assert params.size == directions * (n_matrices + n_biases)
    biases_at = directions * n_matrices
    return [
        _unpack(
            np.concatenate(
                [
                    params[d * n_matrices : (d + 1) * n_matrices],
                    params[biases_at + d * n_biases : biases_at + (d + 1) * n_biases],
                ]
            ),
            n_gates,
            input_dim,
            units,
        )
        for d in range(directions)
    ]


def _lstm_step(weights, x, h, c):
    (wi, wf, wc, wo), (ri, rf, rc, ro), bw, br = weights
    i = _sigmoid(x @ wi.T + h @ ri.T + bw[0] + br[0])
    f = _sigmoid(x @ wf.T + h @ rf.T + bw[1] + br[1])
    g = np.tanh(x @ wc.T + h @ rc.T + bw[2] + br[2])
    o = _sigmoid(x @ wo.T + h @ ro.T + bw[3] + br[3])
    c = f * c + i * g
    return o * np.tanh(c), c


def _gru_step(weights, x, h, c):
    (wr, wz, wh), (rr, rz, rh), bw, br = weights
    r = _sigmoid(x @ wr.T + bw[0] + h @ rr.T + br[0])
    z = _sigmoid(x @ wz.T + bw[1] + h @ rz.T + br[1])
    hh = np.tanh(x @ wh.T + bw[2] + r * (h @ rh.T + br[2]))
    return (1.0 - z) * hh + z * h, c


class EmulatedCudnnRNNV3:
    """`tf.raw_ops.CudnnRNNV3` in numpy, batch-major, for LSTM and GRU; inside a
    `tf.function` through `tf.numpy_function` (forward only: no gradient)."""

    def __init__(self):
        self.directions = []  # one per call of the op (per trace inside a tf.function)
        self.runs = []  # one per run

    def __call__(
        self,
        *,
        input,
        input_h,
        input_c,
        params,
        sequence_lengths,
        rnn_mode,
        direction="unidirectional",
        time_major=False,
        **unused,
    ):
        assert not time_major
        self.directions.append(direction)
        args = (input, input_h, input_c, params, sequence_lengths)
        run = lambda *args: self._run(*args, rnn_mode, direction)  # noqa: E731
        if tf.executing_eagerly():
            results = run(*(np.asarray(a) for a in args))
        else:
            results = tf.numpy_function(run, args, [input.dtype] * 3)
            n_dirs = 2 if direction == "bidirectional" else 1
            results[0].set_shape([None, None, n_dirs * input_h.shape[-1]])
            results[1].set_shape(input_h.shape)
            results[2].set_shape(input_c.shape)
        return tuple(tf.convert_to_tensor(r) for r in results) + (None, None)

    def _run(self, input, input_h, input_c, params, sequence_lengths, rnn_mode, direction):
        self.runs.append(direction)
        x, lengths = np.asarray(input, "float64"), np.asarray(sequence_lengths)
        h0, c0 = np.asarray(input_h, "float64"), np.asarray(input_c, "float64")
        (batch, time, input_dim), units = x.shape, h0.shape[-1]
        n_dirs = 2 if direction == "bidirectional" else 1
        gates, step = (4, _lstm_step) if rnn_mode == "lstm" else (3, _gru_step)
        weights = _pseudo_layers(params, gates, input_dim, units, n_dirs)
        outputs = np.zeros((batch, time, n_dirs * units))
        h_n, c_n = h0.copy(), c0.copy()
        for d in range(n_dirs):
            for b in range(batch):
                h, c = h0[b, d], c0[b, d]
                steps = range(lengths[b]) if d == 0 else reversed(range(lengths[b]))
                for t in steps:
                    h, c = step(weights[d], x[b, t], h, c)
                    outputs[b, t, d * units : (d + 1) * units] = h
                h_n[b, d], c_n[b, d] = h, c
        return tuple(v.astype(input.dtype) for v in (outputs, h_n, c_n))


@pytest.fixture()
def emulated_gpu(monkeypatch):
    """Makes seqlib take its cuDNN paths on the CPU, with the op emulated."""
    op = EmulatedCudnnRNNV3()
    monkeypatch.setattr(cudnn, "gpu_available", lambda: True)
    monkeypatch.setattr(tf.raw_ops, "CudnnRNNV3", op)
    return op


BIDI_MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], bool)


def _bidirectional_pair(kind, merge_mode="concat", **kwargs):
    """seqlib's Bidirectional (fusable) and, with the same weights, keras' Bidirectional
    over the same seqlib layer with cuDNN off: two layers, two loops."""
    layer_class = {"lstm": layers.LSTM, "gru": layers.GRU}[kind]
    fused = layers.Bidirectional(layer_class(6, **kwargs), merge_mode=merge_mode)
    reference = keras.layers.Bidirectional(
        layer_class(6, use_cudnn=False, **kwargs), merge_mode=merge_mode
    )
    fused.build((3, 5, 4))
    reference.build((3, 5, 4))
    rng = np.random.default_rng(1)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in fused.get_weights()]
    fused.set_weights(weights)
    reference.set_weights(weights)
    return fused, reference


def test_bidirectional_params_put_both_directions_matrices_first():
    forward, backward = LSTMCell(6), LSTMCell(6)
    forward.build((None, 4))
    backward.build((None, 4))
    one, other = np.asarray(cudnn._params(forward)), np.asarray(cudnn._params(backward))
    both = np.asarray(cudnn._params(forward, backward))
    n_matrices = 4 * 6 * (4 + 6)
    expected = [one[:n_matrices], other[:n_matrices], one[n_matrices:], other[n_matrices:]]
    np.testing.assert_array_equal(both, np.concatenate(expected))


SCENARIOS = {
    # name: (Bidirectional kwargs, layer kwargs, mask, with initial states)
    "sequences": ("concat", dict(return_sequences=True), None, False),
    "last_output": ("ave", {}, None, False),
    "states": (None, dict(return_sequences=True, return_state=True), None, True),
    "right_padded_mask": ("sum", dict(return_sequences=True, return_state=True), BIDI_MASK, False),
    "right_padded_mask_last": ("mul", {}, BIDI_MASK, True),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_bidirectional_matches_two_layers(kind, scenario, emulated_gpu):
    merge_mode, kwargs, mask, with_states = SCENARIOS[scenario]
    fused, reference = _bidirectional_pair(kind, merge_mode, **kwargs)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    call = dict(mask=mask)
    if with_states:
        n = 4 if kind == "lstm" else 2
        call["initial_state"] = [rng.normal(size=(3, 6)).astype("float32") for _ in range(n)]
    got, expected = fused(x, **call), reference(x, **call)
    assert emulated_gpu.directions == ["bidirectional"]
    for g, e in zip(keras.tree.flatten(got), keras.tree.flatten(expected), strict=True):
        np.testing.assert_allclose(g, e, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_bidirectional_leaves_other_masks_to_the_two_layers(kind, emulated_gpu):
    fused, reference = _bidirectional_pair(kind, return_sequences=True)
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    left_padded = BIDI_MASK[:, ::-1].copy()
    np.testing.assert_allclose(
        fused(x, mask=left_padded), reference(x, mask=left_padded), atol=1e-5
    )
    assert "bidirectional" not in emulated_gpu.directions


def test_fused_bidirectional_casts_integer_inputs(emulated_gpu):
    fused, reference = _bidirectional_pair("lstm")
    x = np.arange(3 * 5 * 4).reshape((3, 5, 4)) % 3
    np.testing.assert_allclose(fused(x), reference(x), atol=1e-5)
    assert emulated_gpu.directions == ["bidirectional"]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_bidirectional_inside_tf_function_decides_per_mask(kind, emulated_gpu):
    # One trace holds both branches: one cuDNN call for a right-padded mask, the
    # two layers for any other; which one runs is decided by the mask's values.
    fused, reference = _bidirectional_pair(kind, return_sequences=True, return_state=True)
    signature = [tf.TensorSpec((None, None, 4), tf.float32), tf.TensorSpec((None, None), tf.bool)]
    run = tf.function(lambda x, mask: fused(x, mask=mask), input_signature=signature)
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    masks = {"right": BIDI_MASK, "left": BIDI_MASK[:, ::-1].copy(), "short": BIDI_MASK[:, :3]}
    for name, mask in masks.items():
        inputs = x[:, : mask.shape[1]]
        expected = keras.tree.flatten(reference(inputs, mask=mask))
        emulated_gpu.runs.clear()
        for g, e in zip(keras.tree.flatten(run(inputs, mask)), expected, strict=True):
            np.testing.assert_allclose(g, e, atol=1e-5)
        assert emulated_gpu.runs == ([] if name == "left" else ["bidirectional"]), name
    assert run.experimental_get_tracing_count() == 1


def test_fused_bidirectional_needs_a_gpu():
    if HAS_GPU:
        pytest.skip("a GPU is present")
    fused, _ = _bidirectional_pair("gru")
    assert fused._can_attempt_fused_gru(mask=None)
    with pytest.raises(NotImplementedError):  # keras' signal to run the two layers
        fused._call_fused_gru(np.zeros((3, 5, 4), "float32"), None)


def _bidi(layer, **kwargs):
    wrapper = layers.Bidirectional(layer, **kwargs)
    wrapper.build((3, 5, 4))
    return wrapper


@pytest.mark.parametrize(
    "make, lstm, gru",
    [
        (lambda: layers.LSTM(4), True, False),
        (lambda: layers.GRU(4), False, True),
        (lambda: layers.LSTM(4, use_cudnn=True), True, False),
        (lambda: layers.LSTM(4, use_cudnn=False), False, False),
        (lambda: layers.GRU(4, reset_after=False), False, False),
        (lambda: layers.LSTM(4, peephole=True), False, False),
        (lambda: layers.LSTM(4, activation="relu"), False, False),
        (lambda: layers.GRU(4, use_bias=False), False, False),
        (lambda: layers.LSTM(4, dropout=0.1), False, False),
        (lambda: layers.GRU(4, recurrent_dropout=0.1), False, False),
        (lambda: layers.LSTM(4, unroll=True), False, False),
        (lambda: layers.GRU(4, activity_regularizer="l2"), False, False),
        (lambda: layers.LSTM(4, stateful=True), False, False),
        (lambda: layers.SimpleRNN(4), False, False),
        (lambda: layers.RNN(LSTMCell(4)), False, False),
    ],
)
def test_fused_bidirectional_eligibility(make, lstm, gru):
    wrapper = _bidi(make())
    assert wrapper._can_attempt_fused_lstm(mask=None) is lstm
    assert wrapper._can_attempt_fused_gru(mask=None) is gru


def test_fused_bidirectional_eligibility_of_the_call():
    lstm = _bidi(layers.LSTM(4))
    assert not lstm._can_attempt_fused_lstm(mask=np.ones((3, 5), bool))
    assert lstm._can_attempt_fused_lstm(mask=None, initial_state=[np.zeros((3, 4))] * 4)
    assert not lstm._can_attempt_fused_lstm(mask=None, initial_state=[np.zeros((3, 4))] * 2)
    gru = _bidi(layers.GRU(4))
    assert gru._can_attempt_fused_gru(mask=None, initial_state=[np.zeros((3, 4))] * 2)
    assert not gru._can_attempt_fused_gru(mask=None, initial_state=[np.zeros((3, 4))] * 4)
    # Both directions must qualify, and run in opposite directions.
    backward = layers.LSTM(4, go_backwards=True, peephole=True)
    assert not _bidi(layers.LSTM(4), backward_layer=backward)._can_attempt_fused_lstm(None)
    swapped = _bidi(layers.LSTM(4, go_backwards=True), backward_layer=layers.LSTM(4))
    assert not swapped._can_attempt_fused_lstm(None)
    # Around keras' own layers, keras decides.
    ours = _bidi(keras.layers.LSTM(4))
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(4))
    theirs.build((3, 5, 4))
    assert ours._can_attempt_fused_lstm(None) == theirs._can_attempt_fused_lstm(None)


# ------------------------------------------------ on a GPU (`make gpu-check`)


@pytest.fixture()
def float32_matmuls():
    # A recent NVIDIA GPU runs float32 matmuls as TensorFloat-32 by default, in
    # cuDNN and in the loop alike, each rounding differently.
    enabled = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    yield
    tf.config.experimental.enable_tensor_float_32_execution(enabled)


@pytest.mark.skipif(not HAS_GPU, reason="needs a GPU (cuDNN); run by make gpu-check")
@pytest.mark.parametrize("kind, gates", [("lstm", 4), ("gru", 3)])
def test_bidirectional_params_match_tensorflows_canonical_to_params(kind, gates):
    # TensorFlow's own conversion asks cuDNN where each matrix and bias goes.
    fused, _ = _bidirectional_pair(kind)
    cells = [fused.forward_layer.cell, fused.backward_layer.cell]
    canonical = [cudnn._canonical(cell) for cell in cells]
    matrices = [m for cell_matrices, _ in canonical for m in cell_matrices]
    shapes = ([(6, 4)] * gates + [(6, 6)] * gates) * 2
    expected = tf.raw_ops.CudnnRNNCanonicalToParamsV2(
        num_layers=1,
        num_units=6,
        input_size=4,
        weights=[tf.reshape(m, s) for m, s in zip(matrices, shapes, strict=True)],
        biases=[b for _, cell_biases in canonical for b in cell_biases],
        rnn_mode=kind,
        direction="bidirectional",
    )
    np.testing.assert_array_equal(cudnn._params(*cells), expected)


@pytest.mark.skipif(not HAS_GPU, reason="needs a GPU (cuDNN); run by make gpu-check")
@pytest.mark.parametrize("mask", ["none", "right_padded", "left_padded"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_bidirectional_on_gpu_matches_two_layers(kind, mask, monkeypatch, float32_matmuls):
    masks = {"none": None, "right_padded": BIDI_MASK, "left_padded": BIDI_MASK[:, ::-1].copy()}
    fused, reference = _bidirectional_pair(kind, return_sequences=True, return_state=True)
    directions = []
    real_op = tf.raw_ops.CudnnRNNV3

    def spy(**kwargs):
        directions.append(kwargs.get("direction"))
        return real_op(**kwargs)

    monkeypatch.setattr(tf.raw_ops, "CudnnRNNV3", spy)
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32"))
    results = []
    for wrapper in (reference, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = keras.tree.flatten(wrapper(x, mask=masks[mask]))
            loss = sum(tf.reduce_sum(o * (k + 1.0)) for k, o in enumerate(outputs))
        results.append(outputs + tape.gradient(loss, [x, *wrapper.trainable_weights]))
    for e, g in zip(*results, strict=True):
        np.testing.assert_allclose(g, e, atol=1e-5)
    expected = [] if mask == "left_padded" else ["bidirectional"]
    assert directions == expected
