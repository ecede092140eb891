"""TFDS's DatasetBuilderTestCase for abc_tunes, kept beside the builder (the `tfds new` layout)."""

import pytest

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets.abc_tunes.abc_tunes_dataset_builder_test import AbcTunesTest  # noqa: E402

__all__ = ["AbcTunesTest"]
