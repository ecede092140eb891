"""The VADER tweets loader on dummy_data/: labels, unescaping, the saved split, the extras."""

import json
from pathlib import Path

import numpy as np
import pytest

from datasets import sentiment_data
from datasets.fetch import DataError
from datasets.sentiment_data import COLUMNS, load_tweets, read_snippets, read_tweets

DUMMY_DATA = Path(sentiment_data.__file__).parent / "sentiment_tweets" / "dummy_data"


def test_data_root_follows_the_environment(data_root):
    assert sentiment_data.data_root() == data_root


def test_zero_ratings_dropped_and_sign_is_the_label():
    frame = read_tweets(DUMMY_DATA / "tweets_GroundTruth.csv")
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 28
    assert not {"4", "15"} & set(frame["id"])  # the two tweets rated 0.0
    np.testing.assert_array_equal(frame["label"], (frame["rating"] > 0).astype(int))
    assert frame["label"].dtype == np.int64
    assert frame.set_index("id").loc["20", "label"] == 1  # rating 0.35
    assert frame.set_index("id").loc["11", "label"] == 0  # rating -0.8


def test_html_entities_are_unescaped():
    text = read_tweets(DUMMY_DATA / "tweets_GroundTruth.csv").set_index("id")["text"]
    assert text["13"] == "Looking forward to the weekend & the beach"
    assert text["24"] == "Slightly disappointed >_<"
    assert text["22"] == 'Nice, "quoted" words, and commas, too'
    assert text["17"] == "Café au lait, then work"
    # The NYT snippets are escaped twice.
    nyt = read_snippets(DUMMY_DATA / "nytEditorialSnippets_GroundTruth.txt", "nyt")
    assert nyt.set_index("id").loc["nyt:1_2", "text"] == "The budget cuts hurt schools & libraries."


def test_stratified_split_sizes_and_balance():
    rng = np.random.default_rng(0)
    labels = (rng.random(1000) < 0.7).astype(int)
    ids = [f"t{i}" for i in range(1000)]
    split = sentiment_data.stratified_split(ids, labels, seed=3)
    assert {name: len(v) for name, v in split.items()} == {
        "train": 700,
        "validation": 100,
        "test": 200,
    }
    assert sorted(sum(split.values(), [])) == sorted(ids)
    label_of = dict(zip(ids, labels))
    overall = labels.mean()
    for name, members in split.items():
        share = np.mean([label_of[i] for i in members])
        assert abs(share - overall) < 0.02, name


def test_split_is_saved_and_reused(data_root, dummy_source):
    first = load_tweets()
    path = data_root / "sentiment" / "split.json"
    assert first.split_path == path
    saved = json.loads(path.read_text())
    assert saved["seed"] == sentiment_data.SPLIT_SEED
    assert saved["source"]["sha256"] == sentiment_data.fetch.sha256_of(
        DUMMY_DATA / "tweets_GroundTruth.csv"
    )
    assert {name: len(saved[name]) for name in ("train", "validation", "test")} == {
        "train": 19,
        "validation": 3,
        "test": 6,
    }
    for name, frame in first.splits().items():
        assert frame["id"].tolist() == saved[name]
    # Drawing again from scratch gives the same split.
    path.unlink()
    again = load_tweets()
    assert json.loads(path.read_text()) == saved
    for name in ("train", "validation", "test"):
        assert again.splits()[name]["id"].tolist() == first.splits()[name]["id"].tolist()


def test_saved_split_wins_over_the_code(data_root, dummy_source, monkeypatch):
    load_tweets()
    path = data_root / "sentiment" / "split.json"
    saved = json.loads(path.read_text())
    # Hand-move one tweet from train to test, and make any fresh draw fail.
    moved = saved["train"].pop(0)
    saved["test"].append(moved)
    path.write_text(json.dumps(saved))
    monkeypatch.setattr(sentiment_data, "stratified_split", None)
    data = load_tweets()
    assert moved in data.test["id"].tolist()
    assert moved not in data.train["id"].tolist()
    assert len(data.test) == 7


def test_saved_split_is_checked(data_root, dummy_source):
    load_tweets()
    path = data_root / "sentiment" / "split.json"
    with pytest.raises(DataError, match="drawn with seed 1234, not 7; delete .* to draw"):
        load_tweets(seed=7)
    saved = json.loads(path.read_text())
    saved["source"]["sha256"] = "f" * 64
    path.write_text(json.dumps(saved))
    with pytest.raises(DataError, match="source with SHA-256 f{64}"):
        load_tweets()
    saved["source"]["sha256"] = sentiment_data.fetch.sha256_of(
        DUMMY_DATA / "tweets_GroundTruth.csv"
    )
    saved["test"].pop()
    path.write_text(json.dumps(saved))
    with pytest.raises(DataError, match=r"does not match the data \(1 rows not in it"):
        load_tweets()


def test_extras_go_to_train_only(data_root, dummy_source):
    plain = load_tweets()
    data = load_tweets(extras=True)
    assert len(data.train) == 19 + 3 * 4  # one zero-rated snippet dropped from each file
    train_ids = set(data.train["id"])
    assert {"movies:1", "amazon:1_1", "nyt:2_2"} <= train_ids
    assert not {"movies:3", "amazon:1_3", "nyt:1_3"} & train_ids  # rated 0
    for name in ("validation", "test"):
        ids = data.splits()[name]["id"]
        assert not ids.str.contains(":").any()
        assert ids.tolist() == plain.splits()[name]["id"].tolist()
    assert data.train["id"].is_unique
    members = {member for _, _, member in dummy_source}
    assert members == {sentiment_data.TWEETS_MEMBER, *sentiment_data.SNIPPET_MEMBERS.values()}


def test_describe_counts(data_root, dummy_source):
    data = load_tweets()
    assert data.counts() == {
        "train": {"rows": 19, "negative": 7, "positive": 12},
        "validation": {"rows": 3, "negative": 1, "positive": 2},
        "test": {"rows": 6, "negative": 2, "positive": 4},
    }
    text = data.describe()
    assert "dropped 2 tweets rated exactly 0" in text
    assert "all             28        10        18       64.3%" in text
