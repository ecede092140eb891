"""A local server for exported models that speaks TensorFlow Serving's REST API.

It serves the directory `export_for_serving` writes (`<base_dir>/<model>/<version>/`),
so the commands and clients that work against TF Serving work against it, on a
machine without Docker:

- `GET  /v1/models/NAME[/versions/N]`: the versions loaded, TF Serving's
  `model_version_status`.
- `GET  /v1/models/NAME[/versions/N]/metadata`: the signatures, as TF Serving
  writes them (`model_spec` and `metadata.signature_def`).
- `POST /v1/models/NAME[/versions/N]:predict`: row (`instances`) or columnar
  (`inputs`) bodies, `{"b64": ...}` for bytes (see `seqlib.serving.rest`).

- `GET  /` and any other path outside `/v1/`: the files of a static folder, by
  default the playground page of this repository (`serving/playground/`), a
  page that asks the models above through these same routes.

Errors are `{"error": "..."}`: 400 for a malformed body or wrong inputs, 404 for
an unknown model, version, signature or path, 413 for a body over the size limit.

Like TF Serving with the "latest" version policy, each model serves its highest
complete version; a poller thread loads a new version directory when it appears
(loading happens beside the serving, then the new version replaces the old one
in one step) and drops models whose directory is gone. A version that fails to
load is reported on stderr and the previous one keeps serving.

It binds 127.0.0.1 unless told otherwise: there is no authentication.

Example:

```python
server = make_server("models", port=0)  # port 0: any free port
threading.Thread(target=server.serve_forever, daemon=True).start()
# curl -d '{"instances": ["a lovely day"]}' \
#     http://127.0.0.1:<server.server_port>/v1/models/sentiment:predict
server.shutdown()
```
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import sys
import threading

import numpy as np
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server as _werkzeug_server
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from seqlib.export.models_config import served_models
from seqlib.export.versions import latest_version, version_dirs
from seqlib.serving.rest import (
    RequestError,
    parse_body,
    parse_predict_request,
    predict_response,
    request_signature,
)

DEFAULT_SIGNATURE = "serving_default"
DEFAULT_MAX_REQUEST_BYTES = 16 * 2**20
# The playground page of a checkout (absent from an installed wheel: `GET /` is then a 404).
PLAYGROUND_DIR = pathlib.Path(__file__).resolve().parents[2] / "serving" / "playground"

_ROUTE = re.compile(
    r"/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<verb>/metadata|:predict|:classify|:regress)?/?"
)


@dataclasses.dataclass
class Servable:
    """One loaded version of a model.

    Attributes:
        name: The model's name.
        version: Its version number.
        path: The version directory.
        signatures: `{signature name: concrete function}` of the loaded SavedModel.
    """

    name: str
    version: int
    path: str
    signatures: dict
    loaded: object = None  # the SavedModel object: its functions hold it weakly
    _metadata: dict | None = None

    @classmethod
    def load(cls, name, version, path):
        import tensorflow as tf

        loaded = tf.saved_model.load(path)
        return cls(name, version, path, dict(loaded.signatures), loaded)

    def input_specs(self, signature):
        """`{input name: (numpy dtype, shape)}` of a signature, as `rest` takes them."""
        specs = self.signatures[signature].structured_input_signature[1]
        return {
            name: (
                np.dtype(spec.dtype.as_numpy_dtype),
                tuple(spec.shape.as_list()) if spec.shape.rank is not None else None,
            )
            for name, spec in specs.items()
        }

    def predict(self, signature, inputs):
        import tensorflow as tf

        specs = self.signatures[signature].structured_input_signature[1]
        tensors = {name: tf.constant(value, specs[name].dtype) for name, value in inputs.items()}
        outputs = self.signatures[signature](**tensors)
        return {name: outputs[name].numpy() for name in sorted(outputs)}

    def metadata(self):
        """The `signature_def` map of the SavedModel, as TF Serving's JSON writes it."""
        if self._metadata is None:
            from google.protobuf import json_format
            from tensorflow.core.protobuf import saved_model_pb2

            saved = saved_model_pb2.SavedModel()
            with open(os.path.join(self.path, "saved_model.pb"), "rb") as f:
                saved.ParseFromString(f.read())
            graph = next(
                (m for m in saved.meta_graphs if "serve" in m.meta_info_def.tags),
                saved.meta_graphs[0],
            )
            self._metadata = {
                name: json_format.MessageToDict(
                    graph.signature_def[name],
                    preserving_proto_field_name=True,
                    always_print_fields_with_no_presence=True,
                )
                for name in sorted(graph.signature_def)
            }
        return self._metadata


