"""The TFDS builders, each built from its dummy_data/ into tmp_path and read back with tfds.load:
the splits hold what the loader's splits hold, and the features what the builder says."""

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

import datasets.abc_tunes
import datasets.scene_captions
import datasets.sentiment_tweets
import datasets.stock_prices
import datasets.tatoeba_pairs
from datasets import fetch, music_data, scenes, sentiment_data, stocks_data, translation_data

HERE = Path(datasets.__file__).parent
SCENE_SIZES = {"train": 12, "validation": 3, "test": 3}


@dataclasses.dataclass
class Case:
    """One builder (and config) and what reading it back must give.

    Args:
        name: the name `tfds.load` takes, config included.
        build: builds it: `build(data_dir=...)`.
        prepare: points the loader at dummy_data/, given the test's `request`;
            returns what `check` needs.
        sizes: the examples per split.
        row: one example of `tfds.as_numpy`, made comparable with `rows`'.
        rows: the loader's splits, each as a sorted list of rows.
        citation: a word of the citation.
        supervised_keys: the builder's `(input, target)` features, or None.
        supervised: `(shape, dtype name)` of the input and of the target of an
            `as_supervised=True` example.
        check: the builder's own checks: `check(builder, splits, prepared)`.
    """

    name: str
    build: Callable
    prepare: Callable
    sizes: dict[str, int]
    row: Callable
    rows: Callable[[], dict[str, list]]
    citation: str
    supervised_keys: tuple[str, str] | None = None
    supervised: tuple = ()
    check: Callable = lambda builder, splits, prepared: None


def _patch(request, target, name, value):
    request.getfixturevalue("monkeypatch").setattr(target, name, value)


# ---------------------------------------------------------------------------
# sentiment_tweets


def _tweet_rows(extras):
    frames = sentiment_data.load_tweets(extras=extras).splits()
    return {name: sorted(frame["id"]) for name, frame in frames.items()}


def _check_tweets(builder, splits, prepared):
    assert builder.info.features["label"].names == ["negative", "positive"]
    rows = {e["id"].decode(): e for split in splits.values() for e in tfds.as_numpy(split)}
    assert rows["13"]["text"].decode() == "Looking forward to the weekend & the beach"
    assert rows["13"]["label"] == 1
    assert rows["2"]["label"] == 0
    assert rows["2"]["rating"] == pytest.approx(-2.4)


def _check_snippets_in_train_only(builder, splits, prepared):
    test_ids = [example["id"].decode() for example in tfds.as_numpy(splits["test"])]
    assert not any(":" in i for i in test_ids)


def _tweets_case(config, sizes, check):
    return Case(
        name="sentiment_tweets" if config == "tweets" else f"sentiment_tweets/{config}",
        build=lambda data_dir: datasets.sentiment_tweets.build_tfds(data_dir, config=config),
        prepare=lambda request: request.getfixturevalue("dummy_source"),
        sizes=sizes,
        row=lambda e: e["id"].decode(),
        rows=lambda: _tweet_rows(extras=config != "tweets"),
        citation="Hutto",
        supervised_keys=("text", "label"),
        supervised=(((), "string"), ((), "int64")),
        check=check,
    )


# ---------------------------------------------------------------------------
# abc_tunes


def _tune_rows():
    loaded = music_data.load_corpus().splits()
    return {name: sorted((t.id, t.abc) for t in tunes) for name, tunes in loaded.items()}


ABC_TUNES = Case(
    name="abc_tunes",
    build=datasets.abc_tunes.build_tfds,
    prepare=lambda request: _patch(
        request, music_data, "corpus_dir", lambda: HERE / "abc_tunes" / "dummy_data"
    ),
    sizes={"train": 10, "validation": 1, "test": 1},
    row=lambda e: (e["id"].decode(), e["abc"].decode()),
    rows=_tune_rows,
    citation="Cuthbert",
)


# ---------------------------------------------------------------------------
# stock_prices


def _serve_stocks(request):
    dummy = HERE / "stock_prices" / "dummy_data" / "stocks.csv.gz"
    _patch(request, fetch, "fetch_package_file", lambda *args, **kwargs: dummy)


def _price_rows():
    data = stocks_data.load_default()
    part = data.part_of(data.prices["date"])
    out = {}
    for index, name in enumerate(stocks_data.PARTS):
        rows = data.prices[part == index]
        out[name] = sorted(f"{t}:{d.date()}" for t, d in zip(rows["ticker"], rows["date"]))
    return out


def _check_prices(builder, splits, prepared):
    first = next(
        e
        for e in tfds.as_numpy(splits["train"])
        if e["ticker"] == b"AAPL" and e["date"] == b"2004-08-05"
    )
    assert first["close"] == np.float32(31.39) and first["volume"] == 4366100
    assert first["adj_close"] == np.float32(2.0170262514255)
    assert first["close"].dtype == np.float32 and first["volume"].dtype == np.int64


STOCK_PRICES = Case(
    name="stock_prices",
    build=datasets.stock_prices.build_tfds,
    prepare=_serve_stocks,
    sizes={"train": 46, "validation": 8, "test": 16},
    row=lambda e: f"{e['ticker'].decode()}:{e['date'].decode()}",
    rows=_price_rows,
    citation="Quandl",
    check=_check_prices,
)


# ---------------------------------------------------------------------------
# tatoeba_pairs


def _serve_pairs(request):
    dummy = HERE / "tatoeba_pairs" / "dummy_data" / "spa.tsv"
    _patch(request, translation_data, "tatoeba_file", lambda root=None: dummy)


def _pair_rows():
    loaded = translation_data.load_tatoeba().splits()
    return {
        name: sorted((p.english, p.other, p.attribution) for p in pairs)
        for name, pairs in loaded.items()
    }


