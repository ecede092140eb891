"""The music app's verbs: prepare, train, evaluate, generate, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/music/<preset>/` (the runner's checkpoints, logs and history,
plus `vocabulary.json` and `data.json`), so later verbs rebuild exactly the
model that was trained. `generate`, the verb that samples tunes, is
`apps.music.serving.generate`: in process and from an export alike.
"""

import pathlib
import time

import numpy as np

from apps.common import run as common_run
from apps.music import report, scores
from apps.music.baselines import WittenBellNgram
from apps.music.config import MusicConfig
from apps.music.data import (
    load_data,
    texts,
    training_batches,
    tune_sequences,
    validation_batches,
)
from apps.music.model import (
    END,
    BitsPerCharacter,
    ResetStates,
    Vocabulary,
    bits_per_character,
    build_model,
)
from apps.music.serving import MusicServing, generate
from seqlib.export import export_for_serving
from seqlib.training import SparseCategoricalCrossentropy, make_strategy
from seqlib.training import train as run_training


class Run(common_run.Run):
    """A music run: the runner's files, `vocabulary.json` and `data.json`."""

    app = "music"
    config_class = MusicConfig
    vocabulary_class = Vocabulary

    def build_model(self):
        """The model, not stateful: what evaluation, generation and export run."""
        model = build_model(self.config(), self.vocabulary().size)
        model.build((None, None))
        return model


# -- verbs --------------------------------------------------------------------


def prepare(config, data=None, build_tfds=True):
    """Reads the tunes, makes (or reads) the saved split, builds the TFDS dataset,
    and returns the description of the splits."""
    corpus = load_data(config, data)
    if build_tfds and not data:
        from datasets.abc_tunes import build_tfds as build

        build()
    characters = len(Vocabulary.from_tunes(texts(corpus.train)).characters)
    return f"{corpus.describe()}\ncharacters in the training tunes: {characters}"


def train(config, run_dir, data=None, resume=False, verbose="auto"):
    """Trains with `seqlib.training.train` on music21's corpus, or on the user's
    .abc file or folder `data`; returns its `TrainResult`."""
    if config.train.strategy != "default":
        # Stateful streams need one fixed batch on one device.
        raise ValueError(
            "Expected train.strategy=default: the music model trains stateful streams "
            f"on one device. Received: strategy={config.train.strategy!r}"
        )
    make_strategy("default")
    run = Run(pathlib.Path(run_dir))
    resuming = run.begin_training(config, resume)
    corpus = load_data(config, data)
    if resuming:
        vocabulary = run.vocabulary()
    else:
        vocabulary = Vocabulary.from_tunes(texts(corpus.train))
        run.save_data(data)
        run.save_vocabulary(vocabulary)

    train_data, steps = training_batches(config, vocabulary, corpus)
    return run_training(
        lambda: build_model(config, vocabulary.size, stateful=True),
        train_data,
        config.train,
        run.path,
        compile_kwargs={
            "loss": SparseCategoricalCrossentropy(
                from_logits=True, label_smoothing=config.train.label_smoothing
            ),
            "metrics": [BitsPerCharacter()],
        },
        validation_data=validation_batches(config, vocabulary, corpus),
        steps_per_epoch=steps,
        resume=resume,
        callbacks=[ResetStates()],
        app_config=config,
        verbose=verbose,
    )


def evaluate(run_dir, report_dir, data=None, say=print, tunes=None):
    """Model vs the n-gram on the test split of the run's data (or of the .abc
    file or folder `data`), then `tunes` tunes sampled from each of the config's
    prefixes checked with music21 (`sample.evaluation_tunes` when None); writes
    the report and returns its numbers. `say` prints what is being done."""
    started = time.time()
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    config = run.config()
    vocabulary = run.vocabulary()
    corpus = load_data(config, data if data else run.data_file())

    say("scoring the validation and test splits ...")
    bpc = {}
    for split in ("validation", "test"):
        sequences = tune_sequences(vocabulary, texts(corpus.splits()[split]), 64)
        bits, count = bits_per_character(model, sequences, 64)
        bpc[("model", split)], bpc[("count", split)] = bits / count, count
    order = config.baseline.ngram_order
    train_ids = np.concatenate([[END], vocabulary.encode_tunes(texts(corpus.train))[0]])
    ngram = WittenBellNgram(order, vocabulary.size).fit(train_ids)
    for split in ("validation", "test"):
        sequences = tune_sequences(vocabulary, texts(corpus.splits()[split]), 64)
        bits, count = ngram.bits(sequences)
        bpc[("ngram", split)] = bits / count

    sample = config.sample
    num = tunes or sample.evaluation_tunes
    prefixes = [sample.prefix] + ([sample.conditioned_prefix] if sample.conditioned_prefix else [])
    runs = []
    for prefix in prefixes:
        say(f"sampling {num} tunes from {prefix!r} and checking them with music21 ...")
        generated = generate(
            model,
            vocabulary,
            prefix,
            num=num,
            length=sample.max_length,
            temperature=sample.temperature,
            top_k=sample.top_k,
            top_p=sample.top_p,
            seed=sample.seed,
        )
        runs.append((prefix, generated, [scores.check_tune(tune.abc) for tune in generated]))
    # Real tunes under the same checks, spread over the test split (it follows the corpus order).
    reference = corpus.test[:: max(1, len(corpus.test) // num)][:num]
    reference_checks = [scores.check_tune(tune.abc) for tune in reference]
    results = {
        "bits_per_character": {
            "model": {s: bpc[("model", s)] for s in ("validation", "test")},
            f"{order}-gram": {s: bpc[("ngram", s)] for s in ("validation", "test")},
            "characters": {s: bpc[("count", s)] for s in ("validation", "test")},
        },
        "generated": [
            {
                "prefix": prefix,
                **scores.summarize(checks, [t.abc for t in generated]),
                "finished": sum(t.finished for t in generated) / len(generated),
                "failures": scores.failure_reasons(checks),
            }
            for prefix, generated, checks in runs
        ],
        "test_tunes": scores.summarize(reference_checks, texts(reference)),
    }
    results["seconds"] = time.time() - started
    report.write(
        report_dir=pathlib.Path(report_dir),
        run=run,
        config=config,
        data=corpus,
        results=results,
        samples=[(prefix, generated, checks) for prefix, generated, checks in runs],
    )
    return results


def export(run_dir, models_dir):
    """Exports the trained model to `models_dir/music/<next version>/`."""
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    module = MusicServing(model, run.vocabulary())
    return export_for_serving(
        module,
        models_dir,
        "music",
        signatures={"serving_default": module.serve, "sample": module.sample},
        extra_assets={
            **run.export_assets(),
            "vocabulary.json": run.vocabulary_path.read_text(encoding="utf-8"),
        },
    )


def find_model(model_path, run_dir, models_dir, server=None):
    """What `generate` uses: `(model, vocabulary)` from `--model PATH` (a run, an
    export or an export's parent), or the model at `--server URL`, else the run's
    checkpoint, else the newest export (`vocabulary` is None for an export)."""

    def from_run(path):
        run = Run(path)
        return run.load_model(), run.vocabulary()

    def from_export(model, source):
        return model, None

    return common_run.find_model(
        "music", model_path, run_dir, models_dir, from_run, from_export, server
    )
