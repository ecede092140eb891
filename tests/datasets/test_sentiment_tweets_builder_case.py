"""TFDS's DatasetBuilderTestCase for sentiment_tweets, kept beside the builder (the `tfds new` layout)."""

import pytest

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets.sentiment_tweets.sentiment_tweets_dataset_builder_test import (  # noqa: E402
    SentimentTweetsPlusSnippetsTest,
    SentimentTweetsTest,
)

__all__ = ["SentimentTweetsPlusSnippetsTest", "SentimentTweetsTest"]
