"""Fuzzing the music app's readers of users' ABC files: `load_user_abc` (`--data`,
one file or a folder) and the normal form every user tune is put in
(`normalize_tune`, the part of `datasets.music_data.normalize` that does not
run music21)."""

import os

import pytest
from fuzz_files import (
    arbitrary_bytes,
    data_or_error,
    hostile_file,
    hostile_values,
    truncated,
    workspace,
)
from hypothesis import given
from hypothesis import strategies as st

from datasets.abc_normalize import NotNormalizable, normalize_tune
from datasets.fetch import DataError
from datasets.music_data import load_user_abc

TUNE = ["X:{n}", "T:Tune {n}", "M:6/8", "L:1/8", "K:D", "|:DFA dfa|g2e fdB:|", ""]


def abc_lines(tunes=4):
    return ["% a file header", *(line.format(n=n) for n in range(1, tunes + 1) for line in TUNE)]


def check_data(data):
    ids = [tune.id for split in data.splits().values() for tune in split]
    assert len(ids) == len(set(ids)) >= 3
    for split in data.splits().values():
        for tune in split:
            assert tune.abc.startswith("X:") and tune.abc.endswith("\n")
            assert "\n\n" not in tune.abc and "\r" not in tune.abc


def check_file(raw):
    with workspace() as (folder, root):
        path = folder / "tunes.abc"
        path.write_bytes(raw)
        data = data_or_error(load_user_abc, path, root=root, names=path)
        if data is not None:
            check_data(data)


@given(arbitrary_bytes)
def test_arbitrary_bytes(raw):
    check_file(raw)


@given(hostile_file(abc_lines(), sep=":"))
def test_a_valid_file_with_a_fault(raw):
    check_file(raw)


@given(truncated("\n".join(abc_lines()).encode()))
def test_a_truncated_file(raw):
    check_file(raw)


# File names as a folder from an old archive may hold them: any bytes but "/"
# and NUL, so not always UTF-8.
file_names = st.binary(min_size=1, max_size=12).filter(
    lambda name: b"/" not in name and b"\x00" not in name and name not in (b".", b"..")
)


@given(
    st.lists(
        st.tuples(
            file_names,
            st.one_of(arbitrary_bytes, hostile_file(abc_lines(2), sep=":")),
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_a_folder_of_hostile_files(files, nested):
    with workspace() as (folder, root):
        top = folder / "tunes"
        where = top / "sub" if nested else top
        where.mkdir(parents=True)
        for name, raw in files:
            # Every file is read: the suffix decides, whatever the name.
            (where / os.fsdecode(name + b".abc")).write_bytes(raw)
        data = data_or_error(load_user_abc, top, root=root, names=top)
        if data is not None:
            check_data(data)


@given(hostile_file(TUNE[:-1], sep=":").map(lambda raw: raw.decode("latin-1")), st.booleans())
def test_the_normal_form_of_a_hostile_tune(text, keep_text):
    try:
        normalize_tune(text, keep_text=keep_text)
    except NotNormalizable as error:
        assert "\n" not in str(error)


@given(st.sampled_from(["M", "L", "K", "Q", "T"]), hostile_values)
def test_the_normal_form_with_a_hostile_field(letter, value):
    tune = "\n".join(TUNE[:-1]).format(n=1)
    tune = "\n".join(
        f"{letter}:{value}" if line.startswith(f"{letter}:") else line for line in tune.split("\n")
    )
    try:
        normalize_tune(tune)
    except NotNormalizable:
        pass


def test_the_base_file_is_valid(tmp_path):
    path = tmp_path / "tunes.abc"
    path.write_text("\n".join(abc_lines()))
    assert sum(len(split) for split in load_user_abc(path, root=tmp_path).splits().values()) == 4


# Regression tests: the shrunk examples fuzzing found, each a plain test.


def test_a_file_name_that_is_not_utf8(tmp_path):
    # Found by test_a_folder_of_hostile_files: the name's surrogates made
    # `name.encode("utf-8")` raise UnicodeEncodeError, and, once past that, the
    # saved split (JSON in UTF-8) could not hold the tune ids.
    folder = tmp_path / "tunes"
    folder.mkdir()
    (folder / os.fsdecode(b"\x01.abc")).write_bytes(b"X:")
    (folder / os.fsdecode(b"\x80.abc")).write_bytes(b"X:\nX:")
    data = load_user_abc(folder, root=tmp_path / "data")
    ids = sorted(tune.id for split in data.splits().values() for tune in split)
    assert ids == ["\x01.abc#1", "\\x80.abc#1", "\\x80.abc#2"]
    assert "\\x80.abc#1" in data.split_path.read_text(encoding="utf-8")


def test_a_file_name_with_a_line_break_is_quoted(tmp_path):
    # Found by test_a_folder_of_hostile_files: the skipped file's name put a
    # line break in the message.
    folder = tmp_path / "tunes"
    folder.mkdir()
    (folder / "\n.abc").write_bytes(b"")
    with pytest.raises(DataError) as error:
        load_user_abc(folder, root=tmp_path / "data")
    assert str(error.value) == (
        f"{folder}: no usable ABC file (1 skipped; '\\n.abc': no tune (no line starts with X:))"
    )


def test_a_meter_of_5000_digits():
    # Found by trying the hostile values of the property above as a meter's
    # numerator ("9" * 5000 + "/4"): the tune should be NotNormalizable (left out
    # by `normalize`), not a ValueError that stops `train --data`.
    with pytest.raises(NotNormalizable):
        normalize_tune(f"X:1\nM:{'9' * 5000}/4\nK:D\nabc|\n")
