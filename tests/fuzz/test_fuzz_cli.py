"""The issue's case through the command line: `train --data F`, F being 2 KB of
random bytes, is one line on stderr and exit status 1, in every app that reads a
file."""

import importlib
import random

import pytest
from click.testing import CliRunner

SUFFIX = {"sentiment": ".csv", "stocks": ".csv", "music": ".abc", "translation": ".tsv"}


@pytest.mark.parametrize("app", sorted(SUFFIX))
def test_train_on_random_bytes_is_one_line_and_status_1(app, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLIB_HOME", str(tmp_path))
    monkeypatch.setenv("SEQLIB_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("SEQLIB_DEBUG", raising=False)
    path = tmp_path / f"random{SUFFIX[app]}"
    # Seed 5: the bytes that made the sentiment app raise csv.Error.
    path.write_bytes(random.Random(5).randbytes(2048))
    cli = importlib.import_module(f"apps.{app}.cli").cli
    # catch_exceptions=False: anything but the one-line error fails the test.
    result = CliRunner().invoke(cli, ["train", "--data", str(path)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}"), result.output
    assert not (tmp_path / "runs").exists()
