"""TFDS's own builder checks on dummy_data/, offline (see `datasets.tfds_builders`).

dummy_data/ holds a small set written by `datasets.scenes` (12 / 3 / 3 scenes);
the builder reuses it instead of drawing. Write it again after changing the
generator:

```
python -m datasets.scenes --root datasets/scene_captions/dummy_data --train 12 --validation 3 --test 3
```

Run with `pytest datasets/scene_captions/`.
"""

import shutil
from pathlib import Path
from unittest import mock

import pytest
import tensorflow_datasets as tfds

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets.scene_captions import scene_captions_dataset_builder
from datasets.tfds_builders import DummyDataRoot

DUMMY_DATA = Path(__file__).parent / "dummy_data"
DUMMY_SIZES = {"train": 12, "validation": 3, "test": 3}


class SceneCaptionsTest(DummyDataRoot, tfds.testing.DatasetBuilderTestCase):
    """The 18 dummy scenes, copied into a fresh data root."""

    DATASET_CLASS = scene_captions_dataset_builder.Builder
    SPLITS = DUMMY_SIZES

    def fill_root(self, root):
        shutil.copytree(DUMMY_DATA / "captioning", root / "captioning")

    def patches(self):
        return [mock.patch.object(self.DATASET_CLASS, "SPLIT_SIZES", DUMMY_SIZES)]


if __name__ == "__main__":
    tfds.testing.test_main()
