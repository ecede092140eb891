"""The scene_captions TFDS builder, built from dummy_data/ into tmp_path and read with tfds.load."""

import shutil
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

import datasets.scene_captions  # noqa: F401  (registers scene_captions)
from datasets import scenes
from datasets.scene_captions import Builder, build_tfds

DUMMY = Path(scenes.__file__).parent / "scene_captions" / "dummy_data"
SIZES = {"train": 12, "validation": 3, "test": 3}


def test_dummy_data_is_what_the_generator_writes_now():
    """Fails when the generator changed and dummy_data/ was not written again (see its README)."""
    directory = DUMMY / "captioning" / "scenes-64"
    assert scenes._is_current(directory, scenes._settings(64, SIZES))
    expected = scenes.scene_splits(**SIZES)
    for name, items in scenes.read_scenes(directory).items():
        assert [scene for _, scene in items] == expected[name]
        for path, scene in items:
            assert np.array_equal(np.asarray(Image.open(path)), scenes.draw(scene))


def test_tfds_load_after_build(tmp_path, data_root, monkeypatch):
    shutil.copytree(DUMMY / "captioning", data_root / "captioning")
    written = data_root / "captioning" / "scenes-64"
    stamp = {p: p.stat().st_mtime_ns for p in written.rglob("*")}
    monkeypatch.setattr(Builder, "SPLIT_SIZES", SIZES)
    data_dir = tmp_path / "tfds"
    builder = build_tfds(data_dir=data_dir)
    # The dummy set was reused, not drawn again.
    assert {p: p.stat().st_mtime_ns for p in written.rglob("*")} == stamp
    assert "Compositional Generalization in Image Captioning" in builder.info.citation
    assert builder.info.supervised_keys == ("image", "caption")
    objects = builder.info.features["objects"]
    assert objects["shape"].names == list(scenes.SHAPES)
    assert objects["colour"].names == list(scenes.COLOURS)

    splits = tfds.load("scene_captions", data_dir=str(data_dir), split=None)
    assert {name: int(ds.cardinality()) for name, ds in splits.items()} == SIZES
    # The TFDS splits hold the same images and captions as the loader's.
    loaded = scenes.load_scenes(**SIZES).splits()
    for name, ds in splits.items():
        rows = sorted((e["caption"].decode(), e["image"].tobytes()) for e in tfds.as_numpy(ds))
        expected = sorted(
            (e.captions[0], np.asarray(Image.open(e.image)).tobytes()) for e in loaded[name]
        )
        assert rows == expected, name
    held = set(scenes.HELD_OUT)
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
            has_held = bool(set(zip(colours, shapes)) & held)
            assert has_held == (name != "train")

    supervised = tfds.load(
        "scene_captions", data_dir=str(data_dir), split="test", as_supervised=True
    )
    image, caption = next(iter(supervised))
    assert image.shape == (64, 64, 3) and caption.dtype.name == "string"
