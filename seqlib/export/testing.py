"""Running an export the way a server does: in a process that cannot import the project.

The project is installed in editable mode, so `python -I` alone still imports it
(the editable finder sits in site-packages). The child process therefore starts with
an import blocker at the front of `sys.meta_path` that refuses `seqlib`, `apps` and
`datasets`, checks that importing them fails, runs from a temporary directory outside
the repository, and checks again at the end that none of them was loaded.

Example:

```python
path = export_for_serving(module, tmp_path, "sentiment")
outputs = run_isolated(path, {"texts": np.array(["good", "bad"], dtype=object)})
outputs["label"]  # array([b'positive', b'negative'], dtype=object)
```
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np

from seqlib.export.saved_model import SERVING_DEFAULT

BLOCKED_PACKAGES = ("seqlib", "apps", "datasets")

# The first lines of every child: nothing after them can reach the project's code.
_BLOCKER = textwrap.dedent(
    """
    import sys

    _BLOCKED = frozenset({blocked!r})


    class _ProjectBlocker:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in _BLOCKED:
                raise ModuleNotFoundError(
                    f"{{name}} is blocked: this process must run without the project",
                    name=name,
                )
            return None


    sys.meta_path.insert(0, _ProjectBlocker())
    for _name in sorted(_BLOCKED):
        try:
            __import__(_name)
        except ImportError:
            pass
        else:
            sys.exit(f"isolation failed: {{_name}} could be imported")


    def _check_still_isolated():
        loaded = sorted(m for m in sys.modules if m.partition(".")[0] in _BLOCKED)
        if loaded:
            sys.exit(f"isolation failed: {{loaded}} were imported")
    """
).format(blocked=tuple(BLOCKED_PACKAGES))

_RUN_SIGNATURE = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf

    export_dir, signature, inputs_file, outputs_file = sys.argv[1:5]
    loaded = tf.saved_model.load(export_dir)
    if signature not in loaded.signatures:
        sys.exit(f"no signature {signature!r} in {export_dir}; it has {sorted(loaded.signatures)}")
    function = loaded.signatures[signature]
    specs = function.structured_input_signature[1]
    with np.load(inputs_file, allow_pickle=True) as data:
        arrays = {key: data[key] for key in data.files}
    if set(arrays) != set(specs):
        sys.exit(f"signature {signature!r} takes {sorted(specs)}; received {sorted(arrays)}")
    tensors = {}
    for key, array in arrays.items():
        if array.dtype == object:  # bytes: strings, or encoded images
            tensor = tf.reshape(tf.constant(array.ravel().tolist(), tf.string), array.shape)
        else:
            tensor = tf.convert_to_tensor(array)
        wanted = specs[key].dtype
        if tensor.dtype != wanted:
            # A client's JSON numbers arrive as the signature's float type; anything
            # else is a real mismatch.
            if not (tensor.dtype.is_floating and wanted.is_floating):
                sys.exit(f"input {key!r} is {tensor.dtype.name}, the signature wants {wanted.name}")
            tensor = tf.cast(tensor, wanted)
        tensors[key] = tensor
    outputs = function(**tensors)
    np.savez(outputs_file, **{key: value.numpy() for key, value in outputs.items()})
    _check_still_isolated()
    """
)

_SAVED_MODEL_CLI = textwrap.dedent(
    """
    from tensorflow.python.tools import saved_model_cli

    sys.argv = ["saved_model_cli", *sys.argv[1:]]
    try:
        saved_model_cli.main()
    finally:
        _check_still_isolated()
    """
)


class IsolatedProcessError(RuntimeError):
    """An isolated child process exited with a non-zero status.

    Attributes:
        returncode: The child's exit status.
        stdout: What it printed on stdout.
        stderr: What it printed on stderr (tracebacks, TensorFlow's logs).
    """

    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        tail = stderr[-4000:] if stderr else "(no stderr)"
        super().__init__(f"Isolated process exited with status {returncode}:\n{tail}")


