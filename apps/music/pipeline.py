"""The music app's verbs: prepare, train, evaluate, generate, export.

Each verb is one function; `cli.py` maps the command line onto them. A run
lives in `runs/music/<preset>/` (the runner's checkpoints, logs and history,
plus `vocabulary.json` and `data.json`), so later verbs rebuild exactly the
model that was trained.
"""

import dataclasses
import os
import pathlib
import time

import numpy as np
import tensorflow as tf

from apps.common import run as common_run
from apps.music import report, scores
from apps.music.baselines import WittenBellNgram
from apps.music.config import MusicConfig
from apps.music.model import (
    END,
    BitsPerCharacter,
    ResetStates,
    Vocabulary,
    bits_per_character,
    build_model,
    sample_ids,
    stream_windows,
    training_windows,
    tune_sequences,
)
from datasets.music_data import load_corpus, load_user_abc
from seqlib.export import export_for_serving
from seqlib.training import SparseCategoricalCrossentropy, make_strategy
from seqlib.training import train as run_training

# The longest continuation an export samples; larger `length` requests are cut to it.
SERVING_MAX_LENGTH = 4000


class Run(common_run.Run):
    """A music run: the runner's files, `vocabulary.json` and `data.json`."""

    app = "music"
    config_class = MusicConfig

    @property
    def vocabulary_path(self):
        return self.path / "vocabulary.json"

    def vocabulary(self):
        return Vocabulary.from_json(self.vocabulary_path.read_text(encoding="utf-8"))

    def data_path_used(self):
        return self.data().get("data")

    def build_model(self):
        """The model, not stateful: what evaluation, generation and export run."""
        model = build_model(self.config(), self.vocabulary().size)
        model.build((None, None))
        return model


# -- data ---------------------------------------------------------------------


def load_data(data_path=None):
    """The fixed split: music21's corpus by default, or a user's .abc file or folder."""
    return load_user_abc(data_path) if data_path else load_corpus()


def _texts(tunes):
    return [tune.abc for tune in tunes]


# -- verbs --------------------------------------------------------------------


def prepare(config, data_path=None, build_tfds=True):
    """Reads the tunes, makes (or reads) the saved split, builds the TFDS dataset,
    and returns the description of the splits."""
    del config  # The data do not depend on the preset.
    data = load_data(data_path)
    if build_tfds and not data_path:
        from datasets.abc_tunes import build_tfds as build

        build()
    characters = len(Vocabulary.from_tunes(_texts(data.train)).characters)
    return f"{data.describe()}\ncharacters in the training tunes: {characters}"


def train(config, run_dir, data_path=None, resume=False, verbose="auto"):
    """Trains with `seqlib.training.train`; returns its `TrainResult`."""
    if config.train.strategy != "default":
        # Stateful streams need one fixed batch on one device.
        raise ValueError(
            "Expected train.strategy=default: the music model trains stateful streams "
            f"on one device. Received: strategy={config.train.strategy!r}"
        )
    make_strategy("default")
    run = Run(pathlib.Path(run_dir))
    data = load_data(data_path)
    if (run.path / "checkpoints").is_dir() and not resume:
        raise ValueError(
            f"{run.path} already holds a training run: pass --resume to continue it, "
            "or --fresh to train again from scratch."
        )
    if resume and run.vocabulary_path.is_file():
        vocabulary = run.vocabulary()
    else:
        vocabulary = Vocabulary.from_tunes(_texts(data.train))
        run.save_data(data=os.path.abspath(data_path) if data_path else None)
        run.vocabulary_path.write_text(vocabulary.to_json(), encoding="utf-8")

    streams, window = config.train.batch_size, config.data.window
    flat, lengths = vocabulary.encode_tunes(_texts(data.train))
    train_data, windows = training_windows(flat, lengths, streams, window, config.train.seed)
    steps = min(config.data.steps_per_epoch or windows, windows)
    validation_ids = np.concatenate([[END], vocabulary.encode_tunes(_texts(data.validation))[0]])
    validation, _ = stream_windows(tf.constant(validation_ids, tf.int32), streams, window)

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
        validation_data=validation,
        steps_per_epoch=steps,
        resume=resume,
        callbacks=[ResetStates()],
        app_config=config,
        verbose=verbose,
    )


def test_bits(model, vocabulary, tunes, streams=64):
    """Bits per character of the model over `tunes` (see `model.bits_per_character`)."""
    bits, count = bits_per_character(model, tune_sequences(vocabulary, tunes, streams), streams)
    return bits / count, count


