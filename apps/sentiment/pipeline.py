"""The sentiment app's verbs: prepare, train, evaluate, predict, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/sentiment/<preset>/` (the runner's checkpoints, logs and
history, plus `vocabulary.txt` and `data.json`), so later verbs rebuild exactly
the model that was trained.
"""

import os
import pathlib

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from apps.common import run as common_run
from apps.sentiment import baselines, report
from apps.sentiment.config import SentimentConfig
from apps.sentiment.model import RATING_SCALE, build_model, build_vocabulary
from datasets.sentiment_data import load_tweets, load_user_csv
from seqlib.export import export_for_serving, text_input
from seqlib.training import make_strategy, shuffle_for_epoch
from seqlib.training import train as run_training

LABELS = ("negative", "positive")


class Run(common_run.Run):
    """A sentiment run: the runner's files plus `vocabulary.txt` and `data.json`."""

    app = "sentiment"
    config_class = SentimentConfig

    @property
    def vocabulary_path(self):
        return self.path / "vocabulary.txt"

    def vocabulary(self):
        return self.vocabulary_path.read_text(encoding="utf-8").split("\n")

    def data_file(self):
        return self.data().get("data_file")

    def build_model(self):
        return build_model(self.config(), self.vocabulary())


# -- data ---------------------------------------------------------------------


def load_data(config, data_file=None):
    """The fixed split: the tweets by default, or a user's CSV."""
    if data_file:
        return load_user_csv(data_file)
    return load_tweets(extras=config.data.extras)


def _examples(frame):
    """`(text, {"probability": label, "rating": rating / 4})` examples; a missing
    rating is NaN, which the rating loss skips."""
    labels = frame["label"].to_numpy("float32")[:, None]
    ratings = (frame["rating"].to_numpy("float32") / RATING_SCALE)[:, None]
    texts = np.array([str(t) for t in frame["text"]], dtype=object)
    return tf.data.Dataset.from_tensor_slices((texts, {"probability": labels, "rating": ratings}))


def masked_mse(y_true, y_pred):
    """Squared error where the target is known (not NaN), 0 elsewhere."""
    known = ops.logical_not(ops.isnan(y_true))
    error = ops.square(ops.where(known, y_true, 0.0) - y_pred)
    return ops.mean(ops.where(known, error, 0.0), axis=-1)


# -- verbs --------------------------------------------------------------------


def prepare(config, data_file=None, build_tfds=True):
    """Fetches the data, makes (or reads) the saved split, builds the TFDS
    dataset, and returns the description of the splits."""
    data = load_data(config, data_file)
    if build_tfds and not data_file:
        from datasets.sentiment_tweets import build_tfds as build

        build(config="tweets_plus_snippets" if config.data.extras else "tweets")
    return data.describe()


def train(config, run_dir, data_file=None, resume=False, verbose="auto"):
    """Trains with `seqlib.training.train`; returns its `TrainResult`."""
    if config.train.strategy == "multiworker":
        # Collective ops are configured at startup: the strategy comes first.
        make_strategy("multiworker")
    run = Run(pathlib.Path(run_dir))
    data = load_data(config, data_file)
    if resume and run.vocabulary_path.is_file():
        vocabulary = run.vocabulary()
    else:
        if run.exists() and not resume:
            raise ValueError(
                f"{run.path} already holds a trained model: pass --resume to continue it, "
                "or --fresh to train again from scratch."
            )
        vocabulary = build_vocabulary(config, data.train["text"].to_numpy(dtype=object))
        run.save_data(data_file=os.path.abspath(data_file) if data_file else None)
        run.vocabulary_path.write_text("\n".join(vocabulary), encoding="utf-8")

    batch_size = config.train.batch_size
    train_examples = _examples(data.train)

    def train_data(epoch):
        return shuffle_for_epoch(
            train_examples, epoch, buffer_size=len(data.train), seed=config.train.seed
        ).batch(batch_size)

    return run_training(
        lambda: build_model(config, vocabulary),
        train_data,
        config.train,
        run.path,
        compile_kwargs={
            "loss": {
                "probability": keras.losses.BinaryCrossentropy(
                    label_smoothing=config.train.label_smoothing
                ),
                "rating": masked_mse,
            },
            "loss_weights": {"probability": 1.0, "rating": config.model.rating_weight},
            "metrics": {"probability": [keras.metrics.BinaryAccuracy(name="accuracy")]},
        },
        validation_data=_examples(data.validation).batch(batch_size),
        resume=resume,
        app_config=config,
        verbose=verbose,
    )


def positive_probability(model, texts, batch_size=256):
    """P(positive) of every text, from a keras model or a loaded SavedModel."""
    texts = np.array([str(t) for t in texts], dtype=object)
    if hasattr(model, "signatures"):
        serve = model.signatures["serving_default"]
        out = [
            serve(text=tf.constant(texts[i : i + batch_size]))["positive_probability"].numpy()
            for i in range(0, len(texts), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros(0, "float32")
    outputs = model.predict(texts, batch_size=batch_size, verbose=0)
    return outputs["probability"][:, 0]


def evaluate(run_dir, report_dir, data_file=None):
    """Model vs baselines on the test split; writes the report; returns the rows."""
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    config = run.config()
    data = load_data(config, data_file if data_file else run.data_file())
    y_true = data.test["label"].to_numpy()
    probabilities = positive_probability(model, data.test["text"])
    predictions = {"model": (probabilities > 0.5).astype(int)}
    predictions.update(baselines.predict_all(data))
    rows = baselines.score(y_true, predictions)
    report.write(
        report_dir=pathlib.Path(report_dir),
        run=run,
        config=config,
        data=data,
        rows=rows,
        model=model,
        y_true=y_true,
        y_pred=predictions["model"],
        probabilities=probabilities,
    )
    return rows


class SentimentServing(tf.Module):
    """What TensorFlow Serving calls: raw strings in, label and probabilities out."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.labels = tf.constant(list(LABELS))

    @tf.function(input_signature=[text_input("text")])
    def serve(self, text):
        positive = self.model(text, training=False)["probability"][:, 0]  # (batch,)
        is_positive = positive > 0.5
        return {
            "label": tf.gather(self.labels, tf.cast(is_positive, tf.int32)),  # (batch,) string
            "probability": tf.where(is_positive, positive, 1.0 - positive),  # of that label
            "positive_probability": positive,
        }


def export(run_dir, models_dir):
    """Exports the trained model to `models_dir/sentiment/<next version>/`."""
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    return export_for_serving(
        SentimentServing(model),
        models_dir,
        "sentiment",
        extra_assets=run.export_assets(),
    )


def find_model(model_path, run_dir, models_dir, server=None):
    """What `predict` uses: `--model PATH` (a run or an export, or an export's
    parent), or the model at `--server URL`, else the run's checkpoint, else the
    newest export."""
    return common_run.find_model(
        "sentiment",
        model_path,
        run_dir,
        models_dir,
        from_run=lambda path: Run(path).load_model(),
        server=server,
    )


def predict(model, texts):
    """`[(label, probability of that label, text)]` for every text."""
    positive = positive_probability(model, texts)
    return [
        (LABELS[int(p > 0.5)], float(p if p > 0.5 else 1.0 - p), text)
        for p, text in zip(positive, texts)
    ]
