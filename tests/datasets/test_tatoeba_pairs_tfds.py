"""The tatoeba_pairs TFDS builder, built from dummy_data/ into tmp_path and read with tfds.load."""

from pathlib import Path

import tensorflow_datasets as tfds

import datasets.tatoeba_pairs  # noqa: F401  (registers tatoeba_pairs)
from datasets import translation_data
from datasets.tatoeba_pairs import build_tfds

DUMMY = Path(translation_data.__file__).parent / "tatoeba_pairs" / "dummy_data" / "spa.tsv"


def test_tfds_load_after_build(tmp_path, data_root, monkeypatch):
    monkeypatch.setattr(translation_data, "tatoeba_file", lambda root=None: DUMMY)
    data_dir = tmp_path / "tfds"
    builder = build_tfds(data_dir=data_dir)
    assert "Tatoeba" in builder.info.citation
    assert builder.info.supervised_keys == ("spanish", "english")
    splits = tfds.load("tatoeba_pairs", data_dir=str(data_dir), split=None)
    assert {name: int(ds.cardinality()) for name, ds in splits.items()} == {
        "train": 37,
        "validation": 1,
        "test": 2,
    }
    # The TFDS splits hold the same pairs as the saved split the loader uses.
    loaded = translation_data.load_tatoeba().splits()
    for name, ds in splits.items():
        rows = sorted(
            (e["english"].decode(), e["spanish"].decode(), e["attribution"].decode())
            for e in tfds.as_numpy(ds)
        )
        assert rows == sorted((p.english, p.other, p.attribution) for p in loaded[name])
    first = next(e for e in tfds.as_numpy(splits["train"]) if e["spanish"] == "Váyase.".encode())
    assert first["english"] == b"Go."
    assert first["attribution"].decode().startswith("CC-BY 2.0 (France) Attribution: tatoeba.org #")

    supervised = tfds.load(
        "tatoeba_pairs", data_dir=str(data_dir), split="test", as_supervised=True
    )
    source, target = next(iter(supervised))
    assert source.dtype.name == "string" and target.dtype.name == "string"
