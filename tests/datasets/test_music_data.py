"""datasets.music_data: splitting ABC files into tunes, the saved split by tune,
music21's corpus and users' folders with bad files in them."""

import json
from pathlib import Path

import pytest

from datasets import music_data
from datasets.music_data import (
    DataError,
    load_corpus,
    load_user_abc,
    read_abc_file,
    split_by_tune,
    split_tunes,
)

DUMMY_CORPUS = Path(music_data.__file__).parent / "abc_tunes" / "dummy_data"

TUNE = "X:1\nT:Small\nM:2/4\nL:1/8\nK:G\nGABc|d4|]\n"


def test_split_tunes_follows_the_abc_rules():
    text = (
        "%abc-2.1\r\n% a file header\r\n\r\n"
        "X:1\r\nT:One  \r\nK:D\r\nABc|\r\n\r\nfree text between tunes\r\n\r\n"
        "X:2\nT:Two\nK:G\n GAB|\n"
        "X:3\nT:Three, no blank line before it\nK:C\nCDE|"
    )
    tunes, dropped = split_tunes(text)
    assert tunes == [
        "X:1\nT:One\nK:D\nABc|\n",
        "X:2\nT:Two\nK:G\n GAB|\n",
        "X:3\nT:Three, no blank line before it\nK:C\nCDE|\n",
    ]
    assert dropped == {
        "header": len("%abc-2.1%afileheader"),
        "between": len("freetextbetweentunes"),
    }
    # X: counts only at the start of a line.
    assert split_tunes("T:see X:1\nK:C\n")[0] == []


def test_split_by_tune_is_fixed_disjoint_and_90_5_5():
    ids = [f"t{i}" for i in range(200)]
    split = split_by_tune(ids, seed=3)
    assert {k: len(v) for k, v in split.items()} == {"train": 180, "validation": 10, "test": 10}
    assert sorted(sum(split.values(), [])) == sorted(ids)
    assert split == split_by_tune(ids, seed=3)
    assert split != split_by_tune(ids, seed=4)
    assert split["train"] == [i for i in ids if i in set(split["train"])]  # order kept
    assert {k: len(v) for k, v in split_by_tune(ids[:3]).items()} == {
        "train": 1,
        "validation": 1,
        "test": 1,
    }
    with pytest.raises(DataError, match="at least 3"):
        split_by_tune(ids[:2])


def test_the_dummy_corpus_and_its_saved_split(data_root):
    data = load_corpus(directory=DUMMY_CORPUS)
    assert {k: v["tunes"] for k, v in data.counts().items()} == {
        "train": 10,
        "validation": 1,
        "test": 1,
    }
    tunes = {t.id: t.abc for t in data.train + data.validation + data.test}
    assert tunes["folk/more_songs.abc#2"].startswith("X:2\nT:Fifth Test Song\n")
    assert tunes["folk/more_songs.abc#2"].endswith("B2G2 F4|]\n")  # free text left out
    assert all("\n\n" not in abc and abc.endswith("\n") for abc in tunes.values())
    assert any("readme.abc" in note and "no tune" in note for note in data.notes)

    split_path = data_root / "music" / "split.json"
    saved = json.loads(split_path.read_text())
    assert saved["counts"] == {"train": 10, "validation": 1, "test": 1}
    assert saved["test"] == [t.id for t in data.test]
    assert saved["source"]["files"] == 4
    # Reused, not redrawn, however the seed default changes.
    again = load_corpus(directory=DUMMY_CORPUS)
    assert [t.id for t in again.test] == saved["test"]
    with pytest.raises(DataError, match="seed"):
        load_corpus(directory=DUMMY_CORPUS, seed=99)

    saved["source"]["sha256"] = "0" * 64
    split_path.write_text(json.dumps(saved))
    with pytest.raises(DataError, match="delete .*split.json"):
        load_corpus(directory=DUMMY_CORPUS)


def test_music21_corpus_has_every_tune(data_root):
    data = load_corpus()
    counts = data.counts()
    assert {k: v["tunes"] for k, v in counts.items()} == {
        "train": 11680,
        "validation": 649,
        "test": 649,
    }
    assert 4_200_000 < sum(v["characters"] for v in counts.values()) < 4_500_000
    assert "12,978 tunes in 1146 ABC files" in data.source
    assert all(t.abc.startswith("X:") for t in data.test)


def test_user_folder_reports_and_skips_bad_files(tmp_path, data_root):
    folder = tmp_path / "tunes"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.abc").write_text(TUNE + "\n" + TUNE.replace("X:1", "X:2"), encoding="utf-8")
    (folder / "sub" / "latin1.abc").write_bytes(TUNE.replace("Small", "Caf\xe9").encode("latin-1"))
    (folder / "sub" / "binary.abc").write_bytes(b"X:1\x00\x01\x02")
    (folder / "notes.abc").write_text("no tune in here\n", encoding="utf-8")
    (folder / "ignored.txt").write_text(TUNE, encoding="utf-8")

    data = load_user_abc(folder)
    tunes = sorted(t.id for t in data.train + data.validation + data.test)
    assert tunes == ["good.abc#1", "good.abc#2", "sub/latin1.abc#1"]
    notes = "\n".join(data.notes)
    assert "skipped sub/binary.abc: binary data" in notes
    assert "skipped notes.abc: no tune" in notes
    assert "1 files are not UTF-8 and were read as latin-1" in notes
    assert any("Caf\xe9" in t.abc for t in data.train + data.validation + data.test)
    assert data.split_path.parent.name.startswith("user-")
    assert "3 tunes in 2 ABC files" in data.source


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: p / "missing", "no such file or folder"),
        (lambda p: p, "no .abc files"),
        (lambda p: _write(p / "bad.abc", b"\x00\x00"), "no usable ABC file"),
        (lambda p: _write(p / "two.abc", (TUNE + "\n" + TUNE).encode()), "at least 3"),
    ],
)
def test_unusable_user_data_is_one_clear_error(tmp_path, data_root, make, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=message):
        load_user_abc(make(empty))


def _write(path, raw):
    path.write_bytes(raw)
    return path


def test_read_abc_file_errors_name_the_file(tmp_path):
    path = _write(tmp_path / "x.abc", b"T:no tune\n")
    with pytest.raises(DataError, match="x.abc: no tune"):
        read_abc_file(path)
    assert read_abc_file(_write(tmp_path / "y.abc", TUNE.encode())) == [TUNE]
