"""datasets.abc_normalize and `music_data.normalize`: the canonical header, what is
dropped and kept, ABC 2.1's default unit length, and the notes of real tunes
unchanged by it (music21 reads both texts)."""

import collections
import json

import pytest

from datasets import music_data
from datasets.abc_normalize import (
    NotNormalizable,
    default_unit_length,
    normalize_tune,
    note_sequence,
    same_notes,
)
from datasets.music_data import load_corpus, load_user_abc, normalize

MESSY = (
    "X:17\n"
    "T:The First Title\n"
    "T:Another Title\n"
    "Z:someone, 1999\n"
    "N:played slowly   % a comment\n"
    "M: 6/8\n"
    "S:a book\n"
    "%%MIDI program 1\n"
    "R: jig\n"
    "K: D\n"
    "% a comment line in the body\n"
    '  A   B  c "D" d2 e  |  f3 "^text % not a comment" e2 d | % end-of-line comment\n'
    "w: la la la la la\n"
    "N:a note in the body\n"
    "P:B\n"
    "d2 c B A G |]   \n"
)


def test_the_header_gets_one_shape_and_the_prose_goes():
    assert normalize_tune(MESSY) == (
        "X:1\n"
        "T:The First Title\n"
        "R:jig\n"
        "M:6/8\n"
        "L:1/8\n"
        "K:D\n"
        'A B c "D" d2 e | f3 "^text % not a comment" e2 d |\n'
        "P:B\n"
        "d2 c B A G |]\n"
    )


def test_keep_text_keeps_the_prose_fields_but_not_comments():
    out = normalize_tune(MESSY, keep_text=True)
    assert out.splitlines()[:5] == [
        "X:1",
        "T:The First Title",
        "Z:someone, 1999",
        "N:played slowly",
        "S:a book",
    ]
    assert "w:la la la la la\n" in out and "N:a note in the body\n" in out
    assert "%" not in out.replace("% not a comment", "")


@pytest.mark.parametrize(
    "meter, unit",
    [("2/4", "1/16"), ("3/8", "1/16"), ("3/4", "1/8"), ("6/8", "1/8"), ("4/4", "1/8")]
    + [("C", "1/8"), ("C|", "1/8"), ("none", "1/8"), ("2+3/8", "1/16"), ("(3+3+2)/8", "1/8")],
)
def test_abc_2_1_default_unit_length(meter, unit):
    assert default_unit_length(meter) == unit


def test_missing_fields_are_written_out_and_later_fields_override():
    out = normalize_tune("X:3\nM:2/4\nM:3/4\nK:G\nGAB|\n")
    assert out == "X:1\nT:\nM:3/4\nL:1/8\nK:G\nGAB|\n"
    assert normalize_tune("X:3\nT:Free\nK:G\nGAB|\n") == "X:1\nT:Free\nM:none\nL:1/8\nK:G\nGAB|\n"
    assert normalize_tune("X:3\nT:Q\nL:1/4\nM:2/4\nQ:1/4=90\nK:G\nGAB|\n").splitlines()[2:6] == [
        "M:2/4",
        "L:1/4",
        "Q:1/4=90",
        "K:G",
    ]


def test_normalizing_twice_changes_nothing():
    once = normalize_tune(MESSY)
    assert normalize_tune(once) == once


@pytest.mark.parametrize(
    "abc, reason",
    [
        ("T:no X\nK:D\nABC|\n", "does not start with an X: line"),
        ("X:1\nT:no key\nM:2/4\n", "no K: field"),
        ("X:1\nT:t\nABC|\nK:D\nABC|\n", "header line 3 is not a field"),
    ],
)
def test_tunes_without_a_clear_header_are_refused(abc, reason):
    with pytest.raises(NotNormalizable, match=reason):
        normalize_tune(abc)


def test_same_notes_sees_a_changed_duration_and_unreadable_text():
    tune = "X:1\nT:t\nM:2/4\nK:G\nGABc|d4|]\n"
    assert same_notes(tune, normalize_tune(tune)) is None
    # The same notes under another unit length last twice as long.
    assert "differs" in same_notes(tune, tune.replace("K:G", "L:1/8\nK:G"))
    assert same_notes("X:1\nK:C\n", tune) == "music21 cannot read the original tune"
    assert note_sequence(tune)[0] == ((67.0,), 0.25)


