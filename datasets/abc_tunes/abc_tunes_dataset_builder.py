"""abc_tunes: every ABC tune of music21's corpus, with its saved train / validation / test split."""

from __future__ import annotations

from pathlib import Path

import tensorflow_datasets as tfds
from etils import epath

from datasets import music_data, tfds_builders


class Builder(tfds.core.GeneratorBasedBuilder):
    """The 12,978 ABC tunes bundled with music21 (folk songs and fiddle tunes).

    Nothing is downloaded: the tunes come from the `music21` package's corpus
    folder, read by `datasets.music_data`, and the splits follow the split it
    saved under the seqlib data root (`$SEQLIB_DATA` or `<repo>/data`), so
    `tfds.load` and `datasets.music_data.load_corpus` always agree on which
    tune is in which split.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    # TFDS 4.9.10 locates a builder's file through `importlib_resources`, which
    # it declares only for Python < 3.9 (tensorflow/datasets#11212): say where it is.
    code_path = epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "id": tfds.features.Text(),
                    "abc": tfds.features.Text(),
                }
            ),
            supervised_keys=None,
            homepage="https://www.music21.org/music21docs/about/referenceCorpus.html",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # The tunes come with music21, not from a URL.
        data = music_data.load_corpus()
        return {name: self._generate_examples(tunes) for name, tunes in data.splits().items()}

    def _generate_examples(self, tunes):
        for tune in tunes:
            yield tune.id, {"id": tune.id, "abc": tune.abc}


def build_tfds(data_dir: str | Path | None = None) -> Builder:
    """Builds `abc_tunes` under `data_dir` and returns its builder.

    See `datasets.tfds_builders.build`; then
    `tfds.load("abc_tunes", split="train", data_dir=data_dir)` reads it.
    """
    return tfds_builders.build(Builder, data_dir)