def _check_pairs(builder, splits, prepared):
    first = next(e for e in tfds.as_numpy(splits["train"]) if e["spanish"] == "Váyase.".encode())
    assert first["english"] == b"Go."
    assert first["attribution"].decode().startswith("CC-BY 2.0 (France) Attribution: tatoeba.org #")


TATOEBA_PAIRS = Case(
    name="tatoeba_pairs",
    build=datasets.tatoeba_pairs.build_tfds,
    prepare=_serve_pairs,
    sizes={"train": 37, "validation": 1, "test": 2},
    row=lambda e: (e["english"].decode(), e["spanish"].decode(), e["attribution"].decode()),
    rows=_pair_rows,
    citation="Tatoeba",
    supervised_keys=("spanish", "english"),
    supervised=(((), "string"), ((), "string")),
    check=_check_pairs,
)


# ---------------------------------------------------------------------------
# scene_captions


def _copy_scenes(request):
    """Copies the dummy set into the data root; returns the files' times, to show it is reused."""
    data_root = request.getfixturevalue("data_root")
    shutil.copytree(HERE / "scene_captions" / "dummy_data" / "captioning", data_root / "captioning")
    _patch(request, datasets.scene_captions.Builder, "SPLIT_SIZES", SCENE_SIZES)
    written = data_root / "captioning" / "scenes-64"
    return written, {p: p.stat().st_mtime_ns for p in written.rglob("*")}


def _scene_rows():
    loaded = scenes.load_scenes(**SCENE_SIZES).splits()
    return {
        name: sorted((e.captions[0], np.asarray(Image.open(e.image)).tobytes()) for e in examples)
        for name, examples in loaded.items()
    }


def _check_scenes(builder, splits, prepared):
    written, stamp = prepared
    # The dummy set was reused, not drawn again.
    assert {p: p.stat().st_mtime_ns for p in written.rglob("*")} == stamp
    objects = builder.info.features["objects"]
    assert objects["shape"].names == list(scenes.SHAPES)
    assert objects["colour"].names == list(scenes.COLOURS)
    held = {
        "train": set(),
        "validation": set(scenes.VALIDATION_HELD_OUT),
        "test": set(scenes.HELD_OUT),
    }
    never = {"train": set(scenes.UNSEEN), "validation": set(scenes.HELD_OUT), "test": set()}
    for name, ds in splits.items():
        for example in tfds.as_numpy(ds):
            assert example["image"].shape == (64, 64, 3) and example["image"].dtype == np.uint8
            shapes = [scenes.SHAPES[i] for i in example["objects"]["shape"]]
            colours = [scenes.COLOURS[i] for i in example["objects"]["colour"]]
            sizes = [scenes.SIZES[i] for i in example["objects"]["size"]]
            words = " ".join(f"a {s} {c} {h}" for s, c, h in zip(sizes, colours, shapes))
            caption = example["caption"].decode()
            assert caption.replace(" left of ", " ").replace(" above ", " ") == words
            assert example["objects"]["x"].dtype == np.float32
            assert np.all((example["objects"]["x"] > 0) & (example["objects"]["x"] < 1))
            pairs = set(zip(colours, shapes))
            assert not pairs & never[name]
            assert bool(pairs & held[name]) == (name != "train")


SCENE_CAPTIONS = Case(
    name="scene_captions",
    build=datasets.scene_captions.build_tfds,
    prepare=_copy_scenes,
    sizes=SCENE_SIZES,
    row=lambda e: (e["caption"].decode(), e["image"].tobytes()),
    rows=_scene_rows,
    citation="Compositional Generalization in Image Captioning",
    supervised_keys=("image", "caption"),
    supervised=(((64, 64, 3), "uint8"), ((), "string")),
    check=_check_scenes,
)


CASES = [
    _tweets_case("tweets", {"train": 19, "validation": 3, "test": 6}, _check_tweets),
    _tweets_case(
        "tweets_plus_snippets",
        {"train": 31, "validation": 3, "test": 6},
        _check_snippets_in_train_only,
    ),
    ABC_TUNES,
    STOCK_PRICES,
    TATOEBA_PAIRS,
    SCENE_CAPTIONS,
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_tfds_load_after_build(case, tmp_path, data_root, request):
    prepared = case.prepare(request)
    data_dir = tmp_path / "tfds"
    builder = case.build(data_dir=data_dir)
    assert case.citation in builder.info.citation
    assert builder.info.supervised_keys == case.supervised_keys

    splits = tfds.load(case.name, data_dir=str(data_dir), split=None)
    assert {name: int(ds.cardinality()) for name, ds in splits.items()} == case.sizes
    # The TFDS splits hold the same items as the splits the loader gives.
    expected = case.rows()
    for name, ds in splits.items():
        assert sorted(case.row(e) for e in tfds.as_numpy(ds)) == expected[name], name
    case.check(builder, splits, prepared)

    if case.supervised_keys is not None:
        supervised = tfds.load(case.name, data_dir=str(data_dir), split="test", as_supervised=True)
        pair = next(iter(supervised))
        assert tuple((tuple(t.shape), t.dtype.name) for t in pair) == case.supervised


def test_dummy_scenes_are_what_the_generator_writes_now():
    """Fails when the generator changed and the scene_captions dummy_data/ was not written
    again (see its builder test's docstring)."""
    directory = HERE / "scene_captions" / "dummy_data" / "captioning" / "scenes-64"
    assert scenes._is_current(directory, scenes._settings(64, SCENE_SIZES))
    expected = scenes.scene_splits(**SCENE_SIZES)
    for name, items in scenes.read_scenes(directory).items():
        assert [scene for _, scene in items] == expected[name]
        for path, scene in items:
            assert np.array_equal(np.asarray(Image.open(path)), scenes.draw(scene))
