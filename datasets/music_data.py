"""ABC tunes for the music app: music21's bundled corpus, a saved split by tune, users' files.

The default data is every ABC tune in the corpus that ships inside the
`music21` package (`music21/corpus/**/*.abc`: essenFolksong, oneills1850,
airdsAirs, ryansMammoth, miscFolk, josquin, nottingham-dataset): 1,146 files,
12,978 tunes, about 4.3 M characters. Nothing is downloaded. Rules applied
here:

- files are read as latin-1, their encoding in the corpus (some hold UTF-8
  bytes, which then read as two characters each; the tunes are kept as they
  are); line ends become `\\n` and trailing spaces are removed;
- a tune starts at a line beginning with `X:` and ends at the first blank line
  (the ABC standard's rule) or at the next `X:` line; text before a file's
  first `X:` (file headers, comments) and free text between a blank line and
  the next `X:` are not part of any tune, and are counted in `notes`;
- a tune's id is `<file path relative to its root>#<n>`, `n` counting the
  tunes of the file from 1 (X: numbers repeat across files, and sometimes
  within one);
- the split is by tune: 90 / 5 / 5 % train / validation / test, drawn once with
  a fixed seed and saved as `<root>/music/split.json` (ids per split, the seed,
  the music21 version and the SHA-256 of the corpus files). Later loads reuse
  the saved file, so the split never moves when code or library versions
  change; a corpus that no longer matches it is an error. Delete the file to
  draw a new one.

`normalize(data)` puts every tune in the canonical form of
`datasets.abc_normalize` (one header shape, no prose, `L:` and `M:` written
out) and keeps only the tunes whose notes music21 reads the same before and
after; the others are reported in `notes` and left out of every split (the
split itself does not move). The result is saved beside the split
(`normalised-<form>.json`, keyed by the SHA-256 of the tunes), since checking
every tune takes music21 a few minutes.

Users' own data goes through `load_user_abc(path)`: one `.abc` file, or a
folder searched recursively for `*.abc`. Files are decoded as UTF-8, or as
latin-1 when they are not UTF-8. A file that cannot be read, is binary or holds
no `X:` tune is reported (a warning and a line in `notes`) and skipped; only
when no file is usable is it an error. The split is saved under
`<root>/music/user-<first 8 hex of the data's SHA-256>/split.json`.

The data root is `$SEQLIB_DATA` when set, else `<repo>/data` (git-ignored).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from datasets.abc_normalize import NORMAL_FORM, NotNormalizable, normalize_tune, same_notes
from datasets.fetch import DataError, data_root, path_text
from datasets.saved_split import SPLITS, SavedSplit, write_atomic
from datasets.splits import ROOT_HELP, Column, SplitData, run_main

__all__ = [
    "DataError",
    "SPLIT_SEED",
    "MusicData",
    "Tune",
    "corpus_dir",
    "data_root",
    "load_corpus",
    "load_user_abc",
    "normalize",
    "transposed_tunes",
    "read_abc_file",
    "split_by_tune",
    "split_tunes",
]

logger = logging.getLogger(__name__)

SPLIT_SEED = 1234
VALIDATION_FRACTION = 0.05
TEST_FRACTION = 0.05
SPLIT_FORMAT = 1
# Fewer tunes cannot give every split one.
MIN_TUNES = 3

_TUNE_START = re.compile(r"^X:", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Tune:
    """One ABC tune.

    Args:
        id: `<file>#<n>`, unique in its dataset.
        abc: the tune's text, `X:` line first, each line ending in `\\n`, no
            blank line.
    """

    id: str
    abc: str


def corpus_dir() -> Path:
    """The folder of music21's bundled corpus."""
    from music21 import common

    return Path(common.getCorpusFilePath())


class MusicData(SplitData[list[Tune]]):
    """The three splits of a tune collection.

    Args:
        train: list of `Tune`.
        validation: list of `Tune`.
        test: list of `Tune`.
        source: where the tunes came from, in words.
        split_path: the saved split file these splits follow.
        notes: what was skipped or dropped while reading, one line each.
    """

    COLUMNS = (Column("tunes", 8), Column("characters", 13, ","))
    RATIO = Column("chars/tune", 12, ".1f")

    def count(self, tunes: list[Tune]) -> dict[str, int]:
        """Tunes and characters of one split (a tune's characters, without the blank line)."""
        return {"tunes": len(tunes), "characters": sum(len(t.abc) for t in tunes)}

    def ratio(self, row: dict[str, int]) -> float:
        """Characters per tune."""
        return row["characters"] / row["tunes"] if row["tunes"] else float("nan")


