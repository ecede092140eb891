"""The local REST server and client against TensorFlow Serving's REST contract.

A toy export with four signatures (strings, encoded images, two batched inputs,
scalars) is served on 127.0.0.1; the tests speak raw HTTP for the contract and
use `RemoteModel` for the client.
"""

import base64
import io
import os
import shutil
import threading
import time

import numpy as np
import pytest
import requests
import tensorflow as tf
from PIL import Image

from seqlib.export import export_for_serving
from seqlib.serving.client import RemoteModel, parse_server_url
from seqlib.serving.rest import RequestError, parse_predict_request, to_array
from seqlib.serving.server import ModelRepository, make_server


class Toy(tf.Module):
    def __init__(self, offset):
        super().__init__()
        self.offset = tf.Variable(float(offset))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        return {
            "upper": tf.strings.upper(text),
            "length": tf.cast(tf.strings.length(text), tf.float32) + self.offset,
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image")])
    def size(self, image):
        def one(data):
            return tf.shape(tf.io.decode_image(data, channels=3, expand_animations=False))[:2]

        shape = tf.map_fn(one, image, fn_output_signature=tf.TensorSpec([2], tf.int32))
        return {"height": shape[:, 0], "width": shape[:, 1], "echo_bytes": image}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 2], tf.float32, name="x"),
            tf.TensorSpec([None], tf.int32, name="k"),
        ]
    )
    def pair(self, x, k):
        return {"y": tf.reduce_sum(x, -1) * tf.cast(k, tf.float32) + self.offset}

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.string, name="prefix"),
            tf.TensorSpec([], tf.int32, name="n"),
        ]
    )
    def repeat(self, prefix, n):
        return {"text": tf.strings.reduce_join(tf.fill([n], prefix)), "twice": 2 * n}


def export_toy(base_dir, offset, version=None):
    module = Toy(offset)
    return export_for_serving(
        module,
        base_dir,
        "toy",
        signatures={
            "serving_default": module.serve,
            "size": module.size,
            "pair": module.pair,
            "repeat": module.repeat,
        },
        version=version,
    )


