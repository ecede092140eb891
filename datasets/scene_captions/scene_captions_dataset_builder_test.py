"""TFDS's own builder checks on dummy_data/, offline.

dummy_data/ holds a small set written by `datasets.scenes` (12 / 3 / 3 scenes);
the builder reuses it instead of drawing. Write it again after changing the
generator:

```
python -m datasets.scenes --root datasets/scene_captions/dummy_data --train 12 --validation 3 --test 3
```

Run with `pytest datasets/scene_captions/`; tests/datasets runs it as well.
`tfds.testing` needs `dill`, which tensorflow-datasets does not install by
itself: without it these tests are skipped.
"""

import shutil
import tempfile
from pathlib import Path
from unittest import mock

import pytest
import tensorflow_datasets as tfds

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets.scene_captions import scene_captions_dataset_builder

DUMMY_DATA = Path(__file__).parent / "dummy_data"
DUMMY_SIZES = {"train": 12, "validation": 3, "test": 3}


class SceneCaptionsTest(tfds.testing.DatasetBuilderTestCase):
    """The 18 dummy scenes, copied into a fresh data root."""

    DATASET_CLASS = scene_captions_dataset_builder.Builder
    SPLITS = DUMMY_SIZES
    SKIP_CHECKSUMS = True  # Nothing goes through the download manager.

    def setUp(self):
        super().setUp()
        root = tempfile.TemporaryDirectory()
        self.addCleanup(root.cleanup)
        shutil.copytree(DUMMY_DATA / "captioning", Path(root.name) / "captioning")
        for patcher in (
            mock.patch.dict("os.environ", {"SEQLIB_DATA": root.name}),
            mock.patch.object(self.DATASET_CLASS, "SPLIT_SIZES", DUMMY_SIZES),
        ):
            patcher.start()
            self.addCleanup(patcher.stop)


if __name__ == "__main__":
    tfds.testing.test_main()
