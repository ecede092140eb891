"""The generated shape scenes with captions as a TFDS dataset; importing this package registers `scene_captions`."""

from datasets.scene_captions.scene_captions_dataset_builder import Builder, build_tfds

__all__ = ["Builder", "build_tfds"]
