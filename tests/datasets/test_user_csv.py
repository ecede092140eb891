"""load_user_csv: both layouts, the saved split, and one test per error message."""

import hashlib
import json
import logging

import pytest

from datasets.fetch import DataError
from datasets.sentiment_data import load_user_csv

POSITIVE = ["so good", "loved it", "great fun", "very nice", "superb", "happy days", "yes!!"]
NEGATIVE = ["awful", "so bad", "hated it", "boring", "terrible", "sad", "no!!"]


def plain_rows(n_positive=14, n_negative=10):
    pos = [(POSITIVE[i % len(POSITIVE)] + f" {i}", 1) for i in range(n_positive)]
    neg = [(NEGATIVE[i % len(NEGATIVE)] + f" {i}", 0) for i in range(n_negative)]
    return pos + neg


def write_plain(path, rows, header="text,label", label_words=None):
    lines = [header]
    for text, label in rows:
        value = label_words[label] if label_words else str(label)
        lines.append(f'"{text}",{value}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sentiment140_bytes(encoding="latin-1"):
    """Sentiment140's layout: polarity, id, date, query, user, text; no header."""
    rows = []
    for i in range(12):
        rows.append(
            f'"4","{100 + i}","Mon Apr 06 22:19:45 PDT 2009","NO_QUERY","u{i}","café day {i} &quot;yay&quot;"'
        )
    for i in range(9):
        rows.append(
            f'"0","{200 + i}","Mon Apr 06 22:19:49 PDT 2009","NO_QUERY","v{i}","bad day {i}"'
        )
    for i in range(3):
        rows.append(f'"2","{300 + i}","Mon Apr 06 22:20:00 PDT 2009","NO_QUERY","w{i}","a day {i}"')
    return ("\r\n".join(rows) + "\r\n").encode(encoding)


def test_plain_layout_with_numbers(tmp_path, data_root):
    path = write_plain(tmp_path / "mine.csv", plain_rows())
    data = load_user_csv(path)
    counts = data.counts()
    assert sum(c["rows"] for c in counts.values()) == 24
    assert {name: c["rows"] for name, c in counts.items()} == {
        "train": 16,
        "validation": 3,
        "test": 5,
    }
    for c in counts.values():
        assert c["negative"] >= 1 and c["positive"] >= 1
    sha8 = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    assert data.split_path == data_root / "sentiment" / f"user-{sha8}" / "split.json"
    assert json.loads(data.split_path.read_text())["source"]["sha256"].startswith(sha8)
    everything = {row.id: row for split in data.splits().values() for row in split.itertuples()}
    assert everything["2"].text == "so good 0" and everything["2"].label == 1  # id = line number
    assert data.train["rating"].isna().all()


def test_plain_layout_with_words_and_extra_columns(tmp_path, data_root):
    rows = [(f"row {i}", i % 2) for i in range(24)]
    path = tmp_path / "words.csv"
    lines = ["Label,source,Text"] + [
        f"{['NEGATIVE', 'positive'][label]},web,{text}" for text, label in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = load_user_csv(path)
    frames = data.splits().values()
    labels = {row.text: row.label for frame in frames for row in frame.itertuples()}
    assert labels == dict(rows)


def test_sentiment140_latin1(tmp_path, data_root, caplog):
    path = tmp_path / "training.1600000.processed.noemoticon.csv"
    path.write_bytes(sentiment140_bytes("latin-1"))
    with caplog.at_level(logging.WARNING):
        data = load_user_csv(path)
    assert sum(c["rows"] for c in data.counts().values()) == 21
    assert sum(c["positive"] for c in data.counts().values()) == 12
    assert any("dropped 3 neutral rows (polarity 2)" in note for note in data.notes)
    assert any("latin-1" in note for note in data.notes)
    assert "dropped 3 neutral rows" in caplog.text
    texts = {row.id: row.text for frame in data.splits().values() for row in frame.itertuples()}
    assert texts["1"] == 'café day 0 "yay"'


def test_sentiment140_utf8_is_read_as_utf8(tmp_path, data_root):
    path = tmp_path / "s140.csv"
    path.write_bytes(sentiment140_bytes("utf-8"))
    data = load_user_csv(path)
    assert not any("latin-1" in note for note in data.notes)
    texts = {row.id: row.text for frame in data.splits().values() for row in frame.itertuples()}
    assert texts["1"].startswith("café")


def test_user_split_is_reused(tmp_path, data_root):
    path = write_plain(tmp_path / "mine.csv", plain_rows())
    first = load_user_csv(path)
    second = load_user_csv(path)
    for name in ("train", "validation", "test"):
        assert first.splits()[name]["id"].tolist() == second.splits()[name]["id"].tolist()


def test_smallest_accepted_file_splits(tmp_path, data_root):
    data = load_user_csv(write_plain(tmp_path / "small.csv", plain_rows(15, 5)))
    assert all(c["rows"] > 0 for c in data.counts().values())


# Errors: one line each, naming what is wrong.


def test_missing_file(tmp_path, data_root):
    with pytest.raises(DataError, match="nope.csv: no such file"):
        load_user_csv(tmp_path / "nope.csv")


def test_missing_columns(tmp_path, data_root):
    path = write_plain(tmp_path / "cols.csv", plain_rows(), header="sentence,label")
    with pytest.raises(DataError, match="no text column; found columns sentence, label"):
        load_user_csv(path)
    path = write_plain(tmp_path / "cols2.csv", plain_rows(), header="sentence,score")
    with pytest.raises(DataError, match="no text or label column; found columns sentence, score"):
        load_user_csv(path)


def test_bad_label_names_the_line(tmp_path, data_root):
    rows = plain_rows()
    path = write_plain(tmp_path / "bad.csv", rows)
    lines = path.read_text().splitlines()
    lines[4] = '"meh",neutral'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 5: label 'neutral' is not one of 0, 1, negative"):
        load_user_csv(path)


def test_empty_text_rows_dropped_with_a_warning(tmp_path, data_root, caplog):
    rows = plain_rows() + [("", 1), ("   ", 0)]
    path = write_plain(tmp_path / "gaps.csv", rows)
    with caplog.at_level(logging.WARNING):
        data = load_user_csv(path)
    assert sum(c["rows"] for c in data.counts().values()) == 24
    assert "dropped 2 rows with empty text (the first at line 26)" in caplog.text


def test_all_text_empty(tmp_path, data_root):
    path = write_plain(tmp_path / "blank.csv", [("", i % 2) for i in range(30)])
    with pytest.raises(DataError, match="all 30 rows have empty text"):
        load_user_csv(path)


def test_not_utf8_names_offset_and_line(tmp_path, data_root):
    path = write_plain(tmp_path / "latin.csv", plain_rows())
    raw = path.read_bytes().replace(b"loved it", b"lov\xe9d it", 1)
    path.write_bytes(raw)
    offset = raw.index(b"\xe9")
    with pytest.raises(DataError, match=rf"latin.csv:3: not UTF-8: byte 0xe9 at offset {offset};"):
        load_user_csv(path)


def test_too_few_rows(tmp_path, data_root):
    with pytest.raises(DataError, match="12 usable rows; at least 20"):
        load_user_csv(write_plain(tmp_path / "few.csv", plain_rows(6, 6)))


def test_single_class(tmp_path, data_root):
    with pytest.raises(DataError, match="every row is positive; both classes are needed"):
        load_user_csv(write_plain(tmp_path / "one.csv", plain_rows(30, 0)))


def test_too_few_of_one_class(tmp_path, data_root):
    with pytest.raises(DataError, match="3 negative and 30 positive rows; at least 5 of each"):
        load_user_csv(write_plain(tmp_path / "skew.csv", plain_rows(30, 3)))


def test_ragged_rows(tmp_path, data_root):
    path = write_plain(tmp_path / "ragged.csv", plain_rows())
    path.write_text(path.read_text() + '"extra",1,oops\n')
    with pytest.raises(DataError, match="line 26: 3 fields, the header has 2"):
        load_user_csv(path)


def test_empty_file(tmp_path, data_root):
    path = tmp_path / "empty.csv"
    path.write_text("\n")
    with pytest.raises(DataError, match="empty.csv is empty"):
        load_user_csv(path)
