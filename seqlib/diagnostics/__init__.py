"""Diagnostics of recurrent layers: the vanishing-gradient lesson, measured.

- `gradient_flow` / `plot_gradient_flow`: ‖∂h_T/∂x_{T-k}‖ against k, per layer type.
- `adding_problem` / `train_long_range`: the adding problem, a long-range task a plain RNN
  fails and gated cells learn.
- `python -m seqlib.diagnostics --out DIR`: both, with plots, `results.json` and a summary.

Nothing here imports TensorFlow at module level, so the CLI's `--help` stays fast.
"""

from seqlib.diagnostics.gradient_flow import (
    default_layer_factories,
    gradient_flow,
    plot_gradient_flow,
)
from seqlib.diagnostics.long_range import (
    BASELINE_MSE,
    SOLVED_MSE,
    adding_problem,
    plot_learning_curves,
    train_long_range,
)

__all__ = [
    "BASELINE_MSE",
    "SOLVED_MSE",
    "adding_problem",
    "default_layer_factories",
    "gradient_flow",
    "plot_gradient_flow",
    "plot_learning_curves",
    "train_long_range",
]