class ModelRepository:
    """The models of `base_dir`, each at its highest complete version, kept current
    by `refresh()` (called by a poller thread in `make_server`).

    Args:
        base_dir: The directory holding one folder per model.
        load: `(name, version, path) -> Servable`; `Servable.load` by default.
        log: Where loading and unloading is reported (a `print`-like callable).
    """

    def __init__(self, base_dir, load=Servable.load, log=None):
        self.base_dir = os.fspath(base_dir)
        self._load = load
        self.log = log or (lambda message: print(message, file=sys.stderr, flush=True))
        self._servables = {}  # name -> Servable
        self._failed = set()  # (name, version) that did not load; not retried
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()

    def names(self):
        with self._lock:
            return sorted(self._servables)

    def get(self, name, version=None):
        """The servable answering for `name` (and `version`, if given)."""
        with self._lock:
            servable = self._servables.get(name)
        if servable is None:
            raise RequestError(
                f"Servable not found for request: "
                f"{'Specific' if version else 'Latest'}({name}{f', {version}' if version else ''})"
                f"; models served: {', '.join(self.names()) or 'none'}",
                status=404,
            )
        if version is not None and version != servable.version:
            raise RequestError(
                f"Servable not found for request: Specific({name}, {version}); "
                f"{name} serves version {servable.version}",
                status=404,
            )
        return servable

    def refresh(self):
        """Loads new versions and drops models that left `base_dir`; returns the changes."""
        with self._refreshing:  # one refresh at a time; serving goes on meanwhile
            changes = []
            names = served_models(self.base_dir)
            for name in names:
                version = latest_version(self.base_dir, name)
                with self._lock:
                    current = self._servables.get(name)
                if version is None or (current is not None and current.version == version):
                    continue
                if (name, version) in self._failed:
                    continue
                path = os.path.join(self.base_dir, name, version_dirs(self.base_dir, name)[version])
                try:
                    servable = self._load(name, version, path)
                except Exception as error:  # a broken export must not stop the server
                    self._failed.add((name, version))
                    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                    self.log(
                        f"{name} version {version} failed to load ({first}); still serving "
                        f"{f'version {current.version}' if current else 'nothing'}"
                    )
                    continue
                with self._lock:
                    self._servables[name] = servable
                changes.append((name, version))
                self.log(f"serving {name} version {version} ({path})")
            with self._lock:
                gone = sorted(set(self._servables) - set(names))
                for name in gone:
                    del self._servables[name]
            for name in gone:
                self.log(f"stopped serving {name}: {os.path.join(self.base_dir, name)} is gone")
            return changes


def _json(body, status=200):
    return Response(
        json.dumps(body, ensure_ascii=False, allow_nan=True) + "\n",
        status=status,
        mimetype="application/json",
    )


def _error(message, status):
    return _json({"error": message}, status)


_FUNCTION_NODE = re.compile(r"^(\{\{function_node [^}]*\}\}\s*)+")
_ASSERTION = re.compile(r"assertion failed: \[(.*)\]")


def error_message(error):
    """The first line of what failed in `error`, for a person.

    TensorFlow wraps an op's message: a graph called from Python starts with
    "Graph execution error:" and the Python stack of the op; a function adds
    "{{function_node ...}}"; autograph writes "in user code:", the stack, then
    the error; an `Assert` writes "assertion failed: [<message>]". The
    wrappings are taken off.
    """
    text = getattr(error, "message", None) or str(error)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines and lines[0].strip() == "in user code:":
        lines = [re.sub(r"^\w+Error: ", "", lines[-1].strip())]
    elif lines and lines[0].startswith("Graph execution error"):
        lines = [
            line
            for line in lines[1:]
            if not line[0].isspace()
            and not line.startswith(("Detected at node", "<stack traces unavailable>"))
        ]
    first = _FUNCTION_NODE.sub("", lines[0]) if lines else type(error).__name__
    match = _ASSERTION.search(first)
    return match.group(1) if match else first


