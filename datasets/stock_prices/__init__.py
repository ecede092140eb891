"""The sample stocks as a TFDS dataset; importing this package registers `stock_prices`."""

from datasets.stock_prices.stock_prices_dataset_builder import Builder, build_tfds

__all__ = ["Builder", "build_tfds"]