def png(width, height):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    export_toy(base, offset=0.0)
    messages = []
    server = make_server(base, port=0, quiet=True, poll_seconds=0, log=messages.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    yield url, base, server, messages
    server.shutdown()
    thread.join(5)


def post(url, body, path="/v1/models/toy:predict", **kwargs):
    return requests.post(url + path, json=body, timeout=30, **kwargs)


def test_binds_localhost_by_default(served):
    _, _, server, _ = served
    assert server.server_address[0] == "127.0.0.1"


def test_status_and_metadata(served):
    url, _, _, _ = served
    status = requests.get(url + "/v1/models/toy", timeout=30).json()
    assert status == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    assert requests.get(url + "/v1/models/toy/versions/1", timeout=30).json() == status
    metadata = requests.get(url + "/v1/models/toy/metadata", timeout=30).json()
    assert metadata["model_spec"] == {"name": "toy", "signature_name": "", "version": "1"}
    defs = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "size", "pair", "repeat"} <= set(defs)
    text = defs["serving_default"]["inputs"]["text"]
    assert text["dtype"] == "DT_STRING"
    assert text["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
    assert defs["serving_default"]["method_name"] == "tensorflow/serving/predict"
    assert set(defs["serving_default"]["outputs"]) == {"upper", "length"}


def test_row_and_columnar_formats(served):
    url, _, _, _ = served
    rows = post(url, {"instances": ["ab", "héllo"]})
    assert rows.status_code == 200
    # length counts bytes; upper changes ASCII letters only
    assert rows.json() == {
        "predictions": [{"length": 2.0, "upper": "AB"}, {"length": 6.0, "upper": "HéLLO"}]
    }
    named = post(url, {"instances": [{"text": "ab"}]})
    assert named.json() == {"predictions": [{"length": 2.0, "upper": "AB"}]}
    columns = post(url, {"inputs": {"text": ["ab", "c"]}})
    assert columns.json() == {"outputs": {"length": [2.0, 1.0], "upper": ["AB", "C"]}}
    bare = post(url, {"inputs": ["ab"]})
    assert bare.json() == {"outputs": {"length": [2.0], "upper": ["AB"]}}


def test_multiple_inputs_rows_and_columns(served):
    url, _, _, _ = served
    rows = post(
        url,
        {"signature_name": "pair", "instances": [{"x": [1, 2], "k": 2}, {"x": [0.5, 0], "k": 3}]},
    )
    assert rows.json() == {"predictions": [6.0, 1.5]}  # one output: bare values
    columns = post(url, {"signature_name": "pair", "inputs": {"x": [[1, 2]], "k": [2]}})
    assert columns.json() == {"outputs": [6.0]}


def test_scalar_inputs_need_the_columnar_format(served):
    url, _, _, _ = served
    body = {"signature_name": "repeat", "inputs": {"prefix": "ab", "n": 3}}
    assert post(url, body).json() == {"outputs": {"text": "ababab", "twice": 6}}
    rows = post(url, {"signature_name": "repeat", "instances": [{"prefix": "ab", "n": 3}]})
    assert rows.status_code == 400
    assert "shape" in rows.json()["error"]


def test_b64_image_bytes_in_and_bytes_outputs_out(served):
    url, _, _, _ = served
    image = png(7, 5)
    encoded = base64.b64encode(image).decode("ascii")
    answer = post(url, {"signature_name": "size", "instances": [{"b64": encoded}]})
    assert answer.status_code == 200
    (row,) = answer.json()["predictions"]
    assert (row["height"], row["width"]) == (5, 7)
    assert row["echo_bytes"] == {"b64": encoded}  # `_bytes` outputs travel as base64
    columns = post(url, {"signature_name": "size", "inputs": {"image": [{"b64": encoded}]}})
    assert columns.json()["outputs"]["width"] == [7]


@pytest.mark.parametrize(
    "body, status, words",
    [
        ("{not json", 400, "JSON Parse error"),
        ({"instances": ["a"], "inputs": ["a"]}, 400, "exactly one"),
        ({"text": ["a"]}, 400, "exactly one"),
        ({"inputs": {"txt": ["a"]}}, 400, "no input named 'txt'"),
        ({"signature_name": "pair", "inputs": {"x": [[1, 2]]}}, 400, "missing input 'k'"),
        ({"instances": []}, 400, "non-empty"),
        ({"inputs": {"text": [1, 2]}}, 400, "expected strings"),
        ({"inputs": {"text": [{"b64": "!!"}]}}, 400, "base64"),
        ({"signature_name": "pair", "inputs": {"x": [[1, "a"]], "k": [1]}}, 400, "numbers"),
        ({"signature_name": "pair", "inputs": {"x": [[1, 2, 3]], "k": [1]}}, 400, "shape"),
        ({"signature_name": "pair", "inputs": {"x": [[1], [2, 3]], "k": [1]}}, 400, "ragged"),
        (
            {"signature_name": "pair", "instances": [{"x": [1, 2], "k": [1, 2]}]},
            400,
            "shape",
        ),
        ({"signature_name": "nope", "inputs": ["a"]}, 404, "nope"),
        ({"signature_name": "pair", "inputs": {"x": [[1, 2]], "k": [1e30]}}, 400, "wrong type"),
    ],
)
def test_bad_requests_get_json_errors(served, body, status, words):
    url, _, _, _ = served
    if isinstance(body, str):
        answer = requests.post(url + "/v1/models/toy:predict", data=body, timeout=30)
    else:
        answer = post(url, body)
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("application/json")
    assert words in answer.json()["error"]


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("POST", "/v1/models/missing:predict", 404),
        ("GET", "/v1/models/missing", 404),
        ("GET", "/v1/models/toy/versions/7", 404),
        ("POST", "/v1/models/toy/versions/7:predict", 404),
        ("GET", "/v1/models/toy:predict", 405),
        ("GET", "/v2/anything", 404),
        ("POST", "/v1/models/toy:classify", 404),
    ],
)
def test_unknown_models_versions_and_routes(served, method, path, status):
    url, _, _, _ = served
    answer = requests.request(method, url + path, json={"instances": ["a"]}, timeout=30)
    assert answer.status_code == status
    assert answer.json()["error"]


def test_an_unexpected_failure_is_a_json_500(served, monkeypatch):
    from seqlib.serving.server import Servable

    url, _, _, messages = served

    def broken(self, signature, inputs):
        raise RuntimeError("the model blew up\nsecond line")

    monkeypatch.setattr(Servable, "predict", broken)
    answer = post(url, {"instances": ["a"]})
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error: the model blew up"}
    assert "RuntimeError: the model blew up" in messages[-1]


def test_request_size_limit(tmp_path):
    export_toy(tmp_path, offset=0.0)
    server = make_server(tmp_path, port=0, quiet=True, poll_seconds=0, max_request_bytes=1000)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert post(url, {"instances": ["a" * 100]}).status_code == 200
        answer = post(url, {"instances": ["a" * 2000]})
        assert answer.status_code == 413
        assert "limit of 1000 bytes" in answer.json()["error"]
    finally:
        server.shutdown()