class RestApp:
    """The WSGI application: TF Serving's REST routes over a `ModelRepository`.

    Args:
        repository: The models to serve.
        max_request_bytes: Larger bodies are refused with 413.
        log: Where unexpected errors are reported (the repository's log by default).
        static_dir: A folder whose files answer `GET` outside `/v1/` (`/` is its
            `index.html`); None answers those paths 404.
    """

    def __init__(
        self, repository, max_request_bytes=DEFAULT_MAX_REQUEST_BYTES, log=None, static_dir=None
    ):
        self.repository = repository
        self.max_request_bytes = max_request_bytes
        self.log = log or repository.log
        self.static_dir = None if static_dir is None else os.fspath(static_dir)

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = self.max_request_bytes
        try:
            response = self.dispatch(request)
        except RequestError as error:
            response = _error(str(error), error.status)
        except RequestEntityTooLarge:
            response = _error(
                f"the request is larger than the server's limit of {self.max_request_bytes} bytes",
                413,
            )
        except HTTPException as error:
            response = _error(error.description or error.name, error.code or 400)
        except Exception as error:  # a bug or a failing model: still a JSON answer
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            self.log(f"{request.method} {request.path}: {type(error).__name__}: {first}")
            response = _error(f"internal error: {first}", 500)
        return response(environ, start_response)

    def dispatch(self, request):
        match = _ROUTE.fullmatch(request.path)
        if match is None:
            if not request.path.startswith("/v1/") and request.method in ("GET", "HEAD"):
                return self.static(request)
            raise RequestError(f"Malformed request: {request.method} {request.path}", 404)
        if match["label"] is not None:
            raise RequestError(
                "version labels are not supported by this server; use versions/N", 404
            )
        name, verb = match["name"], match["verb"]
        version = int(match["version"]) if match["version"] else None
        if verb in (":predict", ":classify", ":regress"):
            if request.method != "POST":
                raise RequestError(f"{verb[1:]} takes POST; received {request.method}", 405)
            if verb != ":predict":
                raise RequestError(f"{verb[1:]} is not supported by this server; use :predict", 404)
            return self.predict(request, self.repository.get(name, version))
        if request.method != "GET":
            raise RequestError(f"Malformed request: {request.method} {request.path}", 405)
        servable = self.repository.get(name, version)
        if verb == "/metadata":
            return _json(
                {
                    "model_spec": {
                        "name": name,
                        "signature_name": "",
                        "version": str(servable.version),
                    },
                    "metadata": {"signature_def": {"signature_def": servable.metadata()}},
                }
            )
        return _json(
            {
                "model_version_status": [
                    {
                        "version": str(servable.version),
                        "state": "AVAILABLE",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                ]
            }
        )

    def static(self, request):
        """A file of `static_dir` (its `index.html` for a folder); 404 if absent."""
        if self.static_dir is None or not os.path.isdir(self.static_dir):
            raise RequestError(
                f"No page at {request.path}: this server has no static folder "
                f"(the playground is serving/playground/ of a checkout)",
                404,
            )
        path = request.path.lstrip("/")
        if path == "" or path.endswith("/"):
            path += "index.html"
        try:
            # send_from_directory refuses paths that leave the folder (`..`, absolute).
            response = send_from_directory(self.static_dir, path, request.environ)
        except NotFound:
            raise RequestError(f"Not found: {request.path}", 404) from None
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def predict(self, request, servable):
        import tensorflow as tf

        raw = request.get_data(cache=False)  # 413 past the limit
        body = parse_body(raw)
        signature = request_signature(body, DEFAULT_SIGNATURE)
        if signature not in servable.signatures:
            raise RequestError(
                f'Serving signature name: "{signature}" not found in signature def; '
                f"{servable.name} has {', '.join(sorted(servable.signatures))}",
                404,
            )
        inputs, row_format = parse_predict_request(body, servable.input_specs(signature))
        try:
            outputs = servable.predict(signature, inputs)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
            raise RequestError(error_message(error)) from None
        return _json(predict_response(outputs, row_format))


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def make_server(
    base_dir,
    host="127.0.0.1",
    port=8501,
    max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
    poll_seconds=2.0,
    quiet=False,
    log=None,
    static_dir=PLAYGROUND_DIR,
):
    """A threaded HTTP server for the models of `base_dir`, loaded before it returns.

    Args:
        base_dir: The directory holding one folder per model.
        host: The address to bind; 127.0.0.1 keeps it to this machine.
        port: The port; 0 picks a free one (`server.server_port`).
        max_request_bytes: Larger request bodies are answered 413.
        poll_seconds: How often new versions are looked for; 0 turns polling off.
        quiet: Do not log every request.
        log: `print`-like callable for loading messages (stderr by default).
        static_dir: The folder served at `/` and the other paths outside `/v1/`:
            the playground page by default; None: no page.

    Returns:
        The server (`serve_forever()`, `shutdown()`, `server_port`); its
        `repository` attribute is the `ModelRepository`.
    """
    repository = ModelRepository(base_dir, log=log)
    repository.refresh()
    handler = _QuietHandler if quiet else WSGIRequestHandler
    server = _werkzeug_server(
        host,
        port,
        RestApp(repository, max_request_bytes, static_dir=static_dir),
        threaded=True,
        request_handler=handler,
    )
    server.repository = repository
    if poll_seconds:
        stop = threading.Event()

        def poll():
            while not stop.wait(poll_seconds):
                repository.refresh()

        threading.Thread(target=poll, name="model-poller", daemon=True).start()
        shutdown = server.shutdown

        def shutdown_all():
            stop.set()
            shutdown()

        server.shutdown = shutdown_all
    return server
