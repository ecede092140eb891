"""Serving exported models over TensorFlow Serving's REST API.

- `seqlib.serving.rest`: the request and response bodies (row and columnar
  formats, `{"b64": ...}`), shared by both ends.
- `seqlib.serving.server`: `make_server(base_dir)`, a local threaded server for
  the directory `seqlib.export.export_for_serving` writes; it answers TF
  Serving's routes and picks up new versions as they appear.
- `seqlib.serving.client`: `RemoteModel(url, name)`, a served model with
  `.signatures` like a loaded SavedModel, for real TF Serving or the local server.

The submodules are imported on use: the server needs werkzeug, the client
requests and TensorFlow.
"""
