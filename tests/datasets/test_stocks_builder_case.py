"""TFDS's DatasetBuilderTestCase for stock_prices, kept beside the builder (the `tfds new` layout)."""

import pytest

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets.stock_prices.stock_prices_dataset_builder_test import StockPricesTest  # noqa: E402

__all__ = ["StockPricesTest"]