# ---------------------------------------------------------------------------
# Reading ABC text


def split_tunes(text: str) -> tuple[list[str], dict[str, int]]:
    """Splits the text of an ABC file into tunes.

    Returns `(tunes, dropped)`: the tunes' texts (see `Tune.abc`) and the
    number of non-blank characters that belong to no tune, as
    `{"header": ..., "between": ...}` (before the first `X:`, and after a
    tune's blank line).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = [m.start() for m in _TUNE_START.finditer(text)]
    dropped = {"header": len(_visible(text[: starts[0] if starts else len(text)])), "between": 0}
    tunes = []
    for start, end in zip(starts, [*starts[1:], len(text)]):
        body = []
        lines = text[start:end].split("\n")
        for number, line in enumerate(lines):
            line = line.rstrip()
            if not line:
                dropped["between"] += len(_visible("\n".join(lines[number:])))
                break
            body.append(line)
        tunes.append("".join(f"{line}\n" for line in body))
    return tunes, dropped


def _visible(text: str) -> str:
    return "".join(text.split())


def read_abc_file(path: str | os.PathLike, encoding: str | None = None) -> list[str]:
    """The tunes of one ABC file (see `split_tunes`).

    Args:
        path: the file.
        encoding: `"latin-1"`, say; `None` tries UTF-8, then latin-1.

    Raises:
        DataError: the file cannot be read, is binary or holds no tune.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None
    return _tunes_of(path, raw, encoding)[0]


def _tunes_of(path: Path, raw: bytes, encoding: str | None) -> tuple[list[str], dict, str]:
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{path}: binary data (a NUL byte at offset {nul}), not ABC text")
    if encoding is None:
        try:
            text, encoding = raw.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = raw.decode("latin-1"), "latin-1"
    else:
        text = raw.decode(encoding)
    tunes, dropped = split_tunes(text)
    if not tunes:
        raise DataError(f"{path}: no tune (no line starts with X:)")
    return tunes, dropped, encoding


def _read_tunes(
    files: Iterable[Path], root: Path, encoding: str | None
) -> tuple[list[Tune], list[str], str]:
    """Reads every file; returns (tunes, notes, SHA-256 of all the bytes read)."""
    tunes, notes, skipped = [], [], []
    digest = hashlib.sha256()
    header_chars = between_chars = latin1_files = 0
    for path in files:
        relative = path.relative_to(root).as_posix() if path != root else path.name
        # A file name need not be UTF-8 (`path_text`), and may hold a line break,
        # which a message shows quoted.
        name = path_text(relative)
        label = name if name.isprintable() else repr(name)
        try:
            raw = path.read_bytes()
            texts, dropped, used = _tunes_of(path, raw, encoding)
        except OSError as error:
            skipped.append(f"{label}: cannot be read ({error.strerror or error})")
            continue
        except DataError as error:
            skipped.append(str(error).replace(str(path), label, 1))
            continue
        # The name's bytes on disk: the UTF-8 of the name wherever it is UTF-8.
        digest.update(os.fsencode(relative) + b"\x00" + hashlib.sha256(raw).digest())
        header_chars += dropped["header"]
        between_chars += dropped["between"]
        latin1_files += encoding is None and used == "latin-1"
        tunes.extend(Tune(f"{name}#{n}", abc) for n, abc in enumerate(texts, start=1))
    for line in skipped:
        logger.warning("skipped %s", line)
        notes.append(f"skipped {line}")
    if header_chars:
        notes.append(f"{header_chars:,} characters before a file's first X: are not tunes")
    if between_chars:
        notes.append(f"{between_chars:,} characters of text between tunes were dropped")
    if latin1_files:
        notes.append(f"{latin1_files} files are not UTF-8 and were read as latin-1")
    return tunes, notes, digest.hexdigest()


# ---------------------------------------------------------------------------
# The split


