"""The TensorFlow Serving model config file: one entry per exported model.

TensorFlow Serving reads `--model_config_file`, a `ModelServerConfig` protobuf in
text format. `write_models_config` regenerates it from what is on disk, so the file
always names exactly the models that have a complete version to serve.

The protobuf classes come from a small descriptor written here, a subset of
`tensorflow_serving/config/model_server_config.proto` with the same field names and
numbers: `tensorflow-serving-api` is not a dependency, and the real text-format
printer and parser still produce and check the file.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

from seqlib.export.versions import list_versions

MODELS_CONFIG = "models.config"

# Model names are directory names under `base_dir` and URL parts in TF Serving's
# REST API (/v1/models/<name>:predict); a leading letter or digit keeps temporary
# and hidden directories (".tmp-…") out of the list.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*", re.ASCII)


def _message_classes():
    fdp = descriptor_pb2.FileDescriptorProto(
        name="seqlib/export/model_server_config_subset.proto",
        package="tensorflow.serving",
        syntax="proto3",
    )
    F = descriptor_pb2.FieldDescriptorProto

    def message(name, *fields, oneof=None):
        proto = fdp.message_type.add(name=name)
        if oneof:
            proto.oneof_decl.add(name=oneof)
        for field_name, number, kind, type_name, label in fields:
            field = proto.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = f".tensorflow.serving.{type_name}"
            if oneof:
                field.oneof_index = 0
        return proto

    optional, repeated = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("Latest", ("num_versions", 1, F.TYPE_UINT32, None, optional))
    message("All")
    message("Specific", ("versions", 1, F.TYPE_INT64, None, repeated))
    # Nested as FileSystemStoragePathSourceConfig.ServableVersionPolicy in the real
    # proto; the nesting does not show in text format.
    message(
        "ServableVersionPolicy",
        ("latest", 100, F.TYPE_MESSAGE, "Latest", optional),
        ("all", 101, F.TYPE_MESSAGE, "All", optional),
        ("specific", 102, F.TYPE_MESSAGE, "Specific", optional),
        oneof="policy_choice",
    )
    message(
        "ModelConfig",
        ("name", 1, F.TYPE_STRING, None, optional),
        ("base_path", 2, F.TYPE_STRING, None, optional),
        ("model_platform", 4, F.TYPE_STRING, None, optional),
        ("model_version_policy", 7, F.TYPE_MESSAGE, "ServableVersionPolicy", optional),
    )
    message("ModelConfigList", ("config", 1, F.TYPE_MESSAGE, "ModelConfig", repeated))
    message(
        "ModelServerConfig",
        ("model_config_list", 1, F.TYPE_MESSAGE, "ModelConfigList", optional),
        oneof="config",
    )
    # A private pool: tensorflow-serving-api, if installed, registers the real
    # messages under the same names in the default pool.
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.ModelServerConfig")
    )


ModelServerConfig = _message_classes()


def served_models(base_dir):
    """The model directories under `base_dir` that have a complete version.

    Args:
        base_dir: The directory holding one folder per model.

    Returns:
        The sorted model names; a model counts once one of its numeric version
        directories holds a `saved_model.pb`.
    """
    if not os.path.isdir(base_dir):
        return []
    return sorted(
        name
        for name in os.listdir(base_dir)
        if MODEL_NAME.fullmatch(name)
        and os.path.isdir(os.path.join(base_dir, name))
        and list_versions(base_dir, name)
    )


def _base_path(base_dir, name, serving_root):
    if serving_root is None:
        return os.path.abspath(os.path.join(base_dir, name))
    # POSIX joining: the server's paths are POSIX paths or URLs (gs://, s3://),
    # whatever the machine writing the file.
    return posixpath.join(serving_root, name)


def write_models_config(base_dir, serving_root="/models"):
    """Writes `<base_dir>/models.config`, listing every model with a complete version.

    The file is rebuilt from the directories on disk each time (edits by hand are
    lost) and replaced atomically, so a server polling it
    (`--model_config_file_poll_wait_seconds`) never reads half a file. Each model is
    served with the "latest" version policy: the highest complete version.

    Args:
        base_dir: The directory holding one folder per model, as written by
            `export_for_serving`.
        serving_root: Where the server sees `base_dir`: each model's `base_path` is
            `<serving_root>/<name>`. The default fits the TF Serving docker image run
            with `-v <base_dir>:/models`; a URL such as `"gs://bucket/models"` works
            too. `None` writes the absolute local path, for a server on this machine.

    Returns:
        The path of the config file.

    Example:

    ```python
    write_models_config("exports")
    # docker run -p 8501:8501 -v "$PWD/exports:/models" tensorflow/serving \\
    #     --model_config_file=/models/models.config
    ```
    """
    if serving_root is not None and (not isinstance(serving_root, str) or not serving_root):
        raise ValueError(
            "Expected `serving_root` to be a non-empty string or None. "
            f"Received: serving_root={serving_root!r}"
        )
    config = ModelServerConfig()
    model_list = config.model_config_list
    model_list.SetInParent()  # an empty list still names the `config` oneof
    for name in served_models(base_dir):
        entry = model_list.config.add(
            name=name,
            base_path=_base_path(base_dir, name, serving_root),
            model_platform="tensorflow",
        )
        entry.model_version_policy.latest.num_versions = 1
    text = text_format.MessageToString(config)

    os.makedirs(base_dir, exist_ok=True)
    path = os.path.join(base_dir, MODELS_CONFIG)
    fd, tmp = tempfile.mkstemp(prefix=f".{MODELS_CONFIG}.tmp-", dir=base_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_models_config(path):
    """Parses a TF Serving model config file with the protobuf text-format parser.

    Args:
        path: A `models.config` file, or a directory holding one.

    Returns:
        A list of dicts, one per model, with keys `"name"`, `"base_path"`,
        `"model_platform"` and `"latest_versions"` (the number of latest versions
        served, or `None` for another version policy).

    Example:

    >>> [entry["name"] for entry in read_models_config("exports")]
    ['sentiment', 'stocks']
    """
    if os.path.isdir(path):
        path = os.path.join(path, MODELS_CONFIG)
    with open(path, encoding="utf-8") as f:
        config = text_format.Parse(f.read(), ModelServerConfig())
    entries = []
    for entry in config.model_config_list.config:
        policy = entry.model_version_policy
        latest = policy.latest.num_versions if policy.HasField("latest") else None
        entries.append(
            {
                "name": entry.name,
                "base_path": entry.base_path,
                "model_platform": entry.model_platform,
                "latest_versions": latest,
            }
        )
    return entries
