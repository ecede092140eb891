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


@pytest.fixture()
def model_server():
    """`url = model_server(models_dir)`: the local REST server (`python -m apps.serve`)
    on 127.0.0.1 and a free port, stopped after the test."""
    import threading

    from seqlib.serving.server import make_server

    running = []

    def start(models_dir):
        server = make_server(models_dir, port=0, quiet=True, poll_seconds=0, log=lambda m: None)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(5)
