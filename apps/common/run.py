"""A training run on disk, as every app lays it out.

`runs/<app>/<preset>/` holds what `seqlib.training.train` writes (config.json,
checkpoints/, logs/, history.csv) and what the app adds to rebuild its model
exactly (a vocabulary, a scaler, `data.json` naming the data it was trained
on). An app subclasses `Run` with its config class and its `build_model`.
"""

import dataclasses
import hashlib
import json
import os
import pathlib

RUN_RECORD = "run.json"  # in an export's assets.extra/: the run it was made from


@dataclasses.dataclass(frozen=True)
class Run:
    """A run directory. Subclasses set `app` and `config_class` and implement
    `build_model()` from what the run saved."""

    path: pathlib.Path
    app = "app"
    config_class = None
    # Apps whose run saves one vocabulary (a class with `to_json`/`from_json`).
    vocabulary_class = None
    vocabulary_file = "vocabulary.json"

    def __post_init__(self):
        object.__setattr__(self, "path", pathlib.Path(self.path))

    @property
    def data_path(self):
        return self.path / "data.json"

    @property
    def weights_path(self):
        return self.path / "checkpoints" / "final.weights.h5"

    def exists(self):
        return self.weights_path.is_file()

    def config(self):
        from seqlib.training import config_from_dict

        saved = json.loads((self.path / "config.json").read_text())
        return config_from_dict(self.config_class, saved["app"])

    def data(self):
        """What `save_data` recorded, or `{}`: `data` is the user's data file
        (an absolute path) or None for the app's default data."""
        if not self.data_path.is_file():
            return {}
        record = json.loads(self.data_path.read_text())
        # Runs written before the key was `data` everywhere.
        for legacy in ("data_file", "csv"):
            if legacy in record:
                record.setdefault("data", record.pop(legacy))
        return record

    def data_file(self):
        """The user's data file the run was trained on, or None (the app's own data)."""
        return self.data().get("data")

    def save_data(self, data=None, **record):
        """Records the data of the run: `data` is the user's data file (stored as
        an absolute path) or None; `record` holds what else the app needs."""
        self.path.mkdir(parents=True, exist_ok=True)
        record = {"data": os.path.abspath(data) if data else None, **record}
        self.data_path.write_text(json.dumps(record) + "\n")

    def begin_training(self, config, resume):
        """May a run be trained here? The one check every app makes before it
        writes anything into the run directory (`seqlib.training.check_run_dir`).

        Returns True when an existing run is continued (`resume`, and an epoch
        has completed): the app must read back what it saved (a vocabulary, a
        scaler) rather than make it again. Returns False when training starts
        from scratch: the app makes and writes those files. Raises ValueError,
        having written nothing, when the directory holds a run and `resume` is
        false, or when the config differs from the run's.
        """
        from seqlib.training import check_run_dir

        return check_run_dir(self.path, config.train, resume, app_config=config) is not None

    @property
    def vocabulary_path(self):
        return self.path / self.vocabulary_file

    def vocabulary(self):
        """The vocabulary the run saved (`save_vocabulary`)."""
        return self.vocabulary_class.from_json(self.vocabulary_path.read_text(encoding="utf-8"))

    def save_vocabulary(self, vocabulary):
        self.path.mkdir(parents=True, exist_ok=True)
        self.vocabulary_path.write_text(vocabulary.to_json(), encoding="utf-8")

    def build_model(self):
        raise NotImplementedError

    def fingerprint(self):
        """The SHA-256 of the trained weights: names what an export was made from."""
        digest = hashlib.sha256()
        with open(self.weights_path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def export_assets(self):
        """The files every export carries in `assets.extra/`: the run's
        `config.json`, and `run.json` naming the run and its weights'
        fingerprint (so `python -m apps.export` can tell an export is current)."""
        record = {"run": str(self.path.resolve()), "weights_sha256": self.fingerprint()}
        return {
            "config.json": (self.path / "config.json").read_text(),
            RUN_RECORD: json.dumps(record, indent=1) + "\n",
        }

    def load_model(self):
        """The trained model, rebuilt from the saved config and weights."""
        if not self.exists():
            raise FileNotFoundError(
                f"No trained model in {self.path}: run `python -m apps.{self.app} train` first."
            )
        model = self.build_model()
        model.load_weights(self.weights_path)
        return model


def find_model(app, model_path, run_dir, models_dir, from_run, from_export=None, server=None):
    """Finds the model a predicting verb uses.

    In order: `--server URL` (a served model, TF Serving's REST API), `--model
    PATH` (a run directory, an export, or an export's parent holding numbered
    versions), the run in `run_dir`, the newest export in `models_dir/<app>/`.
    A run is loaded by `from_run(path)`; an export or a served model by
    `from_export(model, source)`, where `model` has `.signatures` (a loaded
    SavedModel or a `seqlib.serving.client.RemoteModel`) and `source` names it
    for messages. Without `from_export` the model itself is returned.
    """
    from seqlib.export import latest_version

    def export(model, source):
        return from_export(model, source) if from_export else model

    def load(path):
        import tensorflow as tf

        return export(tf.saved_model.load(str(path)), str(path))

    def export_dir(path):
        if (path / "saved_model.pb").is_file():
            return path
        version = latest_version(path.parent, path.name) if path.is_dir() else None
        return path / str(version) if version is not None else None

    if server and model_path:
        raise ValueError("Give --model or --server, not both.")
    if server:
        from seqlib.serving.client import RemoteModel

        remote = RemoteModel(server, app)
        return export(remote, remote.url)
    if model_path:
        path = pathlib.Path(model_path)
        if (path / "checkpoints").is_dir():
            return from_run(path)
        found = export_dir(path)
        if found is None:
            raise FileNotFoundError(
                f"{path} is neither a training run nor an export (no saved_model.pb)."
            )
        return load(found)
    if Run(run_dir).exists():
        return from_run(pathlib.Path(run_dir))
    found = export_dir(pathlib.Path(models_dir) / app)
    if found is not None:
        return load(found)
    raise FileNotFoundError(
        f"No trained model: run `python -m apps.{app} train` (or `make {app}`) first."
    )


def find_decoder(
    app, run_class, build, model_path, run_dir, models_dir, decode_overrides=None, server=None,
    export_may_change=(), what="the decoding",
):  # fmt: skip
    """`find_model` for the apps that decode with settings (translation, captioning).

    A run is rebuilt with its config's `decode` settings, updated by
    `decode_overrides`, as `build(run, decode)`. An export or a served model
    decodes as it was exported: an override outside `export_may_change` is a
    one-line error naming `what` cannot change.
    """

    def from_run(path):
        run = run_class(path)
        decode = run.config().decode
        if decode_overrides:
            decode = dataclasses.replace(decode, **decode_overrides)
        return build(run, decode)

    def from_export(model, source):
        if decode_overrides and set(decode_overrides) - set(export_may_change):
            raise ValueError(
                f"{source} is an export: it decodes as it was exported (see its config.json); "
                f"pass a training run with --model to change {what}."
            )
        return model

    return find_model(app, model_path, run_dir, models_dir, from_run, from_export, server)


def decoding_function(decoder, name):
    """The `name` signature of a loaded export or a served model, or the
    matching method of an in-process decoder (`serving_default` is its `beam`)."""
    if hasattr(decoder, "signatures"):
        return decoder.signatures[name]
    return getattr(decoder, "beam" if name == "serving_default" else name)
