"""The translation app: references, batches and BLEU against direct
computations; every verb end to end on a small file of pairs; the export
served without the project, equal to the in-process translations; a refused
run left as it was; one-line errors for bad input."""

import numpy as np
import pytest
from app_fixtures import APPS, translation_data
from click.testing import CliRunner

from apps.translation.cli import cli

TINY = APPS["translation"].tiny


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLIB_HOME", str(tmp_path))
    monkeypatch.setenv("SEQLIB_DATA", str(tmp_path / "data"))
    translation_data(tmp_path)
    return tmp_path


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -- pieces -------------------------------------------------------------------


def test_references_group_the_translations_of_one_source():
    from apps.translation.data import references
    from datasets.translation_data import Pair

    pairs = [
        Pair("Go.", "Ve."),
        Pair("Go.", "Vete."),
        Pair("Hi.", "Hola."),
        Pair("Leave.", "Vete."),
    ]
    assert references(pairs, "es-en") == (
        ["Ve.", "Vete.", "Hola."],
        [["Go."], ["Go.", "Leave."], ["Hi."]],
    )
    assert references(pairs, "en-es")[1] == [["Ve.", "Vete."], ["Hola."], ["Vete."]]


def test_bleu_with_uneven_references_matches_sacrebleu():
    import sacrebleu

    from apps.translation.metrics import bleu_scores

    hyps = ["the cat sat on the mat", "a dog barked", "hello there"]
    refs = [["the cat sat on the mat", "a cat sat"], ["the dog barked"], ["hi there", "hello"]]
    got = bleu_scores(hyps, refs)
    streams = [[r[0] for r in refs], [refs[0][1], None, refs[2][1]]]
    assert got["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, streams).score)
    assert got["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, streams).score)
    assert bleu_scores([r[0] for r in refs], refs)["bleu"] == pytest.approx(100.0)


def test_batches_pad_to_bucket_boundaries_and_keep_every_pair():
    from apps.translation.data import batched, bucket_boundaries, example_dataset

    rng = np.random.default_rng(0)
    sources = [list(rng.integers(2, 50, rng.integers(1, 16))) for _ in range(200)]
    targets = [[2, *rng.integers(4, 50, rng.integers(1, 16)), 3] for _ in range(200)]
    boundaries = bucket_boundaries(15)
    seen = []
    for (source, target_in), target_out in batched(
        example_dataset(sources, targets), 8, 15, drop_remainder=False
    ):
        assert source.shape[1] + 1 in boundaries and target_in.shape == target_out.shape
        assert target_in.shape[1] + 1 in boundaries
        for s, t in zip(source.numpy(), target_out.numpy()):
            seen.append((tuple(s[s > 0]), tuple(t[t > 0])))
    expected = [(tuple(s), tuple(t[1:])) for s, t in zip(sources, targets)]
    assert sorted(seen) == sorted(expected)


# -- every verb ----------------------------------------------------------------


def test_every_verb_on_a_small_file(home, model_server):
    from apps.translation import pipeline, serving
    from seqlib.export.testing import run_isolated

    data = str(home / "pairs.tsv")
    result = _invoke("prepare", "--data", data)
    assert result.exit_code == 0, result.output
    assert "training pairs with at most 15 tokens a side" in result.output

    result = _invoke("train", "--data", data, *TINY)
    assert result.exit_code == 0, result.output
    run = home / "runs" / "translation" / "cpu-small"
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 4 and "val_loss" in history[0]
    losses = [float(line.split(",")[1]) for line in history[1:]]
    assert losses[-1] < losses[0]

    # A variant trained for the comparison: no attention, reversed source.
    variant = home / "runs" / "no-attention"
    result = _invoke(
        "train", "--data", data, *TINY, "--run-dir", str(variant),
        "--set", "model.attention=none", "--set", "model.reverse_source=true",
        "--set", "model.bidirectional=false", "--set", "train.epochs=1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    result = _invoke("evaluate", "--compare", str(variant), "--limit", "10")
    assert result.exit_code == 0, result.output
    main = "bahdanau attention, bidirectional"
    for row in ("| copy the source | - |", f"| {main} | greedy |", f"| {main} | beam 5 |"):
        assert row in result.output
    assert "| no attention, unidirectional, reversed source | beam 5 |" in result.output
    report = home / "reports" / "translation"
    for name in ("report.md", "metrics.json", "training_curves.png", "attention-1.png"):
        assert (report / name).is_file(), name
    assert "BLEU" in (report / "report.md").read_text()

    sentences = ["¿dos gato azul?", "¿cinco perro negro?", "", "¿7 gato y 12 perro?"]
    result = _invoke("translate", *sentences[:2], "--greedy")
    assert result.exit_code == 0, result.output
    assert len(result.output.split("\n")) == 3  # one line per sentence (maybe empty)
    (home / "in.txt").write_text("\n".join(sentences[:2]) + "\n", encoding="utf-8")
    png = home / "attention.png"
    result = _invoke("translate", "--file", str(home / "in.txt"), "--show-attention", str(png))
    assert result.exit_code == 0, result.output
    assert png.stat().st_size > 1000

    result = _invoke("export")
    assert result.exit_code == 0, result.output
    export_dir = home / "models" / "translation" / "1"
    assert (export_dir / "saved_model.pb").is_file()
    assert "translation" in (home / "models" / "models.config").read_text()

    # The export translates as the run does, in a process that cannot import the project.
    translator = pipeline.find_translator(None, run, home / "models")
    expected, expected_ids, _ = serving.translate_sentences(translator, sentences)
    assert expected[2] == ""
    served = run_isolated(export_dir, {"text": np.array(sentences, dtype=object)})
    assert [t.decode("utf-8") for t in served["translation"]] == expected
    np.testing.assert_array_equal(served["ids"], np.stack(expected_ids))
    greedy, _, _ = serving.translate_sentences(translator, sentences, greedy=True)
    served = run_isolated(
        export_dir, {"text": np.array(sentences, dtype=object)}, signature="greedy"
    )
    assert [t.decode("utf-8") for t in served["translation"]] == greedy
    # The export through the command line, and the beam settings it cannot change.
    result = _invoke("translate", "--model", str(export_dir), sentences[0])
    assert result.exit_code == 0 and result.output.strip() == expected[0]
    result = _invoke("translate", "--model", str(export_dir), "--beam", "2", sentences[0])
    assert result.exit_code == 1 and "is an export" in result.output
    # Through TF Serving's REST API: the same translations, greedy and beam.
    url = model_server(home / "models")
    for extra in ([], ["--greedy"]):
        result = _invoke("translate", "--server", url, *extra, "--file", str(home / "in.txt"))
        assert result.exit_code == 0, result.output
        want = _invoke(
            "translate", "--model", str(export_dir), *extra, "--file", str(home / "in.txt")
        )
        assert result.stdout == want.stdout
    assert result.stdout.splitlines() == greedy[:2]


def test_numbers_stay_out_of_both_vocabularies():
    from apps.translation.config import TranslationConfig
    from apps.translation.data import build_vocabularies

    sources = [["tengo", "19", "años", "."], ["a", "las", "5:00", "."]]
    targets = [["i'm", "19", "."], ["at", "5:00", "."]]
    source, target = build_vocabularies(TranslationConfig(), sources, targets)
    assert "19" not in source.index and "5:00" not in target.index and "tengo" in source.index
    assert source.encode(["19"]) == [1] and target.encode(["19"]) == [1]  # [UNK]
    keep = TranslationConfig.__dataclass_fields__["data"].default
    import dataclasses

    config = dataclasses.replace(
        TranslationConfig(), data=dataclasses.replace(keep, numbers="words")
    )
    assert "19" in build_vocabularies(config, sources, targets)[1].index


def test_unknown_words_counts_unk_copies_and_kept_numbers():
    from apps.translation.metrics import unknown_words

    sources = ["Tengo 19 años.", "Hola Tom.", "A las 5:00 y 7."]
    texts = ["I'm 19.", "Hello [UNK].", "At 5: 00 and seven."]
    ids = [np.array([5, 1, 6, 3, 0]), np.array([7, 1, 6, 3]), np.array([8, 1, 9, 1, 10, 11, 3])]
    out = unknown_words(sources, texts, ids, copying=True)
    assert out["with_unk"] == pytest.approx(1 / 3)
    assert out["copied_tokens"] == pytest.approx(4 / 15)  # tokens up to each end mark
    assert out["numbers_kept"] == pytest.approx(1 / 2) and out["with_numbers"] == 2
    assert unknown_words(sources, texts, ids, copying=False)["copied_tokens"] == 0


def test_each_unk_becomes_the_source_token_the_attention_weighs_most(home):
    """On a tiny trained model, a search told to prefer `[UNK]` (a logit bias):
    every `[UNK]` of the output is the source token at the attention's argmax,
    computed here from the model's own teacher-forced pass; without copying the
    `[UNK]`s stay; ids and scores are the search's either way."""
    import dataclasses

    import tensorflow as tf

    from apps.common.text import UNK, tokenize
    from apps.translation import pipeline, serving

    data = str(home / "pairs.tsv")
    assert _invoke("train", "--data", data, *TINY, "--set", "train.epochs=1").exit_code == 0
    run = pipeline.Run(home / "runs" / "translation" / "cpu-small")

    class Eager(serving.Translator):
        def generate_options(self):
            bias = np.zeros(self.model.target_vocab_size, np.float32)
            bias[UNK] = 4.0  # [UNK] likely, not certain
            return {"logit_bias": tf.constant(bias)}

    sentences = ["¿dos gato azul?", "Pedro y Zoë 42 negro", "hola"]
    decode = run.config().decode
    source_vocabulary, target_vocabulary = run.vocabularies()
    model = run.load_model()
    copying = Eager(model, source_vocabulary, target_vocabulary, decode)
    plain = Eager(model, source_vocabulary, target_vocabulary,
                  dataclasses.replace(decode, copy_unknown=False))  # fmt: skip
    for method in ("beam", "greedy"):
        out = getattr(copying, method)(text=tf.constant(sentences))
        ref = getattr(plain, method)(text=tf.constant(sentences))
        np.testing.assert_array_equal(out["ids"], ref["ids"])
        np.testing.assert_allclose(out["score"], ref["score"])
        ids = out["ids"].numpy()
        assert (ids == UNK).any() and any("[UNK]" in t.decode() for t in ref["translation"].numpy())
        source, _, _ = copying.model_inputs(tf.constant(sentences))
        _, weights = model((source, copying.decoder_inputs(ids)), return_attention=True)
        tokens = tokenize(tf.constant(sentences)).to_list()
        expected = tf.gather(copying.words, ids).numpy().astype(object)
        for b, t in zip(*np.nonzero(ids == UNK)):
            expected[b, t] = tokens[b][int(np.argmax(weights[b, t]))]
        words = copying.output_tokens(tf.constant(sentences), source, tf.constant(ids))
        np.testing.assert_array_equal(words.numpy(), expected)
        assert not any(b"[UNK]" in t for t in out["translation"].numpy())


def test_translations_are_bounded_by_the_source_length(home):
    from apps.translation import pipeline, serving

    data = str(home / "pairs.tsv")
    assert _invoke("train", "--data", data, *TINY, "--set", "train.epochs=1").exit_code == 0
    run = pipeline.Run(home / "runs" / "translation" / "cpu-small")
    translator = run.translator()
    decode = run.config().decode
    for greedy in (True, False):
        _, ids, _ = serving.translate_sentences(translator, ["¿uno gato?", "hola"], greedy)
        limit = int(np.ceil(decode.max_length_ratio * 4)) + decode.max_length_extra
        assert len(ids[0]) <= limit


@pytest.mark.parametrize(
    "args,message",
    [
        (["translate", "hola"], "No trained model"),
        (["translate"], "Give sentences"),
        (["translate", "--greedy", "--beam", "3", "hola"], "contradict"),
        (["train", "--set", "model.attention=transformer"], "attention"),
        (["train", "--set", "data.direction=fr-en"], "direction"),
        (["train", "--data", "missing.tsv"], "missing.tsv"),
        (["prepare", "--data", "bad.tsv"], "bad.tsv:2"),
        (["train", "--data", "pairs.tsv", "--set", "train.batch_size=512"], "batch"),
    ],
)
def test_user_mistakes_are_one_line_errors(home, args, message, monkeypatch):
    (home / "bad.tsv").write_text("one\tuno\nno tab here\n", encoding="utf-8")
    monkeypatch.chdir(home)
    result = _invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) <= 3


def test_the_other_direction_reads_english_and_writes_spanish(home):
    from apps.translation import pipeline

    data = str(home / "pairs.tsv")
    args = ("train", "--data", data, *TINY, "--set", "train.epochs=1")
    assert _invoke(*args, "--set", "data.direction=en-es").exit_code == 0
    run = pipeline.Run(home / "runs" / "translation" / "cpu-small")
    source, target = run.vocabularies()
    assert "dog" in source.index and "perro" in target.index and "¿" in target.index
    assert "perro" not in source.index
