#!/usr/bin/env bash
# `make gpu-check`: the whole GPU story in one call, under 10 minutes on one GPU.
#
#   1. the GPU-only tests (cuDNN against the loop, both directions of a
#      Bidirectional in one cuDNN call, mixed precision on the device), and keras'
#      own RNN tests against seqlib's classes on the device;
#   2. `make bench` (seqlib against keras and torch, on the GPU);
#   3. one short gpu-full epoch of every app, with mixed precision (XLA where the
#      preset asks for it), each on a cut of its data so that the five fit the budget;
#   4. an export traced on the GPU, then loaded and called in a process that sees
#      no GPU and cannot import this project (as TF Serving on a CPU host would).
#
# Each step prints its own lines and "ok"/"FAILED"; the last line sums them up and
# the exit status is 1 if any step failed. On a machine where TensorFlow sees no
# GPU it says so and exits 0, having checked nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${GPU_CHECK_DIR:-$(mktemp -d -t gpu-check.XXXXXX)}
export SEQLIB_HOME=$WORK TF_CPP_MIN_LOG_LEVEL=2

gpus=$("$PY" -c "from apps.common.startup import import_tensorflow as t; print(len(t().config.list_physical_devices('GPU')))") || {
    echo "gpu-check: TensorFlow does not import with $PY"
    exit 1
}
if [ "$gpus" = "0" ]; then
    echo "gpu-check: TensorFlow sees no GPU on this machine; nothing checked (exit 0)."
    exit 0
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

passed=()
failed=()
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "== $name"
    local started=$SECONDS
    if timeout "$limit" "$@"; then
        passed+=("$name")
        echo "-- ok: $name ($((SECONDS - started)) s)"
    else
        failed+=("$name")
        echo "-- FAILED: $name ($((SECONDS - started)) s)"
    fi
}

step "GPU-only tests" 90 "$PY" -m pytest -q -p no:xdist \
    tests/seqlib/test_layers_parity.py tests/seqlib/test_cudnn_layout.py \
    tests/seqlib/test_mixed_precision.py
step "keras' RNN tests against seqlib" 150 "$PY" -m pytest -q -p no:xdist \
    tests/seqlib/test_keras_suite.py
step "make bench" 150 make --no-print-directory bench

# One epoch of each gpu-full preset, on a cut of the data.
declare -A CUT=(
    [sentiment]=""
    [stocks]=""
    [music]="--set data.steps_per_epoch=100"
    [translation]="--set data.train_pairs=20000"
    [captioning]="--set data.scenes=2000,200,200"
)
for app in sentiment stocks music translation captioning; do
    # shellcheck disable=SC2086
    step "gpu-full epoch: $app" 120 "$PY" -m apps.$app train --preset gpu-full --fresh \
        --run-dir "$WORK/runs/$app" --mixed-precision --set train.epochs=1 ${CUT[$app]}
done

check_export() {
    "$PY" -m apps.sentiment export --run-dir "$WORK/runs/sentiment" --models-dir "$WORK/models" &&
        CUDA_VISIBLE_DEVICES="" "$PY" - "$WORK/models/sentiment" <<'EOF'
import pathlib, sys
import numpy as np
from seqlib.export.testing import run_isolated
base = pathlib.Path(sys.argv[1])
export = max(base.iterdir(), key=lambda p: int(p.name))
texts = np.array(["what a lovely day", "worst service ever"], dtype=object)
out = run_isolated(export, {"text": texts})
print({key: value.tolist() for key, value in out.items()})
EOF
}
step "export traced on the GPU, served on the CPU" 120 check_export

echo "gpu-check: ${#passed[@]} passed, ${#failed[@]} failed${failed:+ (${failed[*]})}; runs in $WORK"
[ ${#failed[@]} -eq 0 ]