def evaluate(run_dir, report_dir, data_path=None, tunes=None, verbose=True):
    """Model vs the n-gram on the test split, then `tunes` tunes sampled from each
    of the config's prefixes checked with music21 (`sample.evaluation_tunes`
    when None); writes the report and returns its numbers."""
    started = time.time()
    run = Run(pathlib.Path(run_dir))
    model = run.load_model()
    config = run.config()
    vocabulary = run.vocabulary()
    data = load_data(data_path if data_path else run.data_path_used())
    say = print if verbose else (lambda *args: None)

    say("scoring the validation and test splits ...")
    bpc = {}
    for split in ("validation", "test"):
        bpc[("model", split)], count = test_bits(model, vocabulary, _texts(data.splits()[split]))
        bpc[("count", split)] = count
    order = config.baseline.ngram_order
    train_ids = np.concatenate([[END], vocabulary.encode_tunes(_texts(data.train))[0]])
    ngram = WittenBellNgram(order, vocabulary.size).fit(train_ids)
    for split in ("validation", "test"):
        sequences = tune_sequences(vocabulary, _texts(data.splits()[split]), 64)
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
    reference = data.test[:: max(1, len(data.test) // num)][:num]
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
        "test_tunes": scores.summarize(reference_checks, _texts(reference)),
    }
    results["seconds"] = time.time() - started
    report.write(
        report_dir=pathlib.Path(report_dir),
        run=run,
        config=config,
        data=data,
        results=results,
        samples=[(prefix, generated, checks) for prefix, generated, checks in runs],
    )
    return results


@dataclasses.dataclass(frozen=True)
class GeneratedTune:
    """A sampled tune: the prefix and what followed it, up to the end mark.

    Args:
        abc: The tune's text.
        finished: The model ended the tune itself (else it reached the length limit).
    """

    abc: str
    finished: bool


class MusicServing(tf.Module):
    """Sampling in one graph: prefix text in, tunes out.

    Characters become ids through a `tf.lookup.StaticHashTable` over
    `tf.strings.unicode_split`, the sampling loop is `seqlib.decoding.sample`
    (a `tf.while_loop`), and ids become text through a gather and a join. The
    prefix must use only characters of the training tunes: any other fails the
    call with "the prefix has characters the model never saw in training".

    Args:
        model: A `LanguageModel` (not stateful).
        vocabulary: Its `Vocabulary`.
        max_length: The most characters sampled per tune; `length` is cut to it.
    """

    def __init__(self, model, vocabulary, max_length=SERVING_MAX_LENGTH):
        super().__init__()
        self.model = model
        self.max_length = int(max_length)
        keys = [c.encode("utf-8") for c in vocabulary.characters]
        ids = np.arange(2, vocabulary.size, dtype=np.int32)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.string), tf.constant(ids, tf.int32)
            ),
            default_value=-1,
        )
        # The specials (unknown, end of tune) print as nothing.
        self.characters = tf.constant([b"", b"", *keys], tf.string)

    def _sample(self, prefix, num, length, temperature, top_k, top_p, seed):
        characters = tf.strings.unicode_split(prefix, "UTF-8")  # (P,) one character each
        ids = self.table.lookup(characters)  # (P,)
        check = tf.debugging.assert_non_negative(
            ids, message="the prefix has characters the model never saw in training"
        )
        check_empty = tf.debugging.assert_positive(
            tf.size(ids), message="the prefix must not be empty"
        )
        with tf.control_dependencies([check, check_empty]):
            length = tf.clip_by_value(tf.cast(length, tf.int32), 0, self.max_length)
        result = sample_ids(
            self.model,
            ids,
            num,
            length,
            length + 1,  # room for the end mark after `length` characters
            temperature,
            top_k,
            top_p,
            seed,
        )
        text = tf.strings.reduce_join(tf.gather(self.characters, result.ids), axis=-1)  # (num,)
        return {"abc": prefix + text, "finished": result.lengths <= length}

    @tf.function(
        input_signature=[
            tf.TensorSpec((), tf.string, name="prefix"),
            tf.TensorSpec((), tf.int32, name="length"),
            tf.TensorSpec((), tf.float32, name="temperature"),
            tf.TensorSpec((), tf.int64, name="seed"),
        ]
    )
    def serve(self, prefix, length, temperature, seed):
        """One tune: `abc` (the prefix and its continuation) and `finished`."""
        out = self._sample(prefix, 1, length, temperature, 0, 1.0, seed)
        return {"abc": out["abc"][0], "finished": out["finished"][0]}

    @tf.function(
        input_signature=[
            tf.TensorSpec((), tf.string, name="prefix"),
            tf.TensorSpec((), tf.int32, name="num"),
            tf.TensorSpec((), tf.int32, name="length"),
            tf.TensorSpec((), tf.float32, name="temperature"),
            tf.TensorSpec((), tf.int32, name="top_k"),
            tf.TensorSpec((), tf.float32, name="top_p"),
            tf.TensorSpec((), tf.int64, name="seed"),
        ]
    )
    def sample(self, prefix, num, length, temperature, top_k, top_p, seed):
        """`num` tunes from one prefix, with top-k and nucleus filtering: `abc`, `finished`."""
        return self._sample(prefix, num, length, temperature, top_k, top_p, seed)