def _child_env():
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def isolated_python(code, args: Sequence[str] = (), timeout=300):
    """Runs Python code in a fresh interpreter that cannot import the project.

    The code runs after the import blocker, in `python -I` (no PYTHON* variables,
    no user site, no script directory on `sys.path`) from a temporary directory.
    It may call `_check_still_isolated()` to assert that nothing of the project got
    imported along the way.

    Args:
        code: Python source; `sys.argv[1:]` holds `args`.
        args: Strings passed on the command line.
        timeout: Seconds before the child is killed.

    Returns:
        The child's stdout.

    Raises:
        IsolatedProcessError: The child exited with a non-zero status; the error
            carries its stdout and stderr.

    Example:

    >>> isolated_python("import seqlib")
    Traceback (most recent call last):
    ...
    IsolatedProcessError: Isolated process exited with status 1: ... seqlib is blocked ...
    """
    with tempfile.TemporaryDirectory(prefix="seqlib-isolated-") as cwd:
        result = subprocess.run(
            [sys.executable, "-I", "-c", _BLOCKER + code, *map(str, args)],
            cwd=cwd,
            env=_child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if result.returncode != 0:
        raise IsolatedProcessError(result.returncode, result.stdout, result.stderr)
    return result.stdout


def _check_export_dir(export_dir):
    export_dir = os.path.abspath(os.fspath(export_dir))
    if not os.path.isfile(os.path.join(export_dir, "saved_model.pb")):
        raise ValueError(
            f"Expected a SavedModel directory (with a saved_model.pb). Received: {export_dir}"
        )
    return export_dir


def _as_array(value):
    array = np.asarray(value)
    if array.dtype.kind in "US" or array.dtype == object:
        # Object arrays of bytes: a fixed-width bytes dtype would drop trailing NUL
        # bytes, which encoded images may end with.
        flat = [item.encode("utf-8") if isinstance(item, str) else item for item in array.flat]
        converted = np.empty(len(flat), dtype=object)
        converted[:] = flat
        array = converted.reshape(array.shape)
    return array


def run_isolated(
    export_dir, inputs: Mapping[str, np.ndarray], signature=SERVING_DEFAULT, timeout=300
):
    """Calls a signature of a SavedModel in a process that cannot import the project.

    Args:
        export_dir: A SavedModel directory (a version directory of an export).
        inputs: A dict from the signature's input names to arrays; strings may be
            `str` or `bytes`. Float arrays are cast to the signature's float type.
        signature: The signature to call.
        timeout: Seconds before the child is killed.

    Returns:
        A dict from output names to numpy arrays; string outputs are object arrays
        of `bytes`.

    Raises:
        IsolatedProcessError: Loading or calling failed in the child.

    Example:

    ```python
    run_isolated(path, {"texts": np.array(["good", "bad"], dtype=object)})
    # {"label": array([b'positive', b'negative'], dtype=object), "probability": ...}
    ```
    """
    export_dir = _check_export_dir(export_dir)
    with tempfile.TemporaryDirectory(prefix="seqlib-run-isolated-") as tmp:
        inputs_file = os.path.join(tmp, "inputs.npz")
        outputs_file = os.path.join(tmp, "outputs.npz")
        np.savez(inputs_file, **{key: _as_array(value) for key, value in inputs.items()})
        isolated_python(
            _RUN_SIGNATURE, [export_dir, signature, inputs_file, outputs_file], timeout=timeout
        )
        with np.load(outputs_file, allow_pickle=True) as data:
            return {key: data[key] for key in data.files}


def saved_model_cli(*args, timeout=300):
    """Runs TensorFlow's `saved_model_cli` with these arguments, isolated.

    The same program as the `saved_model_cli` console script, run through
    `isolated_python` so that it cannot import the project either.

    Args:
        *args: The command line, e.g. `"show", "--dir", path, "--all"`.
        timeout: Seconds before the child is killed.

    Returns:
        What the tool printed on stdout.

    Raises:
        IsolatedProcessError: The tool exited with a non-zero status.
    """
    return isolated_python(_SAVED_MODEL_CLI, args, timeout=timeout)


def saved_model_cli_show(export_dir, timeout=300):
    """`saved_model_cli show --dir <export_dir> --all`: the signatures, inputs and outputs.

    Args:
        export_dir: A SavedModel directory.
        timeout: Seconds before the child is killed.

    Returns:
        The tool's report.
    """
    export_dir = _check_export_dir(export_dir)
    return saved_model_cli("show", "--dir", export_dir, "--all", timeout=timeout)


def saved_model_cli_run(
    export_dir, inputs: Mapping[str, object], signature=SERVING_DEFAULT, timeout=300
):
    """`saved_model_cli run` on Python literals: the TF1 loader, as TF Serving loads.

    `tf.saved_model.load` and TF Serving restore variables differently; this path
    restores them through the SavedModel's restore op, like the server, so it catches
    exports that only the Python loader can read.

    Args:
        export_dir: A SavedModel directory.
        inputs: A dict from input names to Python literals (lists of strings or
            numbers), passed as `--input_exprs`.
        signature: The signature to run.
        timeout: Seconds before the child is killed.

    Returns:
        The tool's report, with one `Result for output key <name>:` block per output.

    Example:

    ```python
    saved_model_cli_run(path, {"texts": ["good", "bad"]})
    # Result for output key label:
    # [b'positive' b'negative']
    ```
    """
    export_dir = _check_export_dir(export_dir)
    exprs = []
    for key, value in inputs.items():
        expr = repr(value)
        if ";" in expr or ";" in key or "=" in key:
            # The tool splits its flag on ";" and each input on the first "=".
            raise ValueError(
                f"Expected inputs without ';' (and names without '='). Received: {key}={expr}"
            )
        exprs.append(f"{key}={expr}")
    return saved_model_cli(
        "run",
        "--dir",
        export_dir,
        "--tag_set",
        "serve",
        "--signature_def",
        signature,
        "--input_exprs",
        ";".join(exprs),
        timeout=timeout,
    )
