"""The stock_prices TFDS builder, built from dummy_data/ into tmp_path and read with tfds.load."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

import datasets.stock_prices  # noqa: F401  (registers stock_prices)
from datasets import fetch, stocks_data
from datasets.stock_prices import build_tfds

DUMMY = Path(stocks_data.__file__).parent / "stock_prices" / "dummy_data" / "stocks.csv.gz"


@pytest.fixture
def dummy_wheel(data_root, monkeypatch):
    monkeypatch.setattr(fetch, "fetch_package_file", lambda *args, **kwargs: DUMMY)


def test_tfds_load_after_build(tmp_path, dummy_wheel):
    data_dir = tmp_path / "tfds"
    builder = build_tfds(data_dir=data_dir)
    assert "Quandl" in builder.info.citation
    splits = tfds.load("stock_prices", data_dir=str(data_dir), split=None)
    assert {name: int(ds.cardinality()) for name, ds in splits.items()} == {
        "train": 46,
        "validation": 8,
        "test": 16,
    }
    # The TFDS splits hold the same rows as the pandas loader's parts.
    data = stocks_data.load_default()
    part = data.part_of(data.prices["date"])
    for index, name in enumerate(stocks_data.PARTS):
        rows = data.prices[part == index]
        expected = sorted(f"{t}:{d.date()}" for t, d in zip(rows["ticker"], rows["date"]))
        examples = list(tfds.as_numpy(splits[name]))
        got = sorted(f"{e['ticker'].decode()}:{e['date'].decode()}" for e in examples)
        assert got == expected
    first = next(
        e
        for e in tfds.as_numpy(splits["train"])
        if e["ticker"] == b"AAPL" and e["date"] == b"2004-08-05"
    )
    assert first["close"] == np.float32(31.39) and first["volume"] == 4366100
    assert first["adj_close"] == np.float32(2.0170262514255)
    assert first["close"].dtype == np.float32 and first["volume"].dtype == np.int64
