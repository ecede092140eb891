"""The music app: its pieces against references (vocabulary, n-gram, streams,
bits per character, sampling), every verb end to end on a small folder of
tunes, the export served without the project, exact resume, and one-line
errors for bad input."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf
from app_fixtures import MUSIC_TINY as TINY
from app_fixtures import music_data, train_interrupted
from click.testing import CliRunner

from apps.music.cli import cli


@pytest.fixture()
def data(home):
    """`["--data", "<home>/tunes"]`: 40 random tunes in two files, and two files
    that are skipped."""
    return music_data(home)


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -- pieces -------------------------------------------------------------------


def test_vocabulary_round_trip_and_unknown_characters():
    from apps.music.model import END, UNKNOWN, Vocabulary

    vocabulary = Vocabulary.from_tunes(["X:1\nK:D\nAB|\n", "X:2\nK:G\ncd|\n"])
    assert vocabulary.size == 2 + len(set("X:1\nK:D\nAB|X:2K:Gcd"))
    ids = vocabulary.encode("K:G\nAB|")
    assert ids.dtype == np.int32 and ids.min() >= 2
    assert vocabulary.decode([*ids, END]) == "K:G\nAB|"
    assert vocabulary.encode("Aé")[1] == UNKNOWN
    with pytest.raises(ValueError, match=r"never saw in training: 'é' \(U\+00E9\)"):
        vocabulary.encode("Aé", strict=True)
    flat, lengths = vocabulary.encode_tunes(["AB", "cd|"])
    assert lengths.tolist() == [3, 4] and flat[2] == END and flat[-1] == END
    assert Vocabulary.from_json(vocabulary.to_json()).characters == vocabulary.characters


def _reference_witten_bell(train, order, vocab):
    """A direct, dictionary-based Witten-Bell model, for comparison."""
    from collections import Counter, defaultdict

    counts = [Counter() for _ in range(order + 1)]
    followers = [defaultdict(set) for _ in range(order + 1)]
    for n in range(1, order + 1):
        for i in range(n - 1, len(train)):
            history = tuple(train[i - n + 1 : i])
            counts[n][history + (train[i],)] += 1
            followers[n][history].add(train[i])

    def probability(history, w):
        p = 1.0 / vocab
        for n in range(1, order + 1):
            if len(history) < n - 1:
                break
            h = tuple(history[len(history) - (n - 1) :]) if n > 1 else ()
            c_h = sum(counts[n][h + (x,)] for x in range(vocab))
            if c_h == 0:
                continue
            n1 = len(followers[n][h])
            p = (counts[n][h + (w,)] + n1 * p) / (c_h + n1)
        return p

    return probability


def test_witten_bell_ngram_matches_a_direct_implementation_and_sums_to_one():
    from apps.music.baselines import WittenBellNgram

    rng = np.random.default_rng(0)
    vocab = 6
    train = rng.integers(0, 4, 300).tolist() + [4, 4, 5]  # 5 is rare, 3-grams of it too
    ngram = WittenBellNgram(3, vocab).fit(train)
    reference = _reference_witten_bell(train, 3, vocab)
    sequence = [1, 2, 3, 4, 5, 0, 2, 5, 5]
    expected = [reference(sequence[:i], sequence[i]) for i in range(1, len(sequence))]
    np.testing.assert_allclose(ngram.probabilities(sequence), expected, rtol=1e-12)
    for history in ([0, 1], [5, 5], [4]):
        total = sum(ngram.probabilities([*history, w])[-1] for w in range(vocab))
        assert total == pytest.approx(1.0)
    bits, count = ngram.bits([np.array(sequence)])
    assert count == len(sequence) - 1
    assert bits == pytest.approx(-sum(math.log2(p) for p in expected))


def test_stream_windows_carry_each_stream_forward():
    from apps.music.data import stream_windows

    text = np.arange(103, dtype=np.int32)
    dataset, windows = stream_windows(tf.constant(text), streams=4, window=6)
    batches = list(dataset.as_numpy_iterator())
    assert windows == len(batches) == 4  # 25 characters a stream: 4 windows of 6, + 1 target
    x, y = batches[1]
    assert x.shape == (4, 6)
    np.testing.assert_array_equal(x[2], np.arange(2 * 25 + 6, 2 * 25 + 12))
    np.testing.assert_array_equal(y, x + 1)
    with pytest.raises(ValueError, match="lower train.batch_size"):
        stream_windows(tf.constant(text[:20]), streams=4, window=6)


def test_training_order_depends_on_the_epoch_only():
    from apps.music.data import training_windows
    from apps.music.model import END

    lengths = np.array([5, 7, 3, 9, 6, 4], np.int64)
    flat = np.concatenate(
        [np.append(np.full(n - 1, 10 + i, np.int32), END) for i, n in enumerate(lengths)]
    )
    train_data, windows = training_windows(flat, lengths, streams=2, window=3, seed=7)

    def epoch_text(epoch):
        xs = [x for x, _ in train_data(tf.constant(epoch, tf.int64)).as_numpy_iterator()]
        return np.concatenate(xs, axis=1)  # (streams, windows * window)

    assert windows == 5
    np.testing.assert_array_equal(epoch_text(1), epoch_text(1))
    assert not np.array_equal(epoch_text(0), epoch_text(1))
    # Each row reads whole tunes in turn: every run of one tune's id between two end
    # marks is that whole tune.
    for row in epoch_text(2):
        pieces = "".join("|" if i == END else chr(i + 55) for i in row).split("|")
        for piece in pieces[1:-1]:
            assert len(set(piece)) == 1 and len(piece) == lengths[ord(piece[0]) - 65] - 1


def test_bits_per_character_equals_one_pass_over_each_sequence():
    from apps.music.model import bits_per_character
    from seqlib.models import LanguageModel

    model = LanguageModel(9, embedding_dim=4, units=6, num_layers=2)
    rng = np.random.default_rng(1)
    sequences = [rng.integers(0, 9, n).astype(np.int32) for n in (13, 5, 21)]
    bits, count = bits_per_character(model, sequences, streams=2, window=4)
    expected = 0.0
    for s in sequences:
        logits = model(s[None, :-1]).numpy()[0]
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        expected -= log_probs[np.arange(len(s) - 1), s[1:]].sum() / math.log(2)
    assert count == sum(len(s) - 1 for s in sequences)
    assert bits == pytest.approx(expected, rel=1e-5)


def test_sampling_stops_at_the_length_and_never_draws_unknown():
    from apps.music.model import END, UNKNOWN
    from apps.music.serving import sample_ids
    from seqlib.models import LanguageModel

    model = LanguageModel(7, embedding_dim=4, units=5, num_layers=1)
    prefix = tf.constant([3, 4], tf.int32)
    result = sample_ids(model, prefix, 5, tf.constant(6), 20, 1.5, 0, 1.0, seed=3)
    ids, lengths = result.ids.numpy(), result.lengths.numpy()
    assert ids.shape == (5, 20) and (lengths <= 7).all()
    assert (ids != UNKNOWN).all()
    for row, n in zip(ids, lengths):
        assert row[n - 1] == END and (row[n:] == END).all()
    again = sample_ids(model, prefix, 5, 6, 6, 1.5, 0, 1.0, seed=3)
    # The same tokens whatever the cap: a cut at `length` only adds the end mark.
    for row, short, n in zip(ids, again.ids.numpy(), lengths):
        np.testing.assert_array_equal(row[: min(n, 6)], short[: min(n, 6)])


def test_unescape_prefix():
    from apps.music.cli import unescape_prefix

    assert unescape_prefix(r"X:1\nM:6/8\nK:D\n") == "X:1\nM:6/8\nK:D\n"
    assert unescape_prefix(r"A\\nB \ C") == "A\\nB \\ C"


# -- the app --------------------------------------------------------------------


def test_every_verb_on_a_small_folder(home, data, monkeypatch, model_server):
    from apps.music import pipeline, scores
    from datasets.abc_normalize import canonical_prefix
    from seqlib.export.testing import run_isolated

    # An untrained model writes nonsense that music21 can take long to give up on.
    monkeypatch.setattr(scores, "TIME_LIMIT", 1.0)

    result = _invoke("prepare", *data)
    assert result.exit_code == 0, result.output
    assert "40 tunes in 2 ABC files" in result.output
    assert "skipped more/broken.abc: binary data" in result.output
    assert "skipped empty.abc: no tune" in result.output

    result = _invoke("train", *data, *TINY)
    assert result.exit_code == 0, result.output
    run = home / "runs" / "music" / "cpu-small"
    assert (run / "checkpoints" / "final.weights.h5").is_file()
    assert (run / "vocabulary.json").is_file() and (run / "history.csv").is_file()
    assert "val_bits_per_character" in (run / "history.csv").read_text()
    assert json.loads((run / "data.json").read_text()) == {"data": data[1]}

    result = _invoke("evaluate", "--tunes", "4")  # the run remembers its data
    assert result.exit_code == 0, result.output
    assert "| model |" in result.output and "| 7-gram |" in result.output
    for seed in (1, 2, 3):
        assert f"| from `X:1\\n` | {seed} | 4 |" in result.output
        assert f"| from `X:1\\nM:6/8\\nK:D\\n` | {seed} | 4 |" in result.output
    assert "| from `X:1\\n` | mean (range) | 12 |" in result.output
    assert "model / n-gram (test):" in result.output
    assert "| real tunes (test split) |" in result.output  # the musical measures
    report = home / "reports" / "music"
    for name in (
        "report.md",
        "metrics.json",
        "training_curves.png",
        "generated_tunes.png",
        "generated-1.abc",
        "generated-2.abc",
    ):
        assert (report / name).is_file(), name
    text = (report / "report.md").read_text()
    assert "bits per character" in text.lower() and "(training_curves.png)" in text
    assert "sampled from its canonical form, `X:1\\nT:\\nM:6/8\\nL:1/8\\nK:D\\n`" in text
    metrics = json.loads((report / "metrics.json").read_text())
    assert [(g["prefix"], g["seed"]) for g in metrics["generated"]] == [
        (prefix, seed) for prefix in ("X:1\n", "X:1\nM:6/8\nK:D\n") for seed in (1, 2, 3)
    ]
    assert set(metrics["musicality"]) == {"X:1\n", "X:1\nM:6/8\nK:D\n", "real tunes (test split)"}
    assert (report / "generated-2.abc").read_text().startswith("% seed 1, tune 1\nX:1\nT:\nM:6/8")

    out = home / "samples"
    result = _invoke(
        "generate",
        "--num",
        "3",
        "--temperature",
        "0.8",
        "--top-k",
        "0",
        "--prefix",
        r"X:1\nM:6/8\nK:D\n",
        "--out",
        str(out),
        "--seed",
        "1",
        "--length",
        "150",
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines[:3]] == ["tune-01", "tune-02", "tune-03"]
    assert all(("parsed" in line) or ("INVALID" in line) for line in lines[:3])
    for i in (1, 2, 3):
        abc = (out / f"tune-0{i}.abc").read_text(encoding="utf-8")
        assert abc.startswith("X:1\nT:\nM:6/8\nL:1/8\nK:D\n")  # the canonical header
        assert (out / f"tune-0{i}.png").is_file()
    table = (out / "tunes.md").read_text()
    for i, line in enumerate(lines[:3], start=1):
        parsed = "INVALID" not in line
        assert (f"tune-0{i}.mid" in table) == ((out / f"tune-0{i}.mid").is_file())
        if not parsed:
            assert not (out / f"tune-0{i}.mid").exists()

    result = _invoke("export")
    assert result.exit_code == 0, result.output
    export_dir = home / "models" / "music" / "1"
    assert (export_dir / "saved_model.pb").is_file()
    assert "music" in (home / "models" / "models.config").read_text()

    # The export samples what the trained model samples in process, with the same seed,
    # in a process that cannot import the project.
    model, vocabulary = pipeline.find_model(None, run, home / "models")
    prefix = "X:1\nM:6/8\nK:D\n"
    expected = pipeline.generate(model, vocabulary, prefix, num=1, length=150, seed=5)[0]
    served = run_isolated(
        export_dir,
        {
            # The graph samples from the prefix as given: a client sends the canonical header.
            "prefix": np.array(canonical_prefix(prefix).encode(), dtype=object),
            "length": np.int32(150),
            "temperature": np.float32(0.8),
            "seed": np.int64(5),
        },
    )
    assert served["abc"].item().decode("utf-8") == expected.abc
    assert bool(served["finished"]) == expected.finished
    # The `sample` signature (several tunes, top-k) through `generate --model <export>`:
    # the same tunes as the run samples in process.
    batch = pipeline.generate(
        model, vocabulary, prefix, num=3, length=60, temperature=1.0, top_k=5, seed=9
    )
    result = _invoke(
        "generate", "--model", str(export_dir), "--num", "3", "--length", "60",
        "--temperature", "1.0", "--top-k", "5", "--seed", "9", "--prefix", r"X:1\nM:6/8\nK:D\n",
        "--out", str(home / "from_export"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for i, tune in enumerate(batch, start=1):
        assert (home / "from_export" / f"tune-0{i}.abc").read_text(encoding="utf-8") == tune.abc
    # Through TF Serving's REST API: the same tunes.
    result = _invoke(
        "generate", "--server", model_server(home / "models"), "--num", "3", "--length", "60",
        "--temperature", "1.0", "--top-k", "5", "--seed", "9", "--prefix", r"X:1\nM:6/8\nK:D\n",
        "--out", str(home / "from_server"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for i, tune in enumerate(batch, start=1):
        assert (home / "from_server" / f"tune-0{i}.abc").read_text(encoding="utf-8") == tune.abc
    # Characters outside the vocabulary fail inside the exported graph too.
    loaded = tf.saved_model.load(str(export_dir))
    with pytest.raises(ValueError, match="never saw in training"):
        pipeline.generate(loaded, None, "X:1\n€", num=1, length=5)


def test_a_run_interrupted_and_resumed_ends_like_an_uninterrupted_one(home, data, monkeypatch):
    from apps.music.pipeline import Run

    whole = ["--run-dir", str(home / "whole"), *TINY]
    assert _invoke("train", *data, *whole).exit_code == 0
    parts = ["--run-dir", str(home / "parts"), *TINY]
    train_interrupted(cli, monkeypatch, *data, *parts)
    result = _invoke("train", *data, *parts)
    assert result.exit_code == 1 and "--resume" in result.output
    result = _invoke("train", *data, "--resume", *parts)
    assert result.exit_code == 0, result.output
    assert "trained 2 epochs" in result.output
    for a, b in zip(
        Run(home / "whole").load_model().get_weights(),
        Run(home / "parts").load_model().get_weights(),
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "args,message",
    [
        (["generate"], "No trained model"),
        (["train", "--set", "model.cell=transformer"], "cell"),
        (["train", "--set", "model.colour=red"], "colour"),
        (["train", "--strategy", "mirrored"], "one device"),
        (["train", "--data", "missing.abc"], "missing.abc"),
        (["prepare", "--data", "bad"], "no usable ABC file"),
        (["train", "--data", "tunes", "--set", "train.batch_size=512"], "lower train.batch_size"),
    ],
)
def test_user_mistakes_are_one_line_errors(home, data, args, message, monkeypatch):
    (home / "bad").mkdir()
    (home / "bad" / "x.abc").write_bytes(b"\x00")
    monkeypatch.chdir(home)
    result = _invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # click's usage line at most


def test_unknown_prefix_characters_are_a_clear_error(home, data):
    assert _invoke("train", *data, *TINY, "--set", "train.epochs=1").exit_code == 0
    result = _invoke("generate", "--prefix", "X:1\nK:D\n€", "--out", str(home / "x"))
    assert result.exit_code == 1
    assert "never saw in training: '€' (U+20AC)" in result.output
    assert "Traceback" not in result.output


# -- real data ---------------------------------------------------------------------


@pytest.mark.slow
def test_real_corpus_end_to_end(home, monkeypatch):
    """A short run on music21's corpus: the model must beat a uniform guess by far,
    and every verb must work on the real data."""
    monkeypatch.chdir(home)
    short = [
        "--set",
        "data.steps_per_epoch=300",
        "--set",
        "train.epochs=1",
        "--set",
        "model.units=128",
        "--set",
        "model.layers=1",
    ]
    assert _invoke("prepare").exit_code == 0
    result = _invoke("train", *short)
    assert result.exit_code == 0, result.output
    result = _invoke("evaluate", "--tunes", "10")
    assert result.exit_code == 0, result.output
    metrics = json.loads((home / "reports" / "music" / "metrics.json").read_text())
    assert metrics["bits_per_character"]["model"]["test"] < 3.5  # uniform: log2(127) = 7
    assert metrics["bits_per_character"]["7-gram"]["test"] < 2.0
    assert metrics["test_tunes"]["parsed"] == 1.0
    assert [g["tunes"] for g in metrics["generated"]] == [10, 10]
    result = _invoke("generate", "--num", "2", "--prefix", r"X:1\nM:6/8\nK:D\n", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert _invoke("export").exit_code == 0
