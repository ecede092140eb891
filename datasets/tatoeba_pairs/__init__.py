"""The Tatoeba English-Spanish pairs as a TFDS dataset; importing this package registers `tatoeba_pairs`."""

from datasets.tatoeba_pairs.tatoeba_pairs_dataset_builder import Builder, build_tfds

__all__ = ["Builder", "build_tfds"]
