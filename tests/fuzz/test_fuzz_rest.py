"""Fuzzing the local model server's REST bodies: `parse_predict_request` on any JSON,
and the whole `:predict` route on any bytes. A body the server cannot use is a 4xx
answer with a JSON error, never a 500 (which means a bug) or a traceback."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import Client

from seqlib.serving.rest import (
    MAX_DEPTH,
    RequestError,
    parse_body,
    parse_predict_request,
    request_signature,
)
from seqlib.serving.server import ModelRepository, RestApp, Servable

STRING = np.dtype(object)
# The signatures the apps export: a batch of strings (sentiment, translation), a
# batch of windows of floats (stocks), encoded images with an int (captioning),
# and a scalar.
SPECS = [
    {"text": (STRING, (None,))},
    {"ohlcv": (np.dtype("float32"), (None, 4, 5))},
    {"image_bytes": (STRING, (None,)), "beam": (np.dtype("int32"), ())},
    {"x": (np.dtype("int64"), None)},
]

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["text", "ohlcv", "image_bytes", "beam", "x", "instances", "inputs"]),
    st.fixed_dictionaries({"b64": st.one_of(st.text(max_size=8), st.integers(), st.none())}),
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.one_of(st.sampled_from(["text", "ohlcv", "beam", "b64"]), st.text(max_size=5)),
            children,
            max_size=3,
        )
    ),
    max_leaves=20,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"instances": json_values}),
    st.fixed_dictionaries({"inputs": json_values}),
    st.fixed_dictionaries({"inputs": json_values, "signature_name": json_values}),
)
route_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"instances": json_values}),
    st.fixed_dictionaries({"inputs": json_values}),
    st.fixed_dictionaries(
        {
            "inputs": json_values,
            "signature_name": st.one_of(st.sampled_from(["", "other", "nope"]), json_values),
        }
    ),
)


@given(bodies, st.sampled_from(SPECS))
def test_parse_predict_request_of_any_json(body, specs):
    try:
        inputs, _ = parse_predict_request(body, specs)
    except RequestError as error:
        assert 400 <= error.status < 500 and "\n" not in str(error)
        return
    assert set(inputs) == set(specs)
    for name, (dtype, shape) in specs.items():
        assert inputs[name].dtype == dtype
        if shape is not None:
            assert inputs[name].ndim == len(shape)


class _Echo(Servable):
    """A servable without TensorFlow: `serving_default` returns its inputs' shapes."""

    def __init__(self, specs):
        super().__init__("toy", 1, "", {"serving_default": None, "other": None})
        self._specs = specs

    def input_specs(self, signature):
        return self._specs

    def predict(self, signature, inputs):
        first = next(iter(inputs.values()))
        return {"size": np.asarray([a.size for a in inputs.values()][: len(first) or 1])}


def _client(specs):
    repository = ModelRepository("/nonexistent", log=lambda message: None)
    repository._servables["toy"] = _Echo(specs)
    return Client(RestApp(repository, max_request_bytes=4096))


CLIENTS = [_client(specs) for specs in SPECS]
raw_bodies = st.one_of(
    st.binary(max_size=512),
    route_bodies.map(lambda body: json.dumps(body).encode()),
    route_bodies.map(lambda body: json.dumps(body).encode("utf-16")),
    st.sampled_from([b"1" * 5000, b"\xff{}", b'{"inputs": "\xed\xa0\x80"}']),
)
# Deeper than Python's stack: what json.loads answers with RecursionError.
DEEP = [b"[" * 4000, b'{"instances": ' + b"[" * 3000]


@given(st.one_of(raw_bodies, st.sampled_from(DEEP), bodies.map(lambda b: json.dumps(b).encode())))
def test_parse_body_and_its_signature_of_any_bytes(raw):
    try:
        body = parse_body(raw)
    except RequestError as error:
        assert error.status == 400 and str(error).startswith("JSON Parse error: ")
        return
    try:
        assert isinstance(request_signature(body, "serving_default"), str)
    except RequestError as error:
        assert error.status == 400 and "\n" not in str(error)


@given(raw_bodies, st.sampled_from(range(len(SPECS))))
def test_the_predict_route_answers_any_bytes(raw, which):
    answer = CLIENTS[which].post("/v1/models/toy:predict", data=raw)
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, answer.get_data()
    assert answer.headers["Content-Type"].startswith("application/json")
    body = json.loads(answer.get_data())
    if answer.status_code != 200:
        assert set(body) == {"error"} and "\n" not in body["error"]


# Regression tests: the shrunk examples fuzzing found, each a plain test.


def _nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 65, 5000])
def test_lists_nested_deeper_than_a_tensor(depth):
    # Found while making the route test's deep bodies reach the parser: at 5000
    # levels the recursive walks over the lists (`_contains`, `_strings`) raised
    # RecursionError, a 500; past 64 numpy's ValueError read "ragged".
    assert parse_predict_request({"inputs": _nested(MAX_DEPTH)}, SPECS[3])[0]["x"].ndim == 32
    with pytest.raises(
        RequestError, match=rf"^input 'x': lists nested more than {MAX_DEPTH} deep$"
    ):
        parse_predict_request({"inputs": _nested(depth)}, SPECS[3])


@pytest.mark.parametrize("raw", DEEP)
def test_parse_body_of_json_nested_too_deeply(raw):
    # Found by test_the_predict_route_answers_any_bytes: json.loads raised
    # RecursionError, which the server answered with a 500 "internal error".
    with pytest.raises(
        RequestError, match="^JSON Parse error: lists or objects nested too deeply$"
    ):
        parse_body(raw)


def test_a_signature_name_that_is_not_a_string():
    # Found by test_the_predict_route_answers_any_bytes, with the body
    # {"": null, "signature_name": {"": ""}}: looking the name up raised
    # TypeError (unhashable type: 'dict'), a 500.
    with pytest.raises(RequestError, match='^\'signature_name\' must be a string; got {"": ""}$'):
        request_signature({"signature_name": {"": ""}}, "serving_default")
    assert request_signature({"signature_name": ""}, "serving_default") == "serving_default"


@pytest.mark.parametrize("raw", [*DEEP, b'{"inputs": [], "signature_name": {"": ""}}'])
def test_the_predict_route_answers_these_with_a_400(raw):
    answer = CLIENTS[0].post("/v1/models/toy:predict", data=raw)
    assert answer.status_code == 400
