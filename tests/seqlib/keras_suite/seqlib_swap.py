"""pytest plugin: keras' own RNN tests, run against seqlib's classes.

`tests/seqlib/test_keras_suite.py` loads it (`-p seqlib_swap`) in a pytest
subprocess over the `*_test.py` files of the installed `keras.src.layers.rnn`.
Those files reach every layer through the module object (`from keras.src import
layers`, then `layers.LSTM(...)` inside the tests), so replacing the names on
`keras.src.layers` before collection makes each test build seqlib's class where
it builds keras'. The names replaced are `SEQLIB_KERAS_SUITE_SWAP`, a comma
separated list of the keys of `SWAPS`; the outcome of every test goes, as JSON,
to the file `SEQLIB_KERAS_SUITE_REPORT`.
"""

import json
import os

import keras.src.layers
import tensorflow as tf

import seqlib.cells
import seqlib.layers

SWAPS = {
    "LSTM": seqlib.layers.LSTM,
    "GRU": seqlib.layers.GRU,
    "SimpleRNN": seqlib.layers.SimpleRNN,
    "LSTMCell": seqlib.cells.LSTMCell,
    "GRUCell": seqlib.cells.GRUCell,
    "SimpleRNNCell": seqlib.cells.SimpleRNNCell,
    "RNN": seqlib.layers.RNN,
    "Bidirectional": seqlib.layers.Bidirectional,
}

_outcomes = {}


def pytest_configure(config):
    names = os.environ["SEQLIB_KERAS_SUITE_SWAP"].split(",")
    for name in names:
        setattr(keras.src.layers, name, SWAPS[name])
    # keras' tolerances (1e-5) are for float32 arithmetic; on a recent NVIDIA GPU
    # TensorFlow would run float32 matmuls as TensorFloat-32 (10-bit mantissa).
    tf.config.experimental.enable_tensor_float_32_execution(False)


def _record(nodeid, outcome, detail=""):
    previous = _outcomes.get(nodeid)
    # A failure in any phase (setup, call, teardown) decides.
    if previous is None or previous["outcome"] == "passed":
        _outcomes[nodeid] = {"outcome": outcome, "detail": detail}


def pytest_runtest_logreport(report):
    if report.when != "call" and report.passed:
        return
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    else:
        outcome = report.outcome
    detail = ""
    if report.failed:
        detail = report.longreprtext[-3000:]
    elif report.skipped:
        detail = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    _record(report.nodeid, outcome, detail)


def pytest_collectreport(report):
    if report.failed:
        _record(report.nodeid, "failed", "collection error: " + report.longreprtext[-3000:])


def pytest_sessionfinish(session):
    with open(os.environ["SEQLIB_KERAS_SUITE_REPORT"], "w") as f:
        json.dump(_outcomes, f, indent=1, sort_keys=True)
