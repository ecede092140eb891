"""The music app's verbs: prepare, train, evaluate, generate, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/music/<preset>/` (the runner's checkpoints, logs and history,
plus `vocabulary.json` and `data.json`), so later verbs rebuild exactly the
model that was trained. `generate`, the verb that samples tunes, is
`apps.music.serving.generate`: in process and from an export alike.
"""

import dataclasses
import pathlib
import tempfile
import time

import numpy as np

from apps.common import run as common_run
from apps.music import musicality, report, scores
from apps.music.baselines import WittenBellNgram
from apps.music.config import MusicConfig
from apps.music.data import (
    load_data,
    texts,
    training_batches,
    training_tunes,
    tune_sequences,
    validation_batches,
)
from apps.music.midi import write_score_midi
from apps.music.model import (
    END,
    BitsPerCharacter,
    ResetStates,
    Vocabulary,
    bits_per_character,
    build_model,
)
from apps.music.serving import MusicServing, generate
from datasets.abc_normalize import canonical_prefix
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
    tunes, notes = training_tunes(config, corpus)
    characters = len(Vocabulary.from_tunes(texts(tunes)).characters)
    lines = [corpus.describe(), *(f"note: {note}" for note in notes)]
    return "\n".join([*lines, f"characters in the training tunes: {characters}"])


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
    tunes, _ = training_tunes(config, corpus)
    if resuming:
        vocabulary = run.vocabulary()
    else:
        vocabulary = Vocabulary.from_tunes(texts(tunes))
        run.save_data(data)
        run.save_vocabulary(vocabulary)

    train_data, steps = training_batches(config, vocabulary, tunes)
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
    with tempfile.TemporaryDirectory() as midi_dir:
        for prefix in prefixes:
            for seed in sample.seeds:
                say(f"sampling {num} tunes from {prefix!r} (seed {seed}), checking them ...")
                generated = generate(
                    model,
                    vocabulary,
                    prefix,
                    num=num,
                    length=sample.max_length,
                    temperature=sample.temperature,
                    top_k=sample.top_k,
                    top_p=sample.top_p,
                    seed=seed,
                    canonical=config.data.normalize,
                )
                start = canonical_prefix(prefix) if config.data.normalize else prefix
                runs.append(_checked(prefix, start, seed, generated, pathlib.Path(midi_dir)))
    # Real tunes under the same checks: the whole test split.
    say(f"checking the {len(corpus.test)} real tunes of the test split ...")
    reference = [scores.check_tune(tune.abc) for tune in corpus.test]
    reference_measures = [musicality.measure_tune(check) for check in reference]
    results = {
        "bits_per_character": {
            "model": {s: bpc[("model", s)] for s in ("validation", "test")},
            f"{order}-gram": {s: bpc[("ngram", s)] for s in ("validation", "test")},
            "characters": {s: bpc[("count", s)] for s in ("validation", "test")},
        },
        "generated": [run.summary() for run in runs],
        "test_tunes": scores.summarize(reference, texts(corpus.test)),
        "musicality": {
            **{
                prefix: {
                    **musicality.summarize_measures(
                        [m for run in runs if run.prefix == prefix for m in run.measures]
                    ),
                    **musicality.compare_sets(
                        [c for run in runs if run.prefix == prefix for c in run.checks],
                        reference,
                    ),
                }
                for prefix in prefixes
            },
            "real tunes (test split)": musicality.summarize_measures(reference_measures),
        },
    }
    results["seconds"] = time.time() - started
    report.write(
        report_dir=pathlib.Path(report_dir),
        run=run,
        config=config,
        data=corpus,
        results=results,
        samples=runs,
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


@dataclasses.dataclass
class SampledTunes:
    """Tunes sampled from one prefix with one seed, and what music21 made of them."""

    prefix: str
    start: str
    seed: int
    generated: list
    checks: list
    midi: list
    measures: list

    def summary(self):
        """The row of `results["generated"]`: the checks, the MIDI files and the endings."""
        with_meter_and_key = [
            midi for check, midi in zip(self.checks, self.midi) if check.has_time_signature_and_key
        ]
        return {
            "prefix": self.prefix,
            "seed": self.seed,
            "sampled_from": self.start,
            **scores.summarize(self.checks, [t.abc for t in self.generated]),
            "full_midi": (
                sum(midi.written for midi in with_meter_and_key) / len(with_meter_and_key)
                if with_meter_and_key
                else float("nan")
            ),
            "finished": sum(t.finished for t in self.generated) / len(self.generated),
            "failures": scores.failure_reasons(self.checks),
            "midi_failures": _counts(m.error for m in self.midi if m and not m.written),
        }


def _counts(reasons):
    counts = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def _checked(prefix, start, seed, generated, midi_dir):
    """`SampledTunes`: each tune read by music21, written as MIDI (in `midi_dir`,
    when it parsed) and measured."""
    checks = [scores.check_tune(tune.abc) for tune in generated]
    midi = [
        write_score_midi(check.score, midi_dir / "tune.mid", time_limit=scores.TIME_LIMIT)
        if check.parsed
        else None
        for check in checks
    ]
    measures = [musicality.measure_tune(check) for check in checks]
    return SampledTunes(prefix, start, seed, generated, checks, midi, measures)


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
