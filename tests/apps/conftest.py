"""Fixtures every app test shares."""

import pytest


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """A private `SEQLIB_HOME` (runs, reports, models) and `SEQLIB_DATA` under
    `tmp_path`, so no test reads or writes the repository's folders."""
    monkeypatch.setenv("SEQLIB_HOME", str(tmp_path))
    monkeypatch.setenv("SEQLIB_DATA", str(tmp_path / "data"))
    return tmp_path
