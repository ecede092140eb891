"""datasets.saved_split: the atomic write, the checks and messages the loaders share, and
loading a split file or making it."""

import json

import pytest

from datasets.fetch import DataError
from datasets.saved_split import SavedSplit, write_atomic

SHA = "a" * 64


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "deep" / "er" / "split.json"
    write_atomic(path, "é\n")
    write_atomic(path, "second\n")
    assert path.read_text(encoding="utf-8") == "second\n"
    assert [p.name for p in path.parent.iterdir()] == ["split.json"]


def test_save_then_load(tmp_path):
    saved_split = SavedSplit(tmp_path / "split.json", format=1)
    assert saved_split.load(SHA) is None
    document = {"format": 1, "source": {"sha256": SHA, "file": "ü.tsv"}, "seed": 3, "train": [1]}
    saved_split.save(document)
    assert "ü.tsv" in saved_split.path.read_text(encoding="utf-8")
    assert saved_split.load(SHA, seed=3) == document
    saved_split.save(document, ensure_ascii=True)
    assert "\\u00fc.tsv" in saved_split.path.read_text(encoding="utf-8")
    assert json.loads(saved_split.path.read_text()) == document


@pytest.mark.parametrize(
    "words,change,message",
    [
        ({}, {"format": 2}, "{path} has format 2, expected 1"),
        (
            {},
            {"source": {"sha256": "b" * 64}},
            "{path} was drawn for data with SHA-256 " + "b" * 64 + ", but the data now has "
            f"{SHA}; delete {{path}} to draw a new split",
        ),
        (
            {
                "made": "cut",
                "redo": "cut the dates again",
                "source_words": ("a source", "the source"),
            },
            {"source": {}},
            f"{{path}} was cut for a source with SHA-256 None, but the source now has {SHA}; "
            "delete {path} to cut the dates again",
        ),
        ({}, {"seed": 4}, "{path} was drawn with seed 4, not 3; delete {path} to draw a new split"),
    ],
)
def test_header_checks(tmp_path, words, change, message):
    saved_split = SavedSplit(tmp_path / "split.json", format=1, **words)
    saved_split.save({"format": 1, "source": {"sha256": SHA}, "seed": 3} | change)
    with pytest.raises(DataError) as caught:
        saved_split.load(SHA, seed=3)
    assert str(caught.value) == message.format(path=saved_split.path)


def test_check_ids(tmp_path):
    saved_split = SavedSplit(tmp_path / "split.json", format=1)
    saved = {"train": ["a", "b", "b", "x"], "test": ["c"]}
    with pytest.raises(DataError) as caught:
        saved_split.check_ids(saved, ("train", "test"), ["a", "b", "c", "d"], "rows")
    assert str(caught.value) == (
        f"{saved_split.path} does not match the data (1 rows not in it, 1 ids not in the data, "
        f"1 repeated); delete {saved_split.path} to draw a new split"
    )
    with pytest.raises(DataError, match=r"\(1 tunes not in it, 1 ids not in the data\); delete"):
        saved_split.check_ids(saved, ("train", "test"), "abcd", "tunes", count_repeated=False)
    saved_split.check_ids({"train": ["a", "c"], "test": ["b"]}, ("train", "test"), "abc", "rows")


def test_a_damaged_file_is_a_data_error(tmp_path):
    saved_split = SavedSplit(tmp_path / "split.json", format=1)
    saved_split.path.write_text('{"format": 1, "train": [1, 2', encoding="utf-8")
    with pytest.raises(DataError, match="not a readable split file.*delete it"):
        saved_split.load(SHA)


def _draw(calls):
    def draw(seed):
        calls.append(seed)
        return {"train": ["a", "b"], "validation": ["c"], "test": ["d"]}

    return draw


def test_load_or_draw_saves_once_then_reuses(tmp_path):
    saved_split = SavedSplit(tmp_path / "split.json", format=1)
    source, calls = {"file": "x.csv", "sha256": SHA}, []
    settings = {"test_fraction": 0.2, "validation_fraction": 0.1}
    args = (source, None, 1234, "abcd", "rows")
    split = saved_split.load_or_draw(*args, draw=_draw(calls), settings=settings)
    assert split == {"train": ["a", "b"], "validation": ["c"], "test": ["d"]} and calls == [1234]
    # The file's keys, in order: the header, the settings, the counts, the ids.
    assert (
        saved_split.path.read_text(encoding="utf-8")
        == json.dumps(
            {
                "format": 1,
                "source": source,
                "seed": 1234,
                "test_fraction": 0.2,
                "validation_fraction": 0.1,
                "counts": {"train": 2, "validation": 1, "test": 1},
                **split,
            },
            indent=1,
        )
        + "\n"
    )
    assert saved_split.load_or_draw(*args, draw=_draw(calls)) == split and calls == [1234]
    assert saved_split.load_or_draw(source, 1234, 1, "abcd", "rows", draw=_draw(calls)) == split
    with pytest.raises(DataError, match="was drawn with seed 1234, not 5"):
        saved_split.load_or_draw(source, 5, 1, "abcd", "rows", draw=_draw(calls))
    with pytest.raises(DataError, match=r"\(1 rows not in it, 0 ids not in the data, 0 repeated\)"):
        saved_split.load_or_draw(source, None, 1, "abcde", "rows", draw=_draw(calls))

    def check(saved):
        raise saved_split.mismatch(f"the loader's own check of {len(saved['train'])} ids")

    with pytest.raises(
        DataError, match="does not match the data \\(the loader's own check of 2 ids"
    ):
        saved_split.load_or_draw(*args, draw=_draw(calls), check=check)
    assert calls == [1234]


def test_load_or_draw_uses_the_seed_given(tmp_path):
    saved_split = SavedSplit(tmp_path / "split.json", format=1)
    calls = []
    saved_split.load_or_draw({"sha256": SHA}, 7, 1234, "abcd", "rows", draw=_draw(calls))
    assert calls == [7] and json.loads(saved_split.path.read_text())["seed"] == 7


def test_load_or_create_any_document(tmp_path):
    saved_split = SavedSplit(tmp_path / "split.json", format=2)
    source = {"file": "ü.csv", "sha256": SHA}
    made = saved_split.load_or_create(source, lambda: {"cut": "2020-01-02"}, ensure_ascii=True)
    assert made == {"format": 2, "source": source, "cut": "2020-01-02"}
    assert "\\u00fc" in saved_split.path.read_text(encoding="utf-8")
    checked = []
    again = saved_split.load_or_create(
        source, lambda: pytest.fail("drawn again"), check=checked.append
    )
    assert again == made and checked == [made]
