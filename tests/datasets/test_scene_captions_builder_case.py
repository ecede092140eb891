"""TFDS's DatasetBuilderTestCase for scene_captions, kept beside the builder (the `tfds new` layout)."""

import pytest

pytest.importorskip("dill", reason="tfds.testing needs dill")

from datasets.scene_captions.scene_captions_dataset_builder_test import (  # noqa: E402
    SceneCaptionsTest,
)

__all__ = ["SceneCaptionsTest"]
