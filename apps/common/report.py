"""Report helpers every app uses: the commit, markdown tables and training curves."""

import csv
import os
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]


def _git(*args):
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def git_commit():
    """The commit of the code (with `+dirty` when the tree has changes), or `unknown`."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def markdown_table(header, rows):
    """A GitHub markdown table; floats get 4 decimals."""

    def cell(value):
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def read_history(path):
    """`history.csv` of a run as `{column: [float, ...]}`."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = rows[0].keys() if rows else []
    return {c: [float(r[c]) for r in rows if r[c] != ""] for c in columns}


def plot_history(history, path, metrics=("loss",), title=None):
    """Training and validation curves of `metrics`, one panel each, to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if m in history]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.4), squeeze=False)
    epochs = [int(e) + 1 for e in history.get("epoch", range(len(history[metrics[0]])))]
    for ax, metric in zip(axes[0], metrics):
        ax.plot(epochs, history[metric], "o-", label="train")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "o-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


TRAINING_CURVES = "training_curves.png"


def plot_training_curves(run_dir, report_dir, metrics=("loss",), title=None):
    """`report_dir/training_curves.png` from the run's `history.csv`: the figure
    every report shows. Returns the file name (for the markdown link)."""
    history = read_history(pathlib.Path(run_dir) / "history.csv")
    plot_history(history, pathlib.Path(report_dir) / TRAINING_CURVES, metrics, title)
    return TRAINING_CURVES


def write_report(report_dir, lines, config):
    """`report_dir/report.md` from markdown `lines`, ending with the run's config
    (as JSON): every app's report ends the same way. Returns its path."""
    import json

    from seqlib.training import config_to_dict

    lines = [*lines, "## Config", "", "```json", json.dumps(config_to_dict(config), indent=2)]
    path = pathlib.Path(report_dir) / "report.md"
    path.write_text("\n".join([*lines, "```", ""]), encoding="utf-8")
    return path
