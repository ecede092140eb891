"""Parity of torch nn.LSTM / nn.GRU / nn.RNN with Keras-layout layers loaded from them."""

import keras
import numpy as np
import pytest
import torch

from seqlib import layers as seqlib_layers
from seqlib.interop import (
    load_torch_gru,
    load_torch_lstm,
    load_torch_rnn_stack,
    load_torch_simple_rnn,
)

BATCH, TIME, INPUT, HIDDEN = 3, 5, 4, 6
ATOL = 1e-5


LAYER_MODULES = [
    pytest.param(keras.layers, id="keras"),
    pytest.param(seqlib_layers, id="seqlib"),
]
TORCH_CLASS = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}
LOADER = {"LSTM": load_torch_lstm, "GRU": load_torch_gru, "SimpleRNN": load_torch_simple_rnn}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)


def _inputs(input_dim=INPUT):
    return np.random.default_rng(0).normal(size=(BATCH, TIME, input_dim)).astype(np.float32)


def _torch_module(kind, **kwargs):
    module = getattr(torch.nn, TORCH_CLASS[kind])(INPUT, HIDDEN, batch_first=True, **kwargs)
    with torch.no_grad():
        # Non-zero, distinct biases, so a mixed-up b_ih / b_hh or gate order shows up.
        for name, p in module.named_parameters():
            if name.startswith("bias"):
                p.uniform_(-0.5, 0.5)
    return module.eval()


def _run_torch(module, x):
    with torch.no_grad():
        out, state = module(torch.from_numpy(x))
    states = state if isinstance(state, tuple) else (state,)
    return out.numpy(), [s.numpy() for s in states]  # (B, T, D*H), each (L*D, B, H)


@pytest.mark.parametrize("layers", LAYER_MODULES)
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_single_layer_matches_torch(layers, kind):
    module = _torch_module(kind)
    x = _inputs()
    want_out, want_states = _run_torch(module, x)
    layer = getattr(layers, kind)(HIDDEN, return_sequences=True, return_state=True)
    LOADER[kind](layer, module.state_dict())
    out, *states = layer(x)
    np.testing.assert_allclose(np.asarray(out), want_out, atol=ATOL)
    assert len(states) == len(want_states)
    for got, want in zip(states, want_states):  # LSTM: h then c, as in torch
        np.testing.assert_allclose(np.asarray(got), want[0], atol=ATOL)


@pytest.mark.parametrize("layers", LAYER_MODULES)
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_two_layer_stack_matches_torch(layers, kind):
    module = _torch_module(kind, num_layers=2)
    x = _inputs()
    want_out, want_states = _run_torch(module, x)
    stack = [
        getattr(layers, kind)(HIDDEN, return_sequences=True, return_state=True) for _ in range(2)
    ]
    load_torch_rnn_stack(stack, module.state_dict())
    y = x
    for index, layer in enumerate(stack):
        y, *states = layer(y)
        for got, want in zip(states, want_states):
            np.testing.assert_allclose(np.asarray(got), want[index], atol=ATOL)
    np.testing.assert_allclose(np.asarray(y), want_out, atol=ATOL)


@pytest.mark.parametrize("layers", LAYER_MODULES)
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_bidirectional_two_layer_matches_torch(layers, kind):
    module = _torch_module(kind, num_layers=2, bidirectional=True)
    x = _inputs()
    want_out, want_states = _run_torch(module, x)
    stack = [
        keras.layers.Bidirectional(
            getattr(layers, kind)(HIDDEN, return_sequences=True, return_state=True)
        )
        for _ in range(2)
    ]
    load_torch_rnn_stack(stack, module.state_dict())
    y = x
    n_states = len(want_states)
    for index, layer in enumerate(stack):
        y, *states = layer(y)
        # Keras returns the forward states then the backward ones; torch indexes 2k + d.
        for d in range(2):
            for s in range(n_states):
                got = np.asarray(states[d * n_states + s])
                np.testing.assert_allclose(got, want_states[s][2 * index + d], atol=ATOL)
    np.testing.assert_allclose(np.asarray(y), want_out, atol=ATOL)


def test_single_bidirectional_wrapper_via_load_torch_lstm():
    module = _torch_module("LSTM", bidirectional=True)
    x = _inputs()
    want_out, _ = _run_torch(module, x)
    layer = keras.layers.Bidirectional(keras.layers.LSTM(HIDDEN, return_sequences=True))
    load_torch_lstm(layer, module.state_dict())
    np.testing.assert_allclose(np.asarray(layer(x)), want_out, atol=ATOL)


def test_reverse_direction_into_a_plain_go_backwards_layer():
    module = _torch_module("GRU", bidirectional=True)
    x = _inputs()
    want_out, want_states = _run_torch(module, x)
    layer = keras.layers.GRU(HIDDEN, go_backwards=True)
    load_torch_gru(layer, module.state_dict(), reverse=True)
    np.testing.assert_allclose(np.asarray(layer(x)), want_states[0][1], atol=ATOL)
    np.testing.assert_allclose(np.asarray(layer(x)), want_out[:, 0, HIDDEN:], atol=ATOL)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_bias_false_module(kind):
    module = _torch_module(kind, bias=False)
    x = _inputs()
    want_out, _ = _run_torch(module, x)
    with_bias = getattr(keras.layers, kind)(HIDDEN, return_sequences=True)
    LOADER[kind](with_bias, module.state_dict())
    np.testing.assert_allclose(np.asarray(with_bias(x)), want_out, atol=ATOL)
    without_bias = getattr(keras.layers, kind)(HIDDEN, return_sequences=True, use_bias=False)
    LOADER[kind](without_bias, module.state_dict())
    np.testing.assert_allclose(np.asarray(without_bias(x)), want_out, atol=ATOL)