def split_by_tune(
    ids: Sequence[str],
    seed: int = SPLIT_SEED,
    validation_fraction: float = VALIDATION_FRACTION,
    test_fraction: float = TEST_FRACTION,
) -> dict[str, list[str]]:
    """Splits tune ids at random into train / validation / test.

    Test and validation get `round(fraction * n)` tunes each, at least one;
    train the rest. Every split keeps the order of `ids`.
    """
    n = len(ids)
    if n < MIN_TUNES:
        raise DataError(f"{n} tunes; at least {MIN_TUNES} are needed to split")
    n_test = max(1, round(test_fraction * n))
    n_validation = max(1, round(validation_fraction * n))
    order = np.random.default_rng(seed).permutation(n)
    split_of = np.zeros(n, dtype=np.int64)  # 0 train, 1 validation, 2 test
    split_of[order[:n_test]] = 2
    split_of[order[n_test : n_test + n_validation]] = 1
    return {name: [ids[i] for i in np.flatnonzero(split_of == k)] for k, name in enumerate(SPLITS)}


def _load_or_create_split(
    split_path: Path, tunes: list[Tune], source: dict, seed: int | None
) -> dict[str, list[str]]:
    ids = [tune.id for tune in tunes]
    if len(set(ids)) != len(ids):
        raise DataError("tune ids repeat; each file's tunes are numbered from 1")
    return SavedSplit(split_path, SPLIT_FORMAT).load_or_draw(
        source,
        seed,
        SPLIT_SEED,
        ids,
        "tunes",
        draw=lambda seed: split_by_tune(ids, seed=seed),
        settings={"validation_fraction": VALIDATION_FRACTION, "test_fraction": TEST_FRACTION},
        count_repeated=False,
    )


def _make_data(
    tunes: list[Tune], split: dict[str, list[str]], source: str, split_path: Path, notes
) -> MusicData:
    by_id = {tune.id: tune for tune in tunes}
    return MusicData(
        **{name: [by_id[i] for i in split[name]] for name in SPLITS},
        source=source,
        split_path=split_path,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------
# Public loaders


def corpus_files(directory: str | os.PathLike | None = None) -> list[Path]:
    """Every `*.abc` file under music21's corpus (or `directory`), sorted."""
    directory = Path(directory) if directory is not None else corpus_dir()
    return sorted(p for p in directory.rglob("*.abc") if p.is_file())


def load_corpus(
    root: str | os.PathLike | None = None,
    seed: int | None = None,
    directory: str | os.PathLike | None = None,
) -> MusicData:
    """Loads every ABC tune of music21's corpus with the saved split.

    Args:
        root: the data root; `data_root()` when None.
        seed: the seed of a new split (`SPLIT_SEED` when None). A saved split
            is always reused; a seed that differs from the saved one is an
            error rather than a silent reshuffle.
        directory: read this folder instead of music21's corpus (tests).

    Returns:
        A `MusicData`.
    """
    import music21

    directory = Path(directory) if directory is not None else corpus_dir()
    files = corpus_files(directory)
    if not files:
        raise DataError(f"{directory}: no .abc files; is music21's corpus installed?")
    tunes, notes, digest = _read_tunes(files, directory, encoding="latin-1")
    if not tunes:
        raise DataError(f"{directory}: no tune in {len(files)} .abc files")
    source = {"music21": music21.__version__, "files": len(files), "sha256": digest}
    split_path = data_root(root) / "music" / "split.json"
    split = _load_or_create_split(split_path, tunes, source, seed)
    return _make_data(
        tunes,
        split,
        f"music21 {music21.__version__} corpus: {len(tunes):,} tunes in {len(files)} ABC files",
        split_path,
        notes,
    )


def load_user_abc(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    seed: int | None = None,
) -> MusicData:
    """Loads a user's ABC file, or every `*.abc` file under a folder, and splits it by tune.

    Args:
        path: an `.abc` file or a folder.
        root: the data root; `data_root()` when None.
        seed: as in `load_corpus`.

    Returns:
        A `MusicData`; `notes` lists the files skipped and why.

    Raises:
        DataError: the path does not exist, holds no `.abc` file, no file is
            usable, or there are fewer than 3 tunes.
    """
    path = Path(path)
    if path.is_dir():
        files, base = corpus_files(path), path
        if not files:
            raise DataError(f"{path}: no .abc files in this folder or below it")
    elif path.is_file():
        files, base = [path], path
    else:
        raise DataError(f"{path}: no such file or folder")
    tunes, notes, digest = _read_tunes(files, base, encoding=None)
    if not tunes:
        first = notes[0].removeprefix("skipped ") if notes else "no tunes"
        raise DataError(f"{path}: no usable ABC file ({len(files)} skipped; {first})")
    if len(tunes) < MIN_TUNES:
        raise DataError(f"{path}: {len(tunes)} tunes; at least {MIN_TUNES} are needed to split")
    source = {"path": path_text(path.resolve()), "files": len(files), "sha256": digest}
    split_path = data_root(root) / "music" / f"user-{digest[:8]}" / "split.json"
    split = _load_or_create_split(split_path, tunes, source, seed)
    used = len(files) - sum(note.startswith("skipped ") for note in notes)
    return _make_data(
        tunes, split, f"{path}: {len(tunes):,} tunes in {used} ABC files", split_path, notes
    )


# ---------------------------------------------------------------------------
# The canonical form


def _normal_form(item: tuple[str, str, bool]) -> tuple[str, str | None, str | None]:
    """`(id, normalised text or None, why it was left out or None)` for one tune."""
    tune_id, abc, keep_text = item
    try:
        normalized = normalize_tune(abc, keep_text=keep_text)
    except NotNormalizable as error:
        return tune_id, None, str(error)
    problem = same_notes(abc, normalized)
    return tune_id, (None if problem else normalized), problem


def _without_beams() -> None:
    """Worker set-up: music21 reads scores without drawing beams, which are notation
    only and take half of its time; pitches and durations are read as always."""
    from music21 import stream

    stream.Stream.makeBeams = lambda self, *args, **kwargs: self


def _map_with_music21(function, items: list, workers: int | None) -> list:
    """`[function(item) for item in items]`, in `workers` processes (every core when
    None) that read ABC with music21 without drawing beams."""
    import concurrent.futures
    import multiprocessing

    workers = workers or os.cpu_count() or 1
    if workers == 1:
        return [function(item) for item in items]
    # A fresh interpreter per worker: the caller may hold TensorFlow's threads.
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_without_beams
    )
    with pool:
        return list(pool.map(function, items, chunksize=64))


