"""datasets.splits: the table every loader's `describe` prints, and the shared command line."""

from pathlib import Path

import pandas as pd
import pytest

from datasets.caption_data import CaptionData, CaptionExample
from datasets.fetch import DataError
from datasets.music_data import MusicData, Tune
from datasets.sentiment_data import SentimentData
from datasets.splits import run_main
from datasets.translation_data import Pair, TranslationData


def _frame(labels):
    return pd.DataFrame(
        {
            "id": [str(i) for i in range(len(labels))],
            "text": ["t"] * len(labels),
            "label": pd.Series(labels, dtype="int64"),
            "rating": [float("nan")] * len(labels),
        }
    )


# The tables as the loaders printed them before they shared `SplitData`: an
# empty split gives nan, counts of 1,000 and more are separated where they were.
TABLES = {
    "sentiment": (
        lambda: SentimentData(
            _frame([1, 0, 1] * 400),
            _frame([0, 1]),
            _frame([]),
            source="tweets",
            split_path=Path("/data/sentiment/split.json"),
            notes=("dropped 4",),
        ),
        "source: tweets\n"
        "split:  /data/sentiment/split.json\n"
        "split         rows  negative  positive  positive %\n"
        "train         1200       400       800       66.7%\n"
        "validation       2         1         1       50.0%\n"
        "test             0         0         0        nan%\n"
        "all           1202       401       801       66.6%\n"
        "note: dropped 4",
    ),
    "music": (
        lambda: MusicData(
            [Tune("a#1", "X:1\n" + "c" * 2000 + "\n")] * 3,
            [Tune("a#2", "X:2\n")],
            [],
            source="tunes",
        ),
        "source: tunes\n"
        "split         tunes   characters  chars/tune\n"
        "train             3        6,015      2005.0\n"
        "validation        1            4         4.0\n"
        "test              0            0         nan\n"
        "all               4        6,019      1504.8",
    ),
    "translation": (
        lambda: TranslationData(
            [Pair("one two", "uno dos tres")] * 1500,
            [Pair("Go.", "Ve.")],
            [Pair("a b", "c")],
            split_path=Path("split.json"),
            notes=("a", "b"),
        ),
        "split:  split.json\n"
        "split          pairs  english words  other words  words/pair\n"
        "train          1,500          3,000        4,500         2.5\n"
        "validation         1              1            1         1.0\n"
        "test               1              2            1         1.5\n"
        "all            1,502          3,003        4,502         2.5\n"
        "note: a\n"
        "note: b",
    ),
    "caption": (
        lambda: CaptionData(
            [CaptionExample(Path("/i/1.jpg"), ("a dog runs", "a dog"))] * 1200,
            [CaptionExample(Path("/i/2.jpg"), ("x",))],
            [CaptionExample(Path("/i/3.jpg"), ())],
            source="flickr",
        ),
        "source: flickr\n"
        "split         images  captions      words  words/caption\n"
        "train          1,200     2,400      6,000            2.5\n"
        "validation         1         1          1            1.0\n"
        "test               1         0          0            nan\n"
        "all            1,202     2,401      6,001            2.5",
    ),
}


@pytest.mark.parametrize("name", TABLES)
def test_describe_prints_the_loaders_table(name):
    make, expected = TABLES[name]
    assert make().describe() == expected


def test_counts_per_split():
    data = TABLES["caption"][0]()
    assert data.counts() == {
        "train": {"images": 1200, "captions": 2400, "words": 6000},
        "validation": {"images": 1, "captions": 1, "words": 1},
        "test": {"images": 1, "captions": 0, "words": 0},
    }
    assert list(data.splits()) == ["train", "validation", "test"]


def _arguments(parser):
    parser.add_argument("--fail", action="store_true")


def _load(args):
    if args.fail:
        raise DataError("data.csv: no such file")
    return TABLES["music"][0]()


def test_run_main(capsys):
    assert run_main([], "python -m datasets.x", "Doc.", _arguments, _load) == 0
    assert capsys.readouterr().out == TABLES["music"][1] + "\n"
    assert run_main(["--fail"], "python -m datasets.x", "Doc.", _arguments, _load) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "error: data.csv: no such file\n")
    with pytest.raises(SystemExit) as caught:
        run_main(["--nope"], "python -m datasets.x", "Doc.", _arguments, _load)
    assert caught.value.code == 2
    assert "usage: python -m datasets.x [-h] [--fail]" in capsys.readouterr().err
