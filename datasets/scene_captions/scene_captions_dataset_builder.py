"""scene_captions: generated scenes of coloured shapes, each with its one caption; held-out colour-shape pairs in validation and test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from datasets import scenes, tfds_builders


class Builder(tfds.core.GeneratorBasedBuilder):
    """9,500 generated 64x64 scenes of one to three coloured shapes, with exact captions.

    Nothing is downloaded: the scenes are drawn by `datasets.scenes` and
    written once as PNG files under the seqlib data root (`$SEQLIB_DATA` or
    `<repo>/data`, in `captioning/scenes-64/`), and this builder reads those
    files, so `tfds.load` and `datasets.scenes.load_scenes` always hold the
    same images in the same splits. Train holds no pair of
    `datasets.scenes.UNSEEN`; every test scene holds a pair of `HELD_OUT`,
    every validation scene one of `VALIDATION_HELD_OUT` and none of `HELD_OUT`.
    """

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release (scene generator version 1).",
        "2.0.0": "Validation's own held-out pairs (scene generator version 2).",
    }
    # See datasets/sentiment_tweets: TFDS 4.9.10 cannot locate a builder's file
    # without `importlib_resources` on newer Pythons (tensorflow/datasets#11212).
    code_path = epath.Path(__file__)

    IMAGE_SIZE = 64
    # Scenes per split and the seed, as in `datasets.scenes.scene_splits`; the tests shrink them.
    SPLIT_SIZES = dict(scenes.SPLIT_SIZES)
    SEED = scenes.SPLIT_SEED

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(
                        shape=(self.IMAGE_SIZE, self.IMAGE_SIZE, 3), encoding_format="png"
                    ),
                    "caption": tfds.features.Text(),
                    # The shapes in the caption's order: left to right, or top to bottom.
                    "objects": tfds.features.Sequence(
                        {
                            "shape": tfds.features.ClassLabel(names=scenes.SHAPES),
                            "colour": tfds.features.ClassLabel(names=scenes.COLOURS),
                            "size": tfds.features.ClassLabel(names=scenes.SIZES),
                            "x": np.float32,
                            "y": np.float32,
                        }
                    ),
                }
            ),
            supervised_keys=("image", "caption"),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # The scenes are generated, not downloaded.
        directory = scenes.write_scenes(
            image_size=self.IMAGE_SIZE, **self.SPLIT_SIZES, seed=self.SEED
        )
        return {
            name: self._generate_examples(directory, items)
            for name, items in scenes.read_scenes(directory).items()
        }

    def _generate_examples(self, directory: Path, items):
        for path, scene in items:
            yield (
                path.relative_to(directory.resolve()).as_posix(),
                {
                    "image": str(path),
                    "caption": scene.caption,
                    "objects": [
                        {"shape": o.shape, "colour": o.colour, "size": o.size, "x": o.x, "y": o.y}
                        for o in scene.objects
                    ],
                },
            )


def build_tfds(data_dir: str | Path | None = None) -> Builder:
    """Builds `scene_captions` under `data_dir` and returns its builder.

    See `datasets.tfds_builders.build`; then
    `tfds.load("scene_captions", split="test", as_supervised=True, data_dir=data_dir)` reads it.
    """
    return tfds_builders.build(Builder, data_dir)