def _saved_or_made(path: Path, key: dict, make) -> dict:
    """The JSON saved at `path` when its `key` fields match, else `{**key, **make()}`,
    saved there first (atomically)."""
    saved = None
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = None
    if not saved or any(saved.get(k) != v for k, v in key.items()):
        saved = {**key, **make()}
        write_atomic(path, json.dumps(saved, ensure_ascii=False, indent=0) + "\n")
    return saved


def _normal_forms(tunes: list[Tune], keep_text: bool, workers: int | None) -> dict:
    items = [(tune.id, tune.abc, keep_text) for tune in tunes]
    results = _map_with_music21(_normal_form, items, workers)
    tunes_out, left_out = {}, {}
    for tune_id, normalized, problem in results:
        if normalized is None:
            left_out[tune_id] = problem
        else:
            tunes_out[tune_id] = normalized
    return {"tunes": tunes_out, "left_out": left_out}


def normalize(data: MusicData, keep_text: bool = False, workers: int | None = None) -> MusicData:
    """`data` with every tune in the canonical form (`datasets.abc_normalize`).

    A tune is left out, and counted in `notes` by reason, when it cannot be
    normalised or music21 does not read the same notes from it before and
    after (including when music21 cannot read it at all). The result is saved
    as `normalised-<form>[-text].json` beside the split file and reused while
    the tunes are the same.

    Args:
        data: a `MusicData` from `load_corpus` or `load_user_abc`.
        keep_text: keep the fields that carry no music (notes, history, lyrics, ...).
        workers: processes that run music21; `None` uses every CPU core.

    Returns:
        A `MusicData` with the same split, less the tunes left out.
    """
    tunes = [tune for split in SPLITS for tune in getattr(data, split)]
    digest = hashlib.sha256()
    for tune in tunes:
        digest.update(f"{tune.id}\x00{tune.abc}\x00".encode())
    key = {"form": NORMAL_FORM, "keep_text": keep_text, "sha256": digest.hexdigest()}
    path = data.split_path.parent / f"normalised-{NORMAL_FORM}{'-text' if keep_text else ''}.json"

    def make():
        logger.info("normalising %d tunes and checking each with music21 ...", len(tunes))
        return _normal_forms(tunes, keep_text, workers)

    saved = _saved_or_made(path, key, make)
    kept, left_out = saved["tunes"], saved["left_out"]
    reasons: dict[str, int] = {}
    for problem in left_out.values():
        reason = "a header line is not a field" if problem.startswith("header line") else problem
        reason = "notes differ after normalisation" if "differs" in reason else reason
        reasons[reason] = reasons.get(reason, 0) + 1
    before = sum(len(tune.abc) for tune in tunes)
    after = sum(len(text) for text in kept.values())
    notes = [
        f"normal form {NORMAL_FORM} ({'prose kept' if keep_text else 'prose dropped'}): "
        f"{before:,} -> {after:,} characters; saved in {path.name}",
        *(f"left out {n} tunes: {reason}" for reason, n in sorted(reasons.items())),
    ]
    return dataclasses.replace(
        data,
        **{
            split: [Tune(t.id, kept[t.id]) for t in getattr(data, split) if t.id in kept]
            for split in SPLITS
        },
        notes=(*data.notes, *notes),
    )