def _sample_by_collection(tunes, per_collection):
    """Up to `per_collection` tunes from each top-level folder of the corpus, spread out."""
    by_collection = collections.defaultdict(list)
    for tune in tunes:
        by_collection[tune.id.split("/")[0]].append(tune)
    return [
        tune
        for group in by_collection.values()
        for tune in group[:: max(1, len(group) // per_collection)][:per_collection]
    ]


def test_real_tunes_keep_their_notes_and_parse_in_full(data_root):
    """Every collection of music21's corpus: music21's full reading (beams included)
    of each normalised tune has the notes of the original, and the header has its shape."""
    corpus = load_corpus()
    sample = _sample_by_collection(corpus.train, 12)
    assert len({tune.id.split("/")[0] for tune in sample}) >= 5 and len(sample) >= 60
    for tune in sample:
        out = normalize_tune(tune.abc)
        assert same_notes(tune.abc, out) is None, tune.id
        letters = [line[0] for line in out.splitlines() if line[1:2] == ":"]
        header = letters[: letters.index("K") + 1]
        assert header[:2] == ["X", "T"] and "M" in header and "L" in header, tune.id
        assert not set(header) & set("NOZSBHDFGIW"), tune.id


@pytest.fixture()
def tunes_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLIB_DATA", str(tmp_path / "data"))
    folder = tmp_path / "tunes"
    folder.mkdir()
    good = [
        f"X:{i}\nT:Tune {i}\nN:note {i}\nM:2/4\nK:G\nG{'AB'[i % 2]}c d|e4|]\n" for i in range(6)
    ]
    bad = ["X:9\nT:prose in the header\nthis line is no field\nK:G\nGAB|\n", "X:10\nT:x\nK:G\n|\n"]
    (folder / "tunes.abc").write_text("\n".join(good + bad), encoding="utf-8")
    return folder


def test_normalize_keeps_the_split_reports_what_it_left_out_and_saves_the_result(
    tunes_folder, monkeypatch
):
    raw = load_user_abc(tunes_folder)
    data = normalize(raw, workers=1)
    assert sum(data.counts()[s]["tunes"] for s in ("train", "validation", "test")) == 6
    for split in ("train", "validation", "test"):
        kept = {t.id for t in getattr(data, split)}
        assert kept <= {t.id for t in getattr(raw, split)}
    assert all(t.abc.startswith("X:1\nT:Tune") and "N:" not in t.abc for t in data.train)
    assert any("left out 1 tunes: a header line is not a field" in n for n in data.notes)
    assert any("left out 1 tunes: music21 cannot read the original tune" in n for n in data.notes)
    saved = raw.split_path.parent / "normalised-1.json"
    assert json.loads(saved.read_text(encoding="utf-8"))["sha256"]

    # The saved result is reused while the tunes are the same ...
    def must_not_run(*args):
        raise AssertionError("recomputed")

    monkeypatch.setattr(music_data, "_normal_forms", must_not_run)
    again = normalize(load_user_abc(tunes_folder), workers=1)
    assert again.notes == data.notes, (again.notes, data.notes)
    assert again.splits() == data.splits()
    # ... and keep_text is saved apart.
    with pytest.raises(AssertionError, match="recomputed"):
        normalize(raw, keep_text=True, workers=1)


def test_normalize_in_worker_processes_gives_the_same_result(tunes_folder):
    raw = load_user_abc(tunes_folder)
    serial = music_data._normal_forms(raw.train + raw.validation + raw.test, False, workers=1)
    pooled = music_data._normal_forms(raw.train + raw.validation + raw.test, False, workers=2)
    assert serial == pooled


@pytest.mark.slow
def test_every_corpus_tune_is_normalised_with_its_notes_kept(data_root):
    """All 12,978 tunes (about 2 minutes on 2 cores): only the few with prose in
    the header are left out."""
    corpus = load_corpus()
    result = music_data._normal_forms(
        corpus.train + corpus.validation + corpus.test, False, workers=None
    )
    reasons = collections.Counter(v.split(" line")[0] for v in result["left_out"].values())
    assert set(reasons) <= {"header"} and reasons["header"] < 20, reasons


def test_transposed_copies_are_checked_named_and_saved(tunes_folder, monkeypatch):
    from datasets.fetch import DataError
    from datasets.music_data import transposed_tunes

    data = normalize(load_user_abc(tunes_folder), workers=1)
    copies, notes = transposed_tunes(data, ("M2", "-m3"), workers=1)
    train = {t.id: t.abc for t in data.train}
    assert [c.id for c in copies] == [f"{i}@M2" for i in train] + [f"{i}@-m3" for i in train]
    first = copies[0]
    assert first.abc.replace("K:A", "K:G") != train[first.id.split("@")[0]]  # notes moved
    assert "K:A\n" in first.abc and "K:E\n" in copies[len(train)].abc  # G up M2, down m3
    assert notes == (
        f"transposed by M2: {len(train)} of {len(train)} training tunes",
        f"transposed by -m3: {len(train)} of {len(train)} training tunes",
    )

    def must_not_run(*args):
        raise AssertionError("recomputed")

    monkeypatch.setattr(music_data, "_map_with_music21", must_not_run)
    assert transposed_tunes(data, ("M2", "-m3"), workers=1)[0] == copies
    with pytest.raises(DataError, match="'M9x' is not an interval music21 knows"):
        transposed_tunes(data, ("M9x",), workers=1)
