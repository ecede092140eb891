"""TFDS's own builder checks on dummy_data/, offline.

Run with `pytest datasets/abc_tunes/`; tests/datasets runs it as well.
`tfds.testing` needs `dill`, which tensorflow-datasets does not install by
itself: without it these tests are skipped.
"""

import tempfile
from pathlib import Path
from unittest import mock

import pytest
import tensorflow_datasets as tfds

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets import music_data
from datasets.abc_tunes import abc_tunes_dataset_builder

DUMMY_DATA = Path(__file__).parent / "dummy_data"


class AbcTunesTest(tfds.testing.DatasetBuilderTestCase):
    """12 dummy tunes in 3 files (a 4th file holds no tune and is skipped)."""

    DATASET_CLASS = abc_tunes_dataset_builder.Builder
    SPLITS = {"train": 10, "validation": 1, "test": 1}
    SKIP_CHECKSUMS = True  # Nothing goes through the download manager.

    def setUp(self):
        super().setUp()
        root = tempfile.TemporaryDirectory()
        self.addCleanup(root.cleanup)
        for patcher in (
            mock.patch.dict("os.environ", {"SEQLIB_DATA": root.name}),
            mock.patch.object(music_data, "corpus_dir", lambda: DUMMY_DATA),
        ):
            patcher.start()
            self.addCleanup(patcher.stop)


if __name__ == "__main__":
    tfds.testing.test_main()
