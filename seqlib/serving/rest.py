"""TensorFlow Serving's REST request and response bodies, in both directions.

The server (`seqlib.serving.server`) and the client (`seqlib.serving.client`)
share these functions, so a body the client writes is one the server reads,
and both follow TF Serving's documented format
(https://www.tensorflow.org/tfx/serving/api_rest):

- Row format, `{"instances": [...]}`: a list with one entry per example. With
  one named input an entry is that input's value; otherwise it is an object
  `{input name: value}`. All inputs share the batch dimension. The answer is
  `{"predictions": [...]}`, one entry per example: the output's value when the
  signature has one output, else an object `{output name: value}`.
- Columnar format, `{"inputs": ...}`: the whole batch of each input, `{input
  name: value}` (or the value alone with one input); inputs may differ in their
  first dimension and may be scalars. The answer is `{"outputs": ...}`, the same
  shape of object.
- Strings travel as JSON strings; binary data (encoded images) as `{"b64":
  "<base64>"}`. An output string is written as `{"b64": ...}` when the output's
  name ends in `_bytes` (TF Serving's rule) or when it is not valid UTF-8 (JSON
  cannot carry it otherwise).
- A refused request is answered `{"error": "<message>"}` with a 4xx status:
  `parse_body` and `request_signature` read the raw body and the signature it
  names, `parse_predict_request` its inputs, and each refuses what it cannot
  use with a `RequestError` (never another exception, whatever the bytes).

Nothing here imports TensorFlow: the values are numpy arrays, and a signature's
inputs are described by `TensorSpec`-like `(dtype, shape)` pairs with numpy
dtypes (`object` for strings) and `None` for unknown dimensions.

Example:

```python
specs = {"text": (np.dtype(object), (None,))}
inputs, row_format = parse_predict_request({"instances": ["a good film"]}, specs)
inputs["text"]  # array([b'a good film'], dtype=object)
predict_response({"label": np.array([b"positive"])}, row_format)
# {"predictions": ["positive"]}
```
"""

from __future__ import annotations

import base64
import binascii
import json

import numpy as np

STRING = np.dtype(object)
# Lists nested deeper than this are refused before they are walked: an input of
# more dimensions is no tensor a model takes, and walking the nesting would
# take one Python frame a level (numpy itself stops at 64 dimensions).
MAX_DEPTH = 32


