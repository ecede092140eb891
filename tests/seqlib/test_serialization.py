"""Every seqlib cell, layer and attention class in one model: `.keras` and SavedModel round trips.

The SavedModel is served in a fresh Python process that cannot import seqlib, as
it would be on a serving machine.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from seqlib.attention import (
    BahdanauAttention,
    LuongAttention,
    MultiHeadSelfAttention,
    ScaledDotProductAttention,
    SinusoidalPositionalEncoding,
)
from seqlib.cells import GRUCell, LSTMCell, SimpleRNNCell, ZoneoutWrapper
from seqlib.layers import GRU, LSTM, RNN, SimpleRNN

BATCH, TIME, INPUT, UNITS = 3, 5, 4, 6
ATOL = 1e-5

# Row 1 right-padded, row 2 padded on both sides (not every layer may assume right padding).
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 1, 1, 1, 0]], dtype=bool)


def _all_classes_model():
    x = keras.Input((None, INPUT), name="x")  # unknown time: the export must not fix it
    mask = keras.Input((None,), dtype="bool", name="mask")
    positions = SinusoidalPositionalEncoding(max_length=16, name="positions")(x)
    lstm = LSTM(UNITS, return_sequences=True, name="lstm")(positions, mask=mask)
    gru_after = GRU(UNITS, return_sequences=True, name="gru_reset_after")(lstm, mask=mask)
    gru_before = GRU(UNITS, reset_after=False, return_sequences=True, name="gru_reset_before")(
        x, mask=mask
    )
    simple = SimpleRNN(UNITS, name="simple_rnn")(x, mask=mask)
    peephole, peephole_h, peephole_c = LSTM(
        UNITS, peephole=True, return_state=True, name="lstm_peephole"
    )(x, mask=mask)
    zoneout_lstm = RNN(
        ZoneoutWrapper(LSTMCell(UNITS, peephole=True), zoneout_h=0.1, zoneout_c=0.2),
        return_sequences=True,
        name="zoneout_lstm",
    )(x, mask=mask)
    zoneout_keras_gru = RNN(
        ZoneoutWrapper(keras.layers.GRUCell(UNITS), zoneout_h=0.3), name="zoneout_keras_gru"
    )(x, mask=mask)
    stacked_cells = RNN(
        [SimpleRNNCell(UNITS), GRUCell(UNITS, reset_after=False)], name="stacked_cells"
    )(x, mask=mask)
    bidirectional = keras.layers.Bidirectional(
        LSTM(UNITS, return_sequences=True), name="bidirectional"
    )(x, mask=mask)  # (batch, time, 2 * units)
    self_attended, self_weights = MultiHeadSelfAttention(
        num_heads=2, key_dim=3, name="self_attention"
    )(gru_after, mask=mask, use_causal_mask=True)
    bahdanau, bahdanau_weights = BahdanauAttention(units=4, name="bahdanau")(
        zoneout_lstm, bidirectional, value_mask=mask
    )
    luong, luong_weights = LuongAttention(score="general", name="luong")(
        gru_before, self_attended, value_mask=mask
    )
    step, step_weights = ScaledDotProductAttention(name="scaled_dot")(
        simple, lstm, value_mask=mask
    )  # one decoder step: (batch, units) query
    outputs = {
        "peephole": peephole,
        "peephole_h": peephole_h,
        "peephole_c": peephole_c,
        "zoneout_keras_gru": zoneout_keras_gru,
        "stacked_cells": stacked_cells,
        "self_weights": self_weights,
        "bahdanau": bahdanau,
        "bahdanau_weights": bahdanau_weights,
        "luong": luong,
        "luong_weights": luong_weights,
        "step": step,
        "step_weights": step_weights,
    }
    return keras.Model([x, mask], outputs)


def _randomize(model, seed=1):
    # Random weights everywhere, so a weight lost or swapped on the way shows.
    rng = np.random.default_rng(seed)
    model.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype(w.dtype) for w in model.get_weights()]
    )


def _inputs(time=TIME, seed=0):
    x = np.random.default_rng(seed).normal(size=(BATCH, time, INPUT)).astype("float32")
    return [x, MASK[:, :time]]


def _as_json(config):
    # A loaded config holds lists where the original held tuples (build shapes).
    return json.loads(json.dumps(config))


@pytest.fixture(scope="module")
def model():
    model = _all_classes_model()
    _randomize(model)
    return model


def test_keras_file_round_trip(model, tmp_path):
    inputs = _inputs()
    expected = model.predict(inputs, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)

    got = loaded.predict(inputs, verbose=0)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], atol=ATOL, err_msg=key)
    # The same classes, configs included, came back (not keras look-alikes).
    for layer in model.layers:
        twin = loaded.get_layer(layer.name)
        assert type(twin) is type(layer), layer.name
        assert _as_json(twin.get_config()) == _as_json(layer.get_config()), layer.name
    zoneout = loaded.get_layer("zoneout_lstm").cell
    assert isinstance(zoneout, ZoneoutWrapper) and isinstance(zoneout.cell, LSTMCell)
    assert zoneout.cell.peephole and (zoneout.zoneout_h, zoneout.zoneout_c) == (0.1, 0.2)
    assert type(loaded.get_layer("zoneout_keras_gru").cell.cell) is keras.layers.GRUCell
    assert type(loaded.get_layer("bidirectional").backward_layer) is LSTM


# Runs in a fresh interpreter: blocks seqlib first, then serves the SavedModel.
SERVE_SCRIPT = textwrap.dedent(
    """
    import sys


    class BlockSeqlib:
        def find_spec(self, name, path=None, target=None):
            if name == "seqlib" or name.startswith("seqlib."):
                raise ImportError(f"seqlib is blocked in this process: {name}")
            return None


    sys.meta_path.insert(0, BlockSeqlib())
    try:
        import seqlib  # noqa: F401
    except ImportError:
        pass
    else:
        sys.exit("seqlib could be imported, the test proves nothing")

    import numpy as np
    import tensorflow as tf

    saved_model, inputs_file, outputs_file = sys.argv[1:4]
    served = tf.saved_model.load(saved_model)
    inputs = np.load(inputs_file)
    results = {}
    for time in (5, 3):  # one signature, any length
        outputs = served.serve([inputs[f"x{time}"], inputs[f"mask{time}"]])
        results.update({f"{key}@{time}": value.numpy() for key, value in outputs.items()})
    assert not any(name == "seqlib" or name.startswith("seqlib.") for name in sys.modules)
    np.savez(outputs_file, **results)
    """
)


def test_saved_model_serves_without_seqlib(model, tmp_path):
    expected = {}
    arrays = {}
    for time in (TIME, 3):
        inputs = _inputs(time, seed=time)
        arrays[f"x{time}"], arrays[f"mask{time}"] = inputs
        for key, value in model.predict(inputs, verbose=0).items():
            expected[f"{key}@{time}"] = value
    model.export(str(tmp_path / "saved_model"), verbose=False)
    np.savez(tmp_path / "inputs.npz", **arrays)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SERVE_SCRIPT,
            str(tmp_path / "saved_model"),
            str(tmp_path / "inputs.npz"),
            str(tmp_path / "outputs.npz"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]

    served = dict(np.load(tmp_path / "outputs.npz"))
    assert set(served) == set(expected)
    for key in expected:
        np.testing.assert_allclose(served[key], expected[key], atol=ATOL, err_msg=key)
