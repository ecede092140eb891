"""Fuzzing the translation app's reader of users' pairs: `load_user_pairs` (`--data`)."""

import pytest
from fuzz_files import arbitrary_bytes, data_or_error, hostile_file, truncated, workspace
from hypothesis import given

from datasets.fetch import DataError
from datasets.translation_data import load_user_pairs

WORDS = ["casa", "perro", "gato", "libro", "mesa", "agua", "sol", "luna"]


def pair_lines(pairs=12, attribution=True):
    return [
        f"The {WORDS[i % 8]} {i}.\tEl {WORDS[i % 8]} {i}."
        + (f"\tCC-BY 2.0 (France) #{i}" if attribution else "")
        for i in range(pairs)
    ]


def check(raw):
    with workspace() as (folder, root):
        path = folder / "pairs.tsv"
        path.write_bytes(raw)
        data = data_or_error(load_user_pairs, path, root=root, names=path)
        if data is None:
            return
        for split in data.splits().values():
            for pair in split:
                assert pair.english and pair.other
                assert "\t" not in pair.english + pair.other
                assert not {"\n", "\r"} & set(pair.english + pair.other + pair.attribution)


@given(arbitrary_bytes)
def test_arbitrary_bytes(raw):
    check(raw)


@given(hostile_file(pair_lines(), sep="\t"))
def test_a_valid_file_with_a_fault(raw):
    check(raw)


@given(hostile_file(pair_lines(attribution=False), sep="\t"))
def test_a_valid_file_of_two_columns_with_a_fault(raw):
    check(raw)


@given(truncated("\n".join(pair_lines()).encode()))
def test_a_truncated_file(raw):
    check(raw)


def test_the_base_file_is_valid(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(pair_lines()))
    data = load_user_pairs(path, root=tmp_path / "data")
    assert sum(len(split) for split in data.splits().values()) == 12


# Regression tests: the shrunk examples fuzzing found, each a plain test.


def test_a_lone_carriage_return_ends_a_line(tmp_path):
    # Found by test_a_valid_file_of_two_columns_with_a_fault: with lines split on
    # "\n" only, two lines joined by a lone "\r" read as one pair whose
    # translation held the next line and whose attribution was its translation.
    path = tmp_path / "pairs.tsv"
    path.write_bytes("".join(f"{line}\r" for line in pair_lines(attribution=False)).encode())
    data = load_user_pairs(path, root=tmp_path / "data")
    pairs = sorted((p.english, p.other, p.attribution) for s in data.splits().values() for p in s)
    assert pairs == sorted((*line.split("\t"), "") for line in pair_lines(attribution=False))


def test_line_numbers_count_a_lone_carriage_return(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"a\tb\r\nc\td\re\n")
    with pytest.raises(DataError, match=rf"^{path}:3: 1 field \(no tab\)"):
        load_user_pairs(path, root=tmp_path / "data")
