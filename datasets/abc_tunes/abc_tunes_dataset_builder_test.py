"""TFDS's own builder checks on dummy_data/, offline (see `datasets.tfds_builders`).

Run with `pytest datasets/abc_tunes/`.
"""

from pathlib import Path
from unittest import mock

import pytest
import tensorflow_datasets as tfds

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets import music_data
from datasets.abc_tunes import abc_tunes_dataset_builder
from datasets.tfds_builders import DummyDataRoot

DUMMY_DATA = Path(__file__).parent / "dummy_data"


class AbcTunesTest(DummyDataRoot, tfds.testing.DatasetBuilderTestCase):
    """12 dummy tunes in 3 files (a 4th file holds no tune and is skipped)."""

    DATASET_CLASS = abc_tunes_dataset_builder.Builder
    SPLITS = {"train": 10, "validation": 1, "test": 1}

    def patches(self):
        return [mock.patch.object(music_data, "corpus_dir", lambda: DUMMY_DATA)]


if __name__ == "__main__":
    tfds.testing.test_main()
