"""Fuzzing `load_user_csv` (`--data` of the sentiment app): both layouts."""

import pytest
from fuzz_files import arbitrary_bytes, data_or_error, hostile_file, truncated, workspace
from hypothesis import given

from datasets.fetch import DataError
from datasets.sentiment_data import COLUMNS, load_user_csv


def header_lines(rows=24):
    lines = ["text,label,source"]
    for i in range(rows):
        lines.append(f'"row {i}, said ""so"" {i}",{["negative", "1"][i % 2]},web')
    return lines


def sentiment140_lines(rows=30):
    return [
        f'"{[0, 4, 2][i % 3]}","{100 + i}","Mon Apr 06 22:19:45 PDT 2009","NO_QUERY","u{i}",'
        f'"day {i} &amp; night"'
        for i in range(rows)
    ]


def check(raw):
    with workspace() as (folder, root):
        path = folder / "mine.csv"
        path.write_bytes(raw)
        data = data_or_error(load_user_csv, path, root=root, names=path)
        if data is None:
            return
        for frame in data.splits().values():
            assert list(frame.columns) == list(COLUMNS)
            assert set(frame["label"]) <= {0, 1}
            assert all(isinstance(t, str) and t.strip() for t in frame["text"])


@given(arbitrary_bytes)
def test_arbitrary_bytes(raw):
    check(raw)


@given(hostile_file(header_lines()))
def test_header_layout_with_a_fault(raw):
    check(raw)


@given(hostile_file(sentiment140_lines()))
def test_sentiment140_layout_with_a_fault(raw):
    check(raw)


@given(truncated("\n".join(header_lines()).encode()))
def test_header_layout_truncated(raw):
    check(raw)


@pytest.mark.parametrize("lines, rows", [(header_lines(), 24), (sentiment140_lines(), 20)])
def test_the_base_files_are_valid(tmp_path, lines, rows):
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(lines) + "\n")
    data = load_user_csv(path, root=tmp_path / "data")
    assert sum(len(frame) for frame in data.splits().values()) == rows


# Regression tests: the shrunk examples fuzzing found, each a plain test.


def test_a_carriage_return_in_the_first_line_is_not_a_csv_error(tmp_path):
    # Found by test_arbitrary_bytes: the layout sniffing read the first line
    # (up to "\n") as one CSV record, and a lone "\r" in it raised csv.Error.
    path = tmp_path / "mine.csv"
    path.write_bytes(b"0\r0")
    with pytest.raises(DataError, match=rf"^{path}: no text or label column"):
        load_user_csv(path, root=tmp_path / "data")


def test_classic_mac_line_endings_are_read(tmp_path):
    # The same bug on a valid file saved with "\r" line endings only.
    path = tmp_path / "mac.csv"
    path.write_bytes("\r".join(header_lines()).encode() + b"\r")
    data = load_user_csv(path, root=tmp_path / "data")
    assert sum(len(frame) for frame in data.splits().values()) == 24


def test_a_field_over_the_csv_limit_names_its_line(tmp_path):
    # Found by test_header_layout_with_a_fault: an unterminated quote swallows
    # the rest of a large file into one field, and csv.Error escaped.
    path = tmp_path / "mine.csv"
    path.write_text('text,label\n"open,1\n' + "x" * 140_000 + ",0\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path} line 2: a field of more than"):
        load_user_csv(path, root=tmp_path / "data")
