"""Shared test setup: the keras backend, fixed seeds and small inputs."""

import os

# Before anything imports keras: the suite is written for the TensorFlow backend.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    # Weight initialisers and dropout draw from the global seed: fix it per test,
    # so a test's result does not depend on which tests ran before it.
    keras.utils.set_random_seed(1234)
