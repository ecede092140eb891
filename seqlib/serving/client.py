"""A model behind TensorFlow Serving's REST API, called like a loaded SavedModel.

`RemoteModel(url, name).signatures["serving_default"](text=...)` sends the
tensors to `POST /v1/models/NAME:predict` (columnar format, bytes as
`{"b64": ...}`) and returns a dict of tensors with the dtypes the model's
metadata names: the code that calls `tf.saved_model.load(path).signatures[...]`
works unchanged against a server, real TF Serving or `seqlib.serving.server`.

Errors: a server that cannot be reached raises `ConnectionError` (an `OSError`);
an unknown model or version `ValueError`; an input the model refuses (HTTP 400)
`tf.errors.InvalidArgumentError`, as the same call in process would.

Example:

```python
model = RemoteModel("http://127.0.0.1:8501", "sentiment")
model.signatures["serving_default"](text=tf.constant(["a lovely day"]))["label"]
# <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'positive'], dtype=object)>
```
"""

from __future__ import annotations

import re
import urllib.parse

import numpy as np
import requests
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from seqlib.serving.rest import RequestError, columnar_outputs, columnar_request

_MODEL_PATH = re.compile(
    r"(?P<root>.*?)/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?/?"
)


def parse_server_url(url, name=None):
    """`(root, model name, version)` of `http://host:port[/v1/models/NAME[/versions/N]]`.

    A URL that names no model serves `name`; `version` is None for the latest.
    """
    parsed = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"Expected a server URL like http://127.0.0.1:8501. Received: {url!r}")
    path = parsed.path.rstrip("/")
    root = f"{parsed.scheme}://{parsed.netloc}"
    match = _MODEL_PATH.fullmatch(path)
    if match:
        return (
            root + match["root"],
            match["name"],
            (int(match["version"]) if match["version"] else None),
        )
    if name is None:
        raise ValueError(f"{url} names no model: add /v1/models/NAME")
    return root + path, name, None


def _spec(info, name):
    dtype = tf.dtypes.as_dtype(types_pb2.DataType.Value(info["dtype"]))
    shape = info.get("tensor_shape", {})
    if shape.get("unknown_rank"):
        return tf.TensorSpec(None, dtype, name)
    dims = [int(d["size"]) for d in shape.get("dim", [])]
    return tf.TensorSpec([None if d < 0 else d for d in dims], dtype, name)


class RemoteSignature:
    """One signature of a served model, callable with keyword tensors.

    Attributes:
        structured_input_signature: `((), {name: tf.TensorSpec})`, as a
            concrete function has it.
        structured_outputs: `{name: tf.TensorSpec}`.
    """

    def __init__(self, model, name, signature_def):
        self.model = model
        self.name = name
        inputs = signature_def.get("inputs", {})
        outputs = signature_def.get("outputs", {})
        self.structured_input_signature = ((), {k: _spec(v, k) for k, v in inputs.items()})
        self.structured_outputs = {k: _spec(v, k) for k, v in sorted(outputs.items())}
        self._output_dtypes = {
            k: np.dtype(spec.dtype.as_numpy_dtype) for k, spec in self.structured_outputs.items()
        }

    def __call__(self, **inputs):
        specs = self.structured_input_signature[1]
        unknown = set(inputs) - set(specs)
        if unknown:
            raise TypeError(f"{self.name} has no input {sorted(unknown)}; it takes {sorted(specs)}")
        arrays = {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in inputs.items()}
        body = columnar_request(arrays, None if self.name == "serving_default" else self.name)
        answer = self.model.post(":predict", body)
        try:
            arrays = columnar_outputs(answer, self._output_dtypes)
        except RequestError as error:
            raise ValueError(
                f"{self.model.url} answered with an unexpected body: {error}"
            ) from None
        return {k: tf.constant(v, self.structured_outputs[k].dtype) for k, v in arrays.items()}


class RemoteModel:
    """A served model, read through its metadata.

    Args:
        url: `http://host:port`, or the model's own URL
            `http://host:port/v1/models/NAME[/versions/N]`.
        name: The model's name when `url` does not say it.
        timeout: Seconds to wait for an answer.

    Attributes:
        signatures: `{name: RemoteSignature}`, as `tf.saved_model.load` has them.
        version: The version the server answered with.
    """

    def __init__(self, url, name=None, timeout=120.0):
        root, self.name, pinned = parse_server_url(url, name)
        self.url = f"{root}/v1/models/{self.name}" + (f"/versions/{pinned}" if pinned else "")
        self.timeout = timeout
        self._session = requests.Session()
        metadata = self.get("/metadata")
        self.version = int(metadata.get("model_spec", {}).get("version", 0) or 0)
        defs = metadata.get("metadata", {}).get("signature_def", {}).get("signature_def", {})
        self.signatures = {
            key: RemoteSignature(self, key, value)
            for key, value in defs.items()
            if value.get("method_name") == "tensorflow/serving/predict"
        }
        if not self.signatures:
            raise ValueError(f"{self.url} has no predict signature")

    def get(self, suffix=""):
        return self._request("GET", suffix)

    def post(self, suffix, body):
        return self._request("POST", suffix, body)

    def _request(self, method, suffix, body=None):
        url = self.url + suffix
        try:
            response = self._session.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as error:
            reason = type(error).__name__
            raise ConnectionError(f"cannot reach the model server at {url} ({reason})") from None
        try:
            answer = response.json()
        except ValueError:
            answer = {"error": response.text.strip()[:200]}
        if response.ok:
            return answer
        message = answer.get("error", "") if isinstance(answer, dict) else str(answer)
        if response.status_code == 404:
            raise ValueError(f"{url}: {message}")
        if response.status_code == 400:
            raise tf.errors.InvalidArgumentError(None, None, message)
        raise ConnectionError(f"{url} answered {response.status_code}: {message}")
