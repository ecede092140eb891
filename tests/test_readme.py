"""README's examples run as written."""

import os
import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _example(name):
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, f"README has no example marked {name!r}"
    return match.group(1)


def test_toolkit_example_trains_decodes_and_exports(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-c", _example("toolkit")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # The best beam copies the source: a 4 x 6 grid of True, no False.
    assert "False" not in done.stdout and done.stdout.count("True") == 24, done.stdout[-2000:]
    assert (tmp_path / "models" / "copy" / "1" / "saved_model.pb").is_file()
    assert (tmp_path / "models" / "models.config").is_file()
    assert (tmp_path / "runs" / "copy" / "checkpoints" / "final.weights.h5").is_file()
