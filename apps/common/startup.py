"""TensorFlow without its start-up lines: what every command imports first.

`import tensorflow` and the first look at the devices write lines to the
process's stderr from C++ before Python logging or `TF_CPP_MIN_LOG_LEVEL` can
act on them (TF 2.21 on a CPU machine):

```
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 ... port.cc:153] oneDNN custom operations are on. ...
I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 ... cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use ...
To enable the following instructions: AVX2 AVX512F ..., rebuild TensorFlow ...
E0000 ... cuda_platform.cc:52] failed call to cuInit: ...
```

They come from XLA's and TSL's own logging, which runs before absl's
`InitializeLog()` and ignores `TF_CPP_MIN_LOG_LEVEL` (set to 3, the lines
still appear). `TF_ENABLE_ONEDNN_OPTS=0` would drop the oneDNN line only, and
changes the numbers (other kernels). So `import_tensorflow` points file
descriptor 2 at a temporary file while TensorFlow loads and finds its devices,
then writes back every line that is not one of these, so a real problem (a
missing library, a broken driver) still shows. `TF_CPP_MIN_LOG_LEVEL`
defaults to 2 for what TensorFlow logs later (set it to 0 to see everything).
"""

import os
import re
import sys
import tempfile

# The start-up lines, one pattern each (see the module docstring).
_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|\] oneDNN custom operations are on"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    r"|^To enable the following instructions:"
    r"|failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT"
)

_done = False


def import_tensorflow():
    """Imports TensorFlow (and lists its devices) with the start-up lines held
    back; every other line it wrote is passed on to stderr. Returns the module."""
    global _done
    if _done:
        import tensorflow

        return tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to redirect
        import tensorflow

        return tensorflow
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode("utf-8", "replace").splitlines()
                if line.strip() and not _NOISE.search(line)
            ]
            if kept:
                print("\n".join(kept), file=sys.stderr)
    _done = True
    return tensorflow
