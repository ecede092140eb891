"""TFDS's DatasetBuilderTestCase for tatoeba_pairs, kept beside the builder (the `tfds new` layout)."""

import pytest

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets.tatoeba_pairs.tatoeba_pairs_dataset_builder_test import (  # noqa: E402
    TatoebaPairsTest,
)

__all__ = ["TatoebaPairsTest"]
