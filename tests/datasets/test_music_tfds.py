"""The abc_tunes TFDS builder, built from the dummy corpus into tmp_path and read with tfds.load."""

from pathlib import Path

import tensorflow_datasets as tfds

import datasets.abc_tunes  # noqa: F401  (registers abc_tunes)
from datasets import music_data
from datasets.abc_tunes import build_tfds

DUMMY_CORPUS = Path(music_data.__file__).parent / "abc_tunes" / "dummy_data"


def test_tfds_load_after_build(tmp_path, data_root, monkeypatch):
    monkeypatch.setattr(music_data, "corpus_dir", lambda: DUMMY_CORPUS)
    data_dir = tmp_path / "tfds"
    builder = build_tfds(data_dir=data_dir)
    assert "Cuthbert" in builder.info.citation
    splits = tfds.load("abc_tunes", data_dir=str(data_dir), split=None)
    assert {name: int(ds.cardinality()) for name, ds in splits.items()} == {
        "train": 10,
        "validation": 1,
        "test": 1,
    }
    # The TFDS splits hold the same tunes as the saved split the loader uses.
    loaded = music_data.load_corpus().splits()
    for name, ds in splits.items():
        rows = {e["id"].decode(): e["abc"].decode() for e in tfds.as_numpy(ds)}
        assert rows == {tune.id: tune.abc for tune in loaded[name]}
