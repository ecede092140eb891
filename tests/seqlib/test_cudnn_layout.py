"""The cuDNN path cannot run without a GPU; its weight conversion can be checked.

`cudnn._params` flattens keras-layout weights into cuDNN's canonical buffer. These
tests unpack that buffer the way cuDNN documents it (per-gate matrices, input
weights, then recurrent weights, then input and recurrent biases; GRU gates in
r, z, h order) and run cuDNN's equations in numpy: if the layout were wrong, the
result would not match the seqlib layer.
"""

import numpy as np
import pytest

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