# ---------------------------------------------------------------------------
# Transposed copies


def _transposed(item: tuple[str, str, tuple[str, ...]]) -> tuple[str, list]:
    """`(id, [(interval, transposed text or None, why not or None)])` for one tune."""
    from datasets.abc_transpose import NotTransposable, check_transposition, transpose_abc

    tune_id, abc, intervals = item
    out = []
    for interval in intervals:
        try:
            transposed = transpose_abc(abc, interval)
        except NotTransposable as error:
            out.append((interval, None, f"not transposable: {error}"))
            continue
        problem = check_transposition(abc, transposed, interval)
        out.append((interval, None if problem else transposed, problem))
    return tune_id, out


def transposed_tunes(
    data: MusicData, intervals: Sequence[str], workers: int | None = None
) -> tuple[list[Tune], tuple[str, ...]]:
    """The training tunes of `data` transposed by each interval, for augmentation.

    Each copy is made by `datasets.abc_transpose.transpose_abc` and kept only
    when music21 hears every note of it moved by the interval
    (`check_transposition`). Copies are named `<id>@<interval>`. The result is
    saved beside the split (`transposed-<SHA-256 prefix>.json`, keyed by the
    training tunes and the intervals) and reused.

    Args:
        data: the `MusicData` (normalised or not) whose `train` is transposed.
        intervals: music21 interval names, e.g. `("-M2", "M2")`.
        workers: processes that run music21; `None` uses every CPU core.

    Returns:
        `(tunes, notes)`: the checked copies, and one line per interval on how
        many were made and why the others were not.
    """
    from datasets.abc_transpose import transpose_abc

    intervals = tuple(intervals)
    for interval in intervals:
        try:
            transpose_abc("X:1\nK:C\nC|\n", interval)
        except Exception as error:  # music21 names bad intervals in several ways
            raise DataError(f"{interval!r} is not an interval music21 knows ({error})") from None
    # The key: the intervals, the transposer's code and the training tunes.
    digest = hashlib.sha256(repr(intervals).encode())
    digest.update(Path(transpose_abc.__code__.co_filename).read_bytes())
    for tune in data.train:
        digest.update(f"{tune.id}\x00{tune.abc}\x00".encode())
    key = digest.hexdigest()
    path = data.split_path.parent / f"transposed-{key[:16]}.json"

    def make():
        logger.info(
            "transposing %d tunes by %s and checking each with music21 ...",
            len(data.train),
            ", ".join(intervals),
        )
        items = [(tune.id, tune.abc, intervals) for tune in data.train]
        return {
            "intervals": list(intervals),
            "tunes": dict(_map_with_music21(_transposed, items, workers)),
        }

    saved = _saved_or_made(path, {"sha256": key}, make)
    tunes, notes = [], []
    for interval in intervals:
        made, refused = 0, {}
        for tune in data.train:
            for name, text, problem in saved["tunes"][tune.id]:
                if name != interval:
                    continue
                if text is None:
                    reason = (
                        "refused by the transposer"
                        if problem.startswith("not transposable")
                        else "rejected by the music21 check"
                    )
                    refused[reason] = refused.get(reason, 0) + 1
                else:
                    tunes.append(Tune(f"{tune.id}@{interval}", text))
                    made += 1
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(refused.items()))
        notes.append(
            f"transposed by {interval}: {made:,} of {len(data.train):,} training tunes"
            + (f" ({why})" if why else "")
        )
    return tunes, tuple(notes)


def _arguments(parser) -> None:
    parser.add_argument("--abc", help="an .abc file or a folder instead of music21's corpus")
    parser.add_argument("--root", help=ROOT_HELP)


def _load(args) -> MusicData:
    return load_user_abc(args.abc, root=args.root) if args.abc else load_corpus(args.root)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m datasets.music_data [--abc FILE_OR_DIR]`: read, split, describe."""
    return run_main(argv, "python -m datasets.music_data", __doc__, _arguments, _load)


if __name__ == "__main__":
    raise SystemExit(main())