def unescape_prefix(text):
    r"""A prefix typed on a command line: `\n` is a new line and `\\` a backslash."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "n\\":
            out.append("\n" if text[i + 1] == "n" else "\\")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def generate(
    model, vocabulary, prefix, num=1, length=1000, temperature=0.8, top_k=0, top_p=1.0, seed=1
):
    """Samples `num` tunes after `prefix` in one batch; returns `GeneratedTune`s.

    `model` is a trained `LanguageModel` (with its `vocabulary`) or a loaded
    export (`vocabulary=None`), which runs its `sample` signature: the same
    graph, so the same seed gives the same tunes.
    """
    if not prefix:
        raise ValueError("Expected a non-empty prefix, e.g. 'X:1\\n'. Received: prefix=''")
    if length < 1 or num < 1:
        raise ValueError(f"Expected num >= 1 and length >= 1. Received: num={num}, length={length}")
    if vocabulary is not None:
        vocabulary.encode(prefix, strict=True)  # a clear error for unknown characters
        # The module must outlive the call: a tf.function method holds its object weakly.
        module = MusicServing(model, vocabulary, max_length=length)
        sampler = module.sample
    else:
        sampler = model.signatures["sample"]
    try:
        out = sampler(
            prefix=tf.constant(prefix.encode("utf-8")),
            num=tf.constant(num, tf.int32),
            length=tf.constant(length, tf.int32),
            temperature=tf.constant(temperature, tf.float32),
            top_k=tf.constant(top_k, tf.int32),
            top_p=tf.constant(top_p, tf.float32),
            seed=tf.constant(seed, tf.int64),
        )
    except tf.errors.InvalidArgumentError as error:
        for known in ("the prefix has characters the model never saw in training",):
            if known in error.message:
                raise ValueError(f"{known.capitalize()}.") from None
        raise ValueError(error.message.strip().splitlines()[0]) from None
    return [
        GeneratedTune(abc.decode("utf-8"), bool(finished))
        for abc, finished in zip(out["abc"].numpy(), out["finished"].numpy())
    ]


def write_tunes(tunes, out_dir, first_index=1):
    """Writes `tune-NN.abc`, `.mid` and `.png` per tune and `tunes.md`; returns
    `[(name, TuneCheck, note)]`. Tunes music21 cannot read are kept and labelled."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    width = max(2, len(str(first_index + len(tunes) - 1)))
    for i, tune in enumerate(tunes, start=first_index):
        name = f"tune-{i:0{width}d}"
        (out_dir / f"{name}.abc").write_text(tune.abc, encoding="utf-8")
        check = scores.check_tune(tune.abc)
        _, midi_note = scores.write_midi(check, out_dir / f"{name}.mid")
        label = check.label() + ("" if tune.finished else "; unfinished (length limit)")
        scores.piano_roll_png(check, out_dir / f"{name}.png", f"{name}: {label}")
        note = label + (f"; {midi_note}" if midi_note and check.parsed else "")
        rows.append((name, check, note))
    lines = [
        "# Generated tunes",
        "",
        "| tune | music21 | files |",
        "|---|---|---|",
    ]
    for name, _, note in rows:
        files = [f"{name}.abc", f"{name}.png"]
        if (out_dir / f"{name}.mid").is_file():
            files.insert(1, f"{name}.mid")
        cell = note.replace("|", "\\|")  # ABC bar lines in music21's messages
        lines.append(f"| {name} | {cell} | {', '.join(files)} |")
    parsed = sum(check.parsed for _, check, _ in rows)
    lines += ["", f"{parsed} of {len(rows)} parsed by music21.", ""]
    (out_dir / "tunes.md").write_text("\n".join(lines), encoding="utf-8")
    return rows


# -- export -------------------------------------------------------------------


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