class RequestError(ValueError):
    """A request the server refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def parse_body(raw):
    """The JSON value of a request body (bytes: UTF-8, -16 or -32).

    Raises:
        RequestError: 400, `JSON Parse error: ...`, for bytes that are not JSON,
            an integer of more digits than Python reads, or nesting deeper than
            Python's stack (which `json.loads` answers with RecursionError).
    """
    try:
        return json.loads(raw)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise RequestError(f"JSON Parse error: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise RequestError("JSON Parse error: lists or objects nested too deeply") from None


def request_signature(body, default):
    """The signature a parsed `:predict` body asks for: its `signature_name`,
    `default` when it names none.

    Raises:
        RequestError: 400 when `signature_name` is not a string (a list or an
            object cannot even be looked up).
    """
    name = body.get("signature_name") if isinstance(body, dict) else None
    if name is None or name == "":
        return default
    if not isinstance(name, str):
        raise RequestError(f"'signature_name' must be a string; got {json.dumps(name)[:60]}")
    return name


def _depth(value):
    """How deep `value`'s lists nest (0 for a scalar), found without recursion;
    stops counting past `MAX_DEPTH`."""
    depth, level = 0, [value]
    while depth <= MAX_DEPTH:
        lists = [v for v in level if isinstance(v, list)]
        if not lists:
            break
        depth += 1
        level = [item for v in lists for item in v]
    return depth


def _b64(value):
    try:
        return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise RequestError(
            f"invalid base64 in {{'b64': ...}}: {str(value['b64'])[:40]!r}"
        ) from None


def _is_b64(value):
    return isinstance(value, dict) and set(value) == {"b64"}


def _strings(value, where):
    """Nested lists of JSON strings and `{"b64": ...}` objects -> nested lists of bytes."""
    if isinstance(value, list):
        return [_strings(v, where) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    if _is_b64(value):
        return _b64(value)
    raise RequestError(f"{where}: expected strings (or {{'b64': ...}}), got {value!r:.60}")


def to_array(value, dtype, shape, where):
    """A JSON value as a numpy array of `dtype`, checked against `shape`.

    Args:
        value: Nested JSON lists of numbers, booleans, strings or `{"b64": ...}`.
        dtype: The numpy dtype (`object` for strings).
        shape: The expected shape, `None` for any size; `None` for any rank.
        where: Names the value in error messages, e.g. `"input 'text'"`.
    """
    if _depth(value) > MAX_DEPTH:
        raise RequestError(f"{where}: lists nested more than {MAX_DEPTH} deep")
    try:
        if dtype == STRING:
            array = np.array(_strings(value, where), dtype=STRING)
            if array.dtype != STRING or any(
                not isinstance(x, bytes) for x in array.reshape(-1).tolist()
            ):
                raise ValueError("ragged")
        else:
            if _contains(value, lambda v: isinstance(v, (str, dict))):
                raise RequestError(f"{where}: expected numbers, got {value!r:.60}")
            array = np.array(value, dtype=dtype)
    except RequestError:
        raise
    except (ValueError, TypeError, OverflowError):
        raise RequestError(f"{where}: the lists are ragged or hold the wrong type") from None
    if shape is not None:
        if array.ndim != len(shape) or any(
            want is not None and want != got for want, got in zip(shape, array.shape)
        ):
            expected = "(" + ", ".join("-1" if d is None else str(d) for d in shape) + ")"
            raise RequestError(
                f"{where} has shape {tuple(array.shape)}; the signature takes {expected} "
                "(-1: any size)"
            )
    return array


def _contains(value, predicate):
    if isinstance(value, list):
        return any(_contains(v, predicate) for v in value)
    return predicate(value)


def parse_predict_request(body, specs):
    """The inputs of a `:predict` body.

    Args:
        body: The parsed JSON body.
        specs: `{input name: (numpy dtype, shape)}` of the signature.

    Returns:
        `(inputs, row_format)`: `{name: numpy array}` and whether the body used
        the row (`instances`) format, which the answer must use too.
    """
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    has_rows, has_columns = "instances" in body, "inputs" in body
    if has_rows == has_columns:
        raise RequestError(
            "the request must have exactly one of 'instances' (row format) or 'inputs' "
            "(columnar format)"
        )
    names = list(specs)
    if has_rows:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise RequestError("'instances' must be a non-empty list")
        named = all(isinstance(r, dict) and not _is_b64(r) for r in rows)
        if named:
            keys = set(rows[0])
            if any(set(r) != keys for r in rows):
                raise RequestError("every instance must have the same named inputs")
            columns = {key: [r[key] for r in rows] for key in keys}
        elif len(names) == 1:
            columns = {names[0]: rows}
        else:
            raise RequestError(
                f"the signature has {len(names)} inputs ({', '.join(names)}): each instance "
                "must be an object naming them"
            )
    else:
        value = body["inputs"]
        if isinstance(value, dict) and not _is_b64(value):
            columns = value
        elif len(names) == 1:
            columns = {names[0]: value}
        else:
            raise RequestError(
                f"the signature has {len(names)} inputs ({', '.join(names)}): 'inputs' must "
                "be an object naming them"
            )
    unknown = sorted(set(columns) - set(names))
    if unknown:
        raise RequestError(
            f"the signature has no input named {', '.join(map(repr, unknown))}; "
            f"its inputs are {', '.join(map(repr, names))}"
        )
    missing = [name for name in names if name not in columns]
    if missing:
        raise RequestError(f"missing input {', '.join(map(repr, missing))}")
    inputs = {
        name: to_array(columns[name], *specs[name], where=f"input {name!r}") for name in names
    }
    if has_rows:
        sizes = {name: a.shape[0] if a.ndim else None for name, a in inputs.items()}
        if len(set(sizes.values())) > 1:
            raise RequestError(f"the inputs of the instances differ in batch size: {sizes}")
    return inputs, has_rows


def _json_value(array, name):
    """A numpy output as JSON-ready nested lists."""
    array = np.asarray(array)
    if array.dtype == STRING or array.dtype.kind == "S":
        as_b64 = name.endswith("_bytes")

        def encode(x):
            if not as_b64:
                try:
                    return x.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            return {"b64": base64.b64encode(x).decode("ascii")}

        flat = np.empty(array.size, dtype=object)
        flat[:] = [encode(x) for x in array.reshape(-1).tolist()]
        return flat.reshape(array.shape).tolist()
    return array.tolist()  # float32 -> Python float: the same number, exactly


def predict_response(outputs, row_format):
    """The JSON body answering `:predict` with `outputs` (`{name: numpy array}`)."""
    names = list(outputs)
    if not row_format:
        if len(names) == 1:
            return {"outputs": _json_value(outputs[names[0]], names[0])}
        return {"outputs": {name: _json_value(outputs[name], name) for name in names}}
    sizes = {name: np.shape(outputs[name])[0] if np.ndim(outputs[name]) else None for name in names}
    if None in sizes.values() or len(set(sizes.values())) > 1:
        raise RequestError(
            f"the outputs do not share a batch dimension ({sizes}): ask in the columnar "
            "format ('inputs')"
        )
    columns = {name: _json_value(outputs[name], name) for name in names}
    if len(names) == 1:
        return {"predictions": columns[names[0]]}
    return {
        "predictions": [{name: columns[name][i] for name in names} for i in range(sizes[names[0]])]
    }


def columnar_request(inputs, signature_name=None):
    """The `:predict` body a client sends: `{"inputs": {name: value}}`.

    Values are numpy arrays or scalars; strings and bytes become JSON strings,
    or `{"b64": ...}` when they are not UTF-8 text (encoded images).
    """
    body = {
        "inputs": {name: _json_value(np.asarray(value), name) for name, value in inputs.items()}
    }
    if signature_name:
        body["signature_name"] = signature_name
    return body


def columnar_outputs(body, specs):
    """The outputs of a columnar answer as numpy arrays.

    Args:
        body: The parsed JSON answer, `{"outputs": ...}`.
        specs: `{output name: numpy dtype}` of the signature, in its order.
    """
    if not isinstance(body, dict) or "outputs" not in body:
        raise RequestError(f"the answer has no 'outputs': {str(body)[:80]}")
    names = list(specs)
    values = body["outputs"]
    if len(names) == 1 and not (isinstance(values, dict) and set(values) == set(names)):
        values = {names[0]: values}
    if not isinstance(values, dict) or set(values) != set(names):
        raise RequestError(f"the answer's outputs are not {names}")
    return {name: to_array(values[name], specs[name], None, f"output {name!r}") for name in names}