def test_numpy_state_dict_with_prefix_and_built_layer():
    module = _torch_module("LSTM")
    x = _inputs()
    want_out, _ = _run_torch(module, x)
    state = {f"encoder.rnn.{k}": v.numpy() for k, v in module.state_dict().items()}
    state["encoder.embedding.weight"] = np.zeros((10, INPUT), np.float32)
    layer = keras.layers.LSTM(HIDDEN, return_sequences=True)
    layer(x)  # already built: loading must overwrite, not rebuild
    load_torch_rnn_stack([layer], state, prefix="encoder.rnn.")
    np.testing.assert_allclose(np.asarray(layer(x)), want_out, atol=ATOL)


def test_lstm_bias_is_the_sum_and_gru_bias_rows_are_input_then_recurrent():
    lstm = _torch_module("LSTM")
    layer = load_torch_lstm(keras.layers.LSTM(HIDDEN), lstm.state_dict())
    sd = lstm.state_dict()
    np.testing.assert_allclose(
        layer.get_weights()[2], (sd["bias_ih_l0"] + sd["bias_hh_l0"]).numpy(), atol=1e-7
    )
    gru = _torch_module("GRU")
    layer = load_torch_gru(keras.layers.GRU(HIDDEN), gru.state_dict())
    bias = layer.get_weights()[2]  # (2, 3H), Keras blocks z, r, h
    sd = gru.state_dict()
    b_ih = sd["bias_ih_l0"].numpy()  # torch blocks r, z, n
    b_hh = sd["bias_hh_l0"].numpy()
    h = HIDDEN
    np.testing.assert_array_equal(bias[0, :h], b_ih[h : 2 * h])  # z
    np.testing.assert_array_equal(bias[0, h : 2 * h], b_ih[:h])  # r
    np.testing.assert_array_equal(bias[1, 2 * h :], b_hh[2 * h :])  # h / n


@pytest.mark.parametrize("layers", LAYER_MODULES)
@pytest.mark.parametrize(
    "build, loader, module_kwargs, kind, match",
    [
        (lambda L: L.GRU(HIDDEN, reset_after=False), load_torch_gru, {}, "GRU",
         "reset_after=True"),
        (lambda L: L.LSTM(HIDDEN), load_torch_lstm, {"proj_size": 3}, "LSTM", "proj_size=3"),
        (lambda L: L.LSTM(HIDDEN + 1), load_torch_lstm, {}, "LSTM", "units=7"),
        (lambda L: L.LSTM(HIDDEN), load_torch_lstm, {}, "GRU", "nn.GRU"),
        (lambda L: L.GRU(HIDDEN), load_torch_gru, {}, "LSTM", "nn.LSTM"),
        (lambda L: L.LSTM(HIDDEN, use_bias=False), load_torch_lstm, {}, "LSTM",
         "use_bias=False"),
        (lambda L: L.LSTM(HIDDEN, activation="relu"), load_torch_lstm, {}, "LSTM",
         "activation='relu'"),
        (lambda L: L.GRU(HIDDEN, recurrent_activation="hard_sigmoid"), load_torch_gru, {},
         "GRU", "recurrent_activation"),
    ],
    ids=["gru-reset-before", "proj-size", "units", "gru-into-lstm", "lstm-into-gru",
         "no-bias-layer", "activation", "recurrent-activation"],
)  # fmt: skip
def test_bad_inputs_raise_helpful_value_errors(layers, build, loader, module_kwargs, kind, match):
    module = _torch_module(kind, **module_kwargs)
    with pytest.raises(ValueError, match=match):
        loader(build(layers), module.state_dict())


def test_stack_errors():
    module = _torch_module("LSTM", num_layers=2)
    sd = module.state_dict()
    with pytest.raises(ValueError, match="num_layers=2"):
        load_torch_rnn_stack([keras.layers.LSTM(HIDDEN)], sd)
    with pytest.raises(ValueError, match="return_sequences=True"):
        load_torch_rnn_stack([keras.layers.LSTM(HIDDEN), keras.layers.LSTM(HIDDEN)], sd)
    with pytest.raises(ValueError, match="not bidirectional"):
        load_torch_rnn_stack(
            [keras.layers.Bidirectional(keras.layers.LSTM(HIDDEN, return_sequences=True))] * 2,
            sd,
        )
    bi = _torch_module("GRU", bidirectional=True).state_dict()
    with pytest.raises(ValueError, match="should be a Bidirectional"):
        load_torch_rnn_stack([keras.layers.GRU(HIDDEN)], bi)
    with pytest.raises(ValueError, match="merge_mode"):
        load_torch_rnn_stack(
            [keras.layers.Bidirectional(keras.layers.GRU(HIDDEN), merge_mode="sum")], bi
        )
    with pytest.raises(ValueError, match="weight_ih_l0"):
        load_torch_rnn_stack([keras.layers.LSTM(HIDDEN)], {"embedding.weight": np.zeros(3)})
    with pytest.raises(ValueError, match="weight_ih_l1"):
        load_torch_lstm(keras.layers.LSTM(HIDDEN), sd, layer_index=1, reverse=True)
    with pytest.raises(ValueError, match="reverse must be False"):
        load_torch_gru(keras.layers.Bidirectional(keras.layers.GRU(HIDDEN)), bi, reverse=True)
    with pytest.raises(ValueError, match="state dict"):
        load_torch_lstm(keras.layers.LSTM(HIDDEN), [("weight_ih_l0", np.zeros(3))])
