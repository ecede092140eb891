"""Helpers of the apps' config dataclasses (no TensorFlow: CLIs import them for --help)."""


def check(condition, message):
    """Raises `ValueError(message)` unless `condition`: a config field's range check."""
    if not condition:
        raise ValueError(message)
