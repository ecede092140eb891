"""music21's ABC tunes as a TFDS dataset; importing this package registers `abc_tunes`."""

from datasets.abc_tunes.abc_tunes_dataset_builder import Builder, build_tfds

__all__ = ["Builder", "build_tfds"]