def test_new_versions_are_picked_up_and_broken_ones_skipped(tmp_path):
    export_toy(tmp_path, offset=0.0)
    server = make_server(tmp_path, port=0, quiet=True, poll_seconds=0.05, log=lambda m: None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"

    def wait_for(version):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = requests.get(url + "/v1/models/toy", timeout=30).json()
            if status["model_version_status"][0]["version"] == str(version):
                return
            time.sleep(0.05)
        raise AssertionError(f"version {version} was not picked up")

    try:
        assert post(url, {"instances": ["ab"]}).json()["predictions"][0]["length"] == 2.0
        export_toy(tmp_path, offset=10.0)  # version 2, while serving
        wait_for(2)
        assert post(url, {"instances": ["ab"]}).json()["predictions"][0]["length"] == 12.0
        assert requests.get(url + "/v1/models/toy/versions/1", timeout=30).status_code == 404
        broken = tmp_path / "toy" / "3"
        broken.mkdir()
        (broken / "saved_model.pb").write_bytes(b"not a saved model")
        time.sleep(0.5)  # a few polls
        assert post(url, {"instances": ["ab"]}).json()["predictions"][0]["length"] == 12.0
        shutil.rmtree(tmp_path / "toy")  # the model is gone: no longer served
        deadline = time.monotonic() + 30
        while requests.get(url + "/v1/models/toy", timeout=30).status_code != 404:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        server.shutdown()


def test_repository_reports_a_failed_load(tmp_path):
    broken = tmp_path / "toy" / "1"
    broken.mkdir(parents=True)
    (broken / "saved_model.pb").write_bytes(b"garbage")
    messages = []
    repository = ModelRepository(tmp_path, log=messages.append)
    assert repository.refresh() == []
    assert repository.names() == []
    assert len(messages) == 1 and "toy version 1 failed to load" in messages[0]
    repository.refresh()
    assert len(messages) == 1  # not retried on every poll


def test_remote_model_equals_the_loaded_export(served):
    url, base, _, _ = served
    remote = RemoteModel(url, "toy")
    local = tf.saved_model.load(os.path.join(base, "toy", "1"))
    assert remote.version == 1
    assert set(remote.signatures) == {"serving_default", "size", "pair", "repeat"}
    calls = {
        "serving_default": {"text": tf.constant(["ab", "héllo", ""])},
        "size": {"image": tf.constant([png(3, 4), png(9, 2)])},
        "pair": {"x": tf.constant([[0.1, 0.2], [1e-7, 3.0]]), "k": tf.constant([3, 1])},
        "repeat": {"prefix": tf.constant("xy"), "n": tf.constant(2)},
    }
    for name, inputs in calls.items():
        got = remote.signatures[name](**inputs)
        want = local.signatures[name](**inputs)
        assert set(got) == set(want)
        for key in want:
            assert got[key].dtype == want[key].dtype, (name, key)
            np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())
    spec = remote.signatures["pair"].structured_input_signature[1]["x"]
    assert spec.shape.as_list() == [None, 2] and spec.dtype == tf.float32


def test_remote_model_errors(served):
    url, _, _, _ = served
    remote = RemoteModel(url + "/v1/models/toy/versions/1")
    with pytest.raises(tf.errors.InvalidArgumentError, match="shape"):
        remote.signatures["pair"](x=tf.constant([[1.0, 2.0, 3.0]]), k=tf.constant([1]))
    with pytest.raises(ValueError, match="Servable not found"):
        RemoteModel(url, "missing")
    with pytest.raises(ConnectionError, match="cannot reach"):
        RemoteModel("http://127.0.0.1:9", "toy", timeout=5)  # discard port: nothing listens


@pytest.mark.parametrize(
    "url, root, name, version",
    [
        ("http://localhost:8501", "http://localhost:8501", "app", None),
        ("localhost:8501/", "http://localhost:8501", "app", None),
        ("https://h/v1/models/other", "https://h", "other", None),
        ("http://h:1/prefix/v1/models/m/versions/3", "http://h:1/prefix", "m", 3),
    ],
)
def test_parse_server_url(url, root, name, version):
    assert parse_server_url(url, "app") == (root, name, version)


def test_parse_server_url_refuses_other_schemes():
    with pytest.raises(ValueError, match="server URL"):
        parse_server_url("ftp://h:1", "app")


def test_codec_checks_shapes_and_types():
    strings = np.dtype(object)
    assert to_array([["a"], ["b"]], strings, (None, 1), "x").shape == (2, 1)
    with pytest.raises(RequestError, match="ragged"):
        to_array([["a"], ["b", "c"]], strings, None, "x")
    with pytest.raises(RequestError, match=r"has shape \(2,\)"):
        to_array([1, 2], np.dtype("float32"), (None, 2), "x")
    inputs, rows = parse_predict_request(
        {"instances": [{"b64": base64.b64encode(b"\x89PNG").decode()}]},
        {"image": (strings, (None,))},
    )
    assert rows and inputs["image"].tolist() == [b"\x89PNG"]
