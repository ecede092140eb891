"""Version directories of an exported model, as TensorFlow Serving numbers them.

TF Serving watches `<base_path>/<version>/` where the version is a directory name
that parses as an integer; any other name (`.tmp-3-x1y2`, `README`) is ignored.
"""

from __future__ import annotations

import os
import re

_NUMERIC = re.compile(r"[0-9]+", re.ASCII)


def version_dirs(base_dir, model_name):
    """Every numeric directory of a model, complete or not.

    Args:
        base_dir: The directory holding one folder per model.
        model_name: The model's folder name.

    Returns:
        A dict from version number to directory name (`"007"` counts as version 7,
        as it does for TF Serving).
    """
    model_dir = os.path.join(base_dir, model_name)
    if not os.path.isdir(model_dir):
        return {}
    return {
        int(name): name
        for name in os.listdir(model_dir)
        if _NUMERIC.fullmatch(name) and os.path.isdir(os.path.join(model_dir, name))
    }


def list_versions(base_dir, model_name):
    """The complete versions of a model: numeric directories holding a `saved_model.pb`.

    Args:
        base_dir: The directory holding one folder per model.
        model_name: The model's folder name.

    Returns:
        The sorted version numbers, `[]` when the model has none.

    Example:

    >>> list_versions("exports", "sentiment")
    [1, 2]
    """
    model_dir = os.path.join(base_dir, model_name)
    return sorted(
        version
        for version, name in version_dirs(base_dir, model_name).items()
        if os.path.isfile(os.path.join(model_dir, name, "saved_model.pb"))
    )


def latest_version(base_dir, model_name):
    """The highest complete version of a model, the one TF Serving serves by default.

    Args:
        base_dir: The directory holding one folder per model.
        model_name: The model's folder name.

    Returns:
        The version number, or `None` when the model has no complete version.

    Example:

    >>> latest_version("exports", "sentiment")
    2
    """
    versions = list_versions(base_dir, model_name)
    return versions[-1] if versions else None


def next_version(base_dir, model_name):
    """The number a new export gets: one more than the largest numeric directory.

    Incomplete numeric directories count too, so a number is never reused.

    Args:
        base_dir: The directory holding one folder per model.
        model_name: The model's folder name.

    Returns:
        The version number, 1 for a model with no version yet.
    """
    return max(version_dirs(base_dir, model_name), default=0) + 1
