"""Writing a versioned SavedModel that TensorFlow Serving loads."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping

import tensorflow as tf

from seqlib.export.models_config import MODEL_NAME, write_models_config
from seqlib.export.versions import next_version, version_dirs

SERVING_DEFAULT = "serving_default"

# Files that travel with an export without being part of the graph (the app config,
# say) go here: the SavedModel format reserves `assets.extra/` for them, and TF
# Serving reads its warm-up requests from the same folder.
EXTRA_ASSETS_DIR = "assets.extra"


class _ServingRoot(tf.Module):
    """What is saved: the signatures' variables and lookup tables, nothing else.

    Saving a module that holds a Keras 3 model saves each `keras.Variable` as a
    variable of its own, while the graph reads the `tf.Variable` inside it, which
    the SavedModel's restore op never initialises: `tf.saved_model.load` copes, but
    TF Serving and `saved_model_cli run` fail with "Could not find variable
    gru/gru_cell/recurrent_kernel". A root holding the inner variables themselves
    gets them restored, each once (keras' own `model.export` saves them twice).
    """

    def __init__(self, variables, resources):
        super().__init__(name="serving_root")
        self.model_variables = list(variables)
        self.resources = list(resources)


def _concrete(name, function):
    if isinstance(function, tf.types.experimental.ConcreteFunction):
        return function
    if isinstance(function, tf.types.experimental.PolymorphicFunction):
        try:
            return function.get_concrete_function()
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Expected signature '{name}' to be a tf.function with an `input_signature`, "
                f"or a concrete function. Received: {function!r} ({error})"
            ) from error
    raise ValueError(
        f"Expected signature '{name}' to be a tf.function or a concrete function. "
        f"Received: {function!r}"
    )


def _check_outputs(name, function):
    # TF Serving answers with the output names; a bare tensor would come back as
    # "output_0", which no client should have to know.
    outputs = function.structured_outputs
    if (
        not isinstance(outputs, Mapping)
        or not outputs
        or not all(
            isinstance(key, str) and isinstance(value, tf.Tensor) for key, value in outputs.items()
        )
    ):
        raise ValueError(
            f"Expected signature '{name}' to return a non-empty dict from output names to "
            f"tensors. Received: {outputs!r}"
        )


def _resolve_signatures(module, signatures):
    if signatures is None:
        serve = getattr(module, "serve", None)
        if serve is None:
            raise ValueError(
                "Expected `signatures`, or a `serve` tf.function on the module to use as "
                f"'{SERVING_DEFAULT}'. Received: signatures=None, module={module!r}"
            )
        signatures = {SERVING_DEFAULT: serve}
    if not isinstance(signatures, Mapping) or SERVING_DEFAULT not in signatures:
        keys = sorted(signatures) if isinstance(signatures, Mapping) else signatures
        raise ValueError(
            f"Expected a dict of signatures with a '{SERVING_DEFAULT}' key. "
            f"Received: signatures={keys!r}"
        )
    resolved = {}
    for name, function in signatures.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"Expected signature names to be strings. Received: {name!r}")
        resolved[name] = _concrete(name, function)
        _check_outputs(name, resolved[name])
    return resolved


def _used_state(module, functions):
    """The variables and lookup tables the signatures read, each once."""
    variables, seen = [], set()
    for function in functions:
        for variable in function.variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
    # Lookup tables (the vocabulary of a TextVectorization layer) are captured as
    # bare resource handles: find their owners under the module and keep those the
    # signatures use.
    captured = {id(tensor) for function in functions for tensor in function.captured_inputs}
    try:
        descendants = tf.train.TrackableView(module).descendants()
    except (TypeError, AttributeError) as error:
        raise ValueError(
            "Expected `module` to be a tf.Module or a Keras model holding what the "
            f"signatures use. Received: module={module!r} ({error})"
        ) from error
    resources = [
        trackable
        for trackable in descendants
        if isinstance(trackable, tf.saved_model.experimental.TrackableResource)
        and id(trackable.resource_handle) in captured
    ]
    return variables, resources


def _gpu_only_ops(functions):
    ops = set()
    for function in functions:
        graph_def = function.graph.as_graph_def()
        nodes = list(graph_def.node)
        for library_function in graph_def.library.function:
            nodes.extend(library_function.node_def)
        ops.update(node.op for node in nodes if node.op.startswith("Cudnn"))
    return sorted(ops)


def _check_extra_assets(extra_assets):
    if extra_assets is None:
        return {}
    if not isinstance(extra_assets, Mapping):
        raise ValueError(
            "Expected `extra_assets` to be a dict from file names to str or bytes. "
            f"Received: extra_assets={extra_assets!r}"
        )
    for name, content in extra_assets.items():
        if (
            not isinstance(name, str)
            or name in ("", ".", "..")
            or os.path.basename(name) != name
            or "/" in name
        ):
            raise ValueError(
                f"Expected plain file names as `extra_assets` keys. Received: {name!r}"
            )
        if not isinstance(content, (str, bytes)):
            raise ValueError(
                f"Expected str or bytes contents in `extra_assets`. Received: "
                f"{name!r}: {type(content).__name__}"
            )
    return dict(extra_assets)


def _fsync_tree(path):
    # A crash right after the rename must not leave a version whose files are
    # still in the page cache only.
    for folder, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(folder)


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # directories cannot be opened on some platforms
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _taken(base_dir, model_name, version):
    # "007" is version 7 for TF Serving; a stray file named "7" blocks the rename.
    return version in version_dirs(base_dir, model_name) or os.path.lexists(
        os.path.join(base_dir, model_name, str(version))
    )


def _claim_version(tmp_dir, base_dir, model_name, version, explicit):
    """Renames the finished export to its version directory; returns the version."""
    model_dir = os.path.join(base_dir, model_name)
    while True:
        target = os.path.join(model_dir, str(version))
        if not _taken(base_dir, model_name, version):
            try:
                # Atomic on one file system: the server sees no version or all of it.
                os.rename(tmp_dir, target)
                return version
            except OSError as error:
                # A non-empty directory appeared between the check and the rename.
                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        if explicit:
            raise ValueError(
                f"Expected version {version} of '{model_name}' not to exist: another "
                f"export created it meanwhile, and exports are never overwritten. "
                f"Received: version={version}"
            )
        version = max(version + 1, next_version(base_dir, model_name))


def export_for_serving(
    module,
    base_dir,
    model_name,
    signatures=None,
    *,
    version=None,
    extra_assets=None,
    serving_root="/models",
    write_config=True,
    options=None,
):
    """Writes `<base_dir>/<model_name>/<version>/`, a SavedModel TF Serving loads.

    The export is written to a temporary directory beside the versions
    (`.tmp-<version>-<random>`, a name TF Serving ignores) and renamed into place
    in one step, so a server never sees half a version and a failed export leaves
    nothing behind. Versions are never overwritten. Afterwards
    `<base_dir>/models.config` is rewritten to list every exported model.

    What is saved is the graph of each signature, with the variables and lookup
    tables it reads: the result needs neither seqlib nor Keras to load, only
    TensorFlow. Each signature should take raw inputs and return named outputs; see
    the `seqlib.export` module docstring.

    Args:
        module: The `tf.Module` (or Keras model) that owns what the signatures use;
            its lookup tables are found through it.
        base_dir: The directory holding one folder per model (`/models` for the
            server).
        model_name: The model's folder and serving name: letters, digits, `_` and
            `-`, starting with a letter or digit.
        signatures: A dict from signature name to a concrete function or a
            `tf.function` with an `input_signature`, each returning a dict of named
            tensors; `"serving_default"` is required. Defaults to
            `{"serving_default": module.serve}`.
        version: A positive integer; defaults to one more than the largest numeric
            version directory (1 for a new model). An existing version is refused.
        extra_assets: Optional dict from file name to `str` (written as UTF-8) or
            `bytes`, written to `<version>/assets.extra/`: files that travel with the
            model without being part of its graph, such as the app config.
        serving_root: The prefix of each `base_path` in `models.config`, see
            `write_models_config`.
        write_config: Whether to rewrite `<base_dir>/models.config`.
        options: Optional `tf.saved_model.SaveOptions`.

    Returns:
        The path of the new version directory.

    Example:

    ```python
    path = export_for_serving(TextClassifier(model, labels), "exports", "sentiment")
    # exports/sentiment/1/{saved_model.pb, variables/, assets/}, exports/models.config
    ```
    """
    if not isinstance(model_name, str) or not MODEL_NAME.fullmatch(model_name):
        raise ValueError(
            "Expected a model name of letters, digits, '_' and '-', starting with a "
            f"letter or digit. Received: model_name={model_name!r}"
        )
    explicit = version is not None
    if explicit and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise ValueError(f"Expected a positive integer version. Received: version={version!r}")
    if explicit and _taken(base_dir, model_name, version):
        raise ValueError(
            f"Expected version {version} of '{model_name}' not to exist: exports are never "
            f"overwritten. Received: version={version}, existing versions="
            f"{sorted(version_dirs(base_dir, model_name))}"
        )
    extra_assets = _check_extra_assets(extra_assets)
    functions = _resolve_signatures(module, signatures)
    variables, resources = _used_state(module, functions.values())
    gpu_ops = _gpu_only_ops(functions.values())
    if gpu_ops:
        warnings.warn(
            f"The exported graph uses GPU-only ops {gpu_ops}: it will not serve on a CPU. "
            "Export with cuDNN disabled (use_cudnn=False) for a CPU server.",
            stacklevel=2,
        )

    model_dir = os.path.join(base_dir, model_name)
    os.makedirs(model_dir, exist_ok=True)
    if not explicit:
        version = next_version(base_dir, model_name)
        while _taken(base_dir, model_name, version):
            version += 1
    tmp_dir = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_dir)
    try:
        tf.saved_model.save(
            _ServingRoot(variables, resources), tmp_dir, signatures=functions, options=options
        )
        if extra_assets:
            extra_dir = os.path.join(tmp_dir, EXTRA_ASSETS_DIR)
            os.makedirs(extra_dir, exist_ok=True)
            for name, content in extra_assets.items():
                data = content.encode("utf-8") if isinstance(content, str) else content
                with open(os.path.join(extra_dir, name), "wb") as f:
                    f.write(data)
        _fsync_tree(tmp_dir)
        version = _claim_version(tmp_dir, base_dir, model_name, version, explicit)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    _fsync_dir(model_dir)
    if write_config:
        write_models_config(base_dir, serving_root=serving_root)
    return os.path.join(model_dir, str(version))
