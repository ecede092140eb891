"""keras' own RNN tests, run against seqlib's classes.

`seqlib.layers` promises to be a drop-in for `keras.layers`, and keras' tests of
its recurrent layers ship inside the keras wheel (`keras/src/layers/rnn/*_test.py`).
This module runs the files of `KERAS_TESTS` as installed, in a pytest subprocess
whose plugin (`keras_suite/seqlib_swap.py`) puts seqlib's classes on
`keras.src.layers`, where those tests look keras' classes up. It holds the result
to one rule: every keras test passes, except those `NOT_APPLICABLE` lists with a
reason. A listed test that no longer fails (or skips) the way the entry says, or
that keras no longer has, fails as well, so the list stays true; a keras release
that adds a test seqlib does not pass fails here.

Two runs (`RUNS`):

- "layers": `LSTM`, `GRU`, `SimpleRNN`, their cells and `RNN` are seqlib's, the
  `Bidirectional` wrapper keras' (the way the apps combine them);
- "bidirectional": `bidirectional_test.py` again, with `seqlib.layers.Bidirectional`
  as well, which adds the fused bidirectional cuDNN path.
"""

import collections
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

KERAS_TESTS = (
    "lstm_test.py",
    "gru_test.py",
    "simple_rnn_test.py",
    "bidirectional_test.py",
    "rnn_test.py",
    "stacked_rnn_cells_test.py",
    "dropout_rnn_cell_test.py",
)
LAYERS = ("LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell", "SimpleRNNCell", "RNN")

# run -> (names replaced on keras.src.layers, keras test files)
RUNS = {
    "layers": (LAYERS, KERAS_TESTS),
    "bidirectional": (LAYERS + ("Bidirectional",), ("bidirectional_test.py",)),
}

_KERAS_ONLY_FUSION = (
    "keras-private: it asks keras' `Bidirectional._can_attempt_fused_{}` to accept the "
    "layer, and that hook accepts keras' own class only (an isinstance check). On the "
    "TensorFlow backend keras has no fused call to make anyway "
    "(`backend.bidirectional_{}` raises NotImplementedError). "
    "`seqlib.layers.Bidirectional` answers the hook for seqlib's layer and passes this "
    "test in the 'bidirectional' run."
)
_TORCH_ONLY = "keras skips it on this backend: it checks that torch's cuDNN kernel is called"

# run -> {keras test id: (outcome, what its failure or skip message says, why)}
NOT_APPLICABLE = {
    "layers": {
        "bidirectional_test.py::SimpleRNNTest::test_fused_lstm_eligibility": (
            "failed",
            "AssertionError: False is not true",
            _KERAS_ONLY_FUSION.format("lstm", "lstm"),
        ),
        "bidirectional_test.py::SimpleRNNTest::test_fused_gru_eligibility": (
            "failed",
            "AssertionError: False is not true",
            _KERAS_ONLY_FUSION.format("gru", "gru"),
        ),
        "gru_test.py::GRUTest::test_torch_cudnn_dispatch_fires": (
            "skipped",
            "Guards the torch-backend cuDNN dispatch path",
            _TORCH_ONLY,
        ),
        "bidirectional_test.py::SimpleRNNTest::test_torch_cudnn_bidirectional_gru_dispatch_fires": (
            "skipped",
            "Guards the torch-backend cuDNN dispatch path",
            _TORCH_ONLY,
        ),
    },
    "bidirectional": {
        "bidirectional_test.py::SimpleRNNTest::test_torch_cudnn_bidirectional_gru_dispatch_fires": (
            "skipped",
            "Guards the torch-backend cuDNN dispatch path",
            _TORCH_ONLY,
        ),
    },
}

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGIN_DIR = pathlib.Path(__file__).resolve().parent / "keras_suite"


def keras_rnn_tests_dir():
    """The installed `keras.src.layers.rnn`, found without importing keras."""
    spec = importlib.util.find_spec("keras")
    return pathlib.Path(spec.origin).parent / "src" / "layers" / "rnn"


def run_keras_tests(run, out_dir):
    """Runs one of `RUNS` in a fresh process; returns {keras test id: outcome}."""
    names, files = RUNS[run]
    tests_dir = keras_rnn_tests_dir()
    missing = [f for f in files if not (tests_dir / f).is_file()]
    assert not missing, f"the installed keras has no {missing} in {tests_dir}"
    report = out_dir / f"{run}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        KERAS_BACKEND="tensorflow",
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(PLUGIN_DIR), str(ROOT), env.get("PYTHONPATH")])
        ),
        SEQLIB_KERAS_SUITE_SWAP=",".join(names),
        SEQLIB_KERAS_SUITE_REPORT=str(report),
    )
    # `-c os.devnull`: keras' tests under pytest's defaults, not this project's settings.
    command = [sys.executable, "-m", "pytest", "-q", "-c", os.devnull, "--rootdir", str(tests_dir)]
    command += ["-p", "no:cacheprovider", "-p", "no:xdist", "-p", "seqlib_swap"]
    command += [str(tests_dir / f) for f in files]
    result = subprocess.run(
        command, cwd=out_dir, env=env, capture_output=True, text=True, timeout=900
    )
    assert report.is_file(), (
        f"the keras tests did not run:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return json.loads(report.read_text())


def _outcome(result):
    # keras' own xfail marks (e.g. LSTM masking on a TensorFlow GPU, for keras'
    # cuDNN path) do not excuse seqlib: an xfail counts as a failure here.
    return {"xpassed": "passed", "xfailed": "failed"}.get(result["outcome"], result["outcome"])


def _problems(run, outcomes):
    problems = []
    files = RUNS[run][1]
    for name in files:
        if not any(test.startswith(f"{name}::") for test in outcomes):
            problems.append(f"{name}: no test collected")
    for test, result in sorted(outcomes.items()):
        got = _outcome(result)
        entry = NOT_APPLICABLE[run].get(test)
        if entry is None:
            if got != "passed":
                problems.append(
                    f"{test} {got}, and it is not in NOT_APPLICABLE:\n{result['detail']}"
                )
        elif got != entry[0] or entry[1] not in result["detail"]:
            problems.append(
                f"{test}: NOT_APPLICABLE says it is {entry[0]} with {entry[1]!r}, but it "
                f"{got}{': ' + result['detail'][-500:] if result['detail'] else ''}. "
                "Update or drop the entry."
            )
    for test in NOT_APPLICABLE[run]:
        if test not in outcomes:
            problems.append(f"{test}: in NOT_APPLICABLE, but keras has no such test any more")
    return problems


@pytest.mark.parametrize("run", RUNS)
def test_keras_rnn_tests_pass_against_seqlib(run, tmp_path):
    outcomes = run_keras_tests(run, tmp_path)
    problems = _problems(run, outcomes)
    counts = collections.Counter(_outcome(result) for result in outcomes.values())
    print(f"keras suite, {run} run: {dict(counts)}")
    assert not problems, "\n\n".join(problems)


def test_not_applicable_entries_are_well_formed():
    test_id = re.compile(r"^\w+_test\.py::\w+::\w+$")
    assert set(NOT_APPLICABLE) == set(RUNS)
    for run, entries in NOT_APPLICABLE.items():
        for test, (outcome, message, reason) in entries.items():
            assert test_id.match(test) and test.split("::")[0] in RUNS[run][1], (run, test)
            assert outcome in ("failed", "skipped") and message and reason, (run, test)
