"""The VADER tweets as a TFDS dataset; importing this package registers `sentiment_tweets`."""

from datasets.sentiment_tweets.sentiment_tweets_dataset_builder import Builder, build_tfds

__all__ = ["Builder", "build_tfds"]
