"""The sentiment_tweets TFDS builder, built from dummy_data/ into tmp_path and read with tfds.load."""

import pytest
import tensorflow_datasets as tfds

import datasets.sentiment_tweets  # noqa: F401  (registers sentiment_tweets)
from datasets.sentiment_data import load_tweets
from datasets.sentiment_tweets import build_tfds


def test_tfds_load_after_build(tmp_path, dummy_source):
    data_dir = tmp_path / "tfds"
    builder = build_tfds(data_dir=data_dir)
    assert builder.info.features["label"].names == ["negative", "positive"]
    assert builder.info.supervised_keys == ("text", "label")
    assert "Hutto" in builder.info.citation

    splits = tfds.load("sentiment_tweets", data_dir=str(data_dir), split=None)
    assert {name: int(ds.cardinality()) for name, ds in splits.items()} == {
        "train": 19,
        "validation": 3,
        "test": 6,
    }
    # The TFDS splits hold the same tweets as the saved split the pandas loader uses.
    frames = load_tweets().splits()
    for name, ds in splits.items():
        ids = sorted(example["id"].decode() for example in tfds.as_numpy(ds))
        assert ids == sorted(frames[name]["id"])
    rows = {example["id"].decode(): example for example in tfds.as_numpy(splits["train"])} | {
        example["id"].decode(): example for example in tfds.as_numpy(splits["test"])
    }
    rows |= {example["id"].decode(): example for example in tfds.as_numpy(splits["validation"])}
    assert rows["13"]["text"].decode() == "Looking forward to the weekend & the beach"
    assert rows["13"]["label"] == 1
    assert rows["2"]["label"] == 0
    assert rows["2"]["rating"] == pytest.approx(-2.4)

    supervised = tfds.load(
        "sentiment_tweets", data_dir=str(data_dir), split="test", as_supervised=True
    )
    text, label = next(iter(supervised))
    assert text.dtype.name == "string" and label.dtype.name == "int64"


def test_plus_snippets_config(tmp_path, dummy_source):
    data_dir = tmp_path / "tfds"
    build_tfds(data_dir=data_dir, config="tweets_plus_snippets")
    splits = tfds.load("sentiment_tweets/tweets_plus_snippets", data_dir=str(data_dir))
    assert {name: int(ds.cardinality()) for name, ds in splits.items()} == {
        "train": 31,
        "validation": 3,
        "test": 6,
    }
    test_ids = [example["id"].decode() for example in tfds.as_numpy(splits["test"])]
    assert not any(":" in i for i in test_ids)
