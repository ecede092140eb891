"""`python -m seqlib.diagnostics`: gradient flow and the adding problem, written to a folder.

TensorFlow is imported only once the command runs, so `--help` and argument errors are fast.
"""

from __future__ import annotations

import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import click

from seqlib.diagnostics.long_range import (
    BASELINE_MSE,
    DEFAULT_EPOCHS,
    DEFAULT_SEQ_LEN,
    SOLVED_MSE,
)

# (gradient-flow length, seq_len, epochs, samples per epoch) of the --quick smoke run.
_QUICK = {"flow_steps": 20, "seq_len": 10, "epochs": 2, "samples_per_epoch": 256}
_FLOW_BATCH = 16


def _commit() -> str:
    """The checked-out commit, so a report names the code it came from."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _summary(report: dict, command: str) -> str:
    """The README.md of the output folder: what was run and what came out."""
    cfg = report["config"]
    lines = [
        "# seqlib diagnostics",
        "",
        f"Command: `{command}`  ",
        f"Commit: `{report['commit']}`; layers: `{cfg['layers']}`; seed: {cfg['seed']}; "
        f"TensorFlow {report['versions']['tensorflow']}, Keras {report['versions']['keras']}.",
        "",
        "## Gradient flow at initialisation",
        "",
        f"Mean ‖∂h_T/∂x_(T-k)‖_F over {_FLOW_BATCH} standard-normal sequences, T = "
        f"{cfg['flow_steps']}, {cfg['units']} units, {cfg['flow_input_dim']} input features "
        "(`gradient_flow.png`):",
        "",
        "| cell | k = 0 | k = T/2 | k = T-1 |",
        "|---|---|---|---|",
    ]
    for name, norms in report["gradient_flow"]["init"].items():
        lines.append(
            f"| {name} | {norms[0]:.2e} | {norms[len(norms) // 2]:.2e} | {norms[-1]:.2e} |"
        )
    lines += [
        "",
        "## Adding problem",
        "",
        f"T = {cfg['seq_len']}, {cfg['epochs']} epochs of {cfg['samples_per_epoch']} fresh "
        f"sequences, {cfg['units']} units. Baseline (always predict 1.0): MSE "
        f"{BASELINE_MSE:.3f}; solved: MSE < {SOLVED_MSE} (`long_range.png`).",
        "",
        "| cell | final test MSE | solved | train time (s) |",
        "|---|---|---|---|",
    ]
    for name, result in report["long_range"].items():
        solved = "yes" if result["test_mse"] < SOLVED_MSE else "no"
        lines.append(f"| {name} | {result['test_mse']:.4f} | {solved} | {result['seconds']:.0f} |")
    lines += [
        "",
        "## Gradient flow after training",
        "",
        "The same measurement on the trained layers, fed adding-problem test sequences "
        "(`gradient_flow_trained.png`): a cell that solved the task must keep "
        "‖∂h_T/∂x_(T-k)‖ up for the first marker, up to T-1 steps back.",
        "",
        "| cell | k = 0 | k = T/2 | k = T-1 |",
        "|---|---|---|---|",
    ]
    for name, norms in report["gradient_flow"]["trained"].items():
        lines.append(
            f"| {name} | {norms[0]:.2e} | {norms[len(norms) // 2]:.2e} | {norms[-1]:.2e} |"
        )
    lines += ["", f"Total wall time: {report['seconds']:.0f} s.", ""]
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for gradient_flow.png, long_range.png, results.json and README.md.",
)
@click.option(
    "--seq-len",
    type=click.IntRange(min=2),
    default=None,
    help=f"Length of the adding problem (default {DEFAULT_SEQ_LEN}; 10 with --quick).",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help=f"Epochs of 1,000 fresh sequences per cell (default {DEFAULT_EPOCHS}; 2 with --quick).",
)
@click.option(
    "--flow-steps",
    type=click.IntRange(min=1),
    default=None,
    help="Sequence length of the gradient-flow measurement (default 100; 20 with --quick).",
)
@click.option("--units", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--layers",
    type=click.Choice(["seqlib", "keras"]),
    default="seqlib",
    show_default=True,
    help="Which SimpleRNN / GRU / LSTM classes to compare.",
)
@click.option("--quick", is_flag=True, help="A tiny smoke run (seconds), not a measurement.")
def main(out_dir, seq_len, epochs, flow_steps, units, seed, layers, quick):
    """Measure vanishing gradients and long-range learning for SimpleRNN, GRU and LSTM."""
    samples_per_epoch = _QUICK["samples_per_epoch"] if quick else 1000
    seq_len = seq_len or (_QUICK["seq_len"] if quick else DEFAULT_SEQ_LEN)
    epochs = epochs or (_QUICK["epochs"] if quick else DEFAULT_EPOCHS)
    flow_steps = flow_steps or (_QUICK["flow_steps"] if quick else 100)
    out_dir.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python", "-m", "seqlib.diagnostics", *sys.argv[1:]])

    # Heavy imports only now that the arguments are valid.
    import keras
    import tensorflow as tf

    from seqlib.diagnostics.gradient_flow import (
        default_layer_factories,
        gradient_flow,
        plot_gradient_flow,
    )
    from seqlib.diagnostics.long_range import (
        adding_problem,
        plot_learning_curves,
        train_long_range,
    )

    start = time.perf_counter()
    try:
        factories = default_layer_factories(layers)
    except ImportError as error:
        raise click.ClickException(
            f"cannot import the {layers} layers ({error}); try --layers keras"
        ) from error
    flow_input_dim = 16
    click.echo(f"gradient flow at initialisation (T={flow_steps}) ...")
    flow_init = gradient_flow(
        factories,
        time_steps=flow_steps,
        units=units,
        input_dim=flow_input_dim,
        batch=_FLOW_BATCH,
        seed=seed,
    )
    plot_gradient_flow(
        flow_init,
        str(out_dir / "gradient_flow.png"),
        title=f"Gradient flow at initialisation ({layers} layers, T = {flow_steps})",
    )

    runs = {}
    for name, factory in factories.items():
        click.echo(f"adding problem, {name}, T={seq_len}, {epochs} epochs ...")
        runs[name] = train_long_range(
            factory,
            seq_len,
            units=units,
            epochs=epochs,
            samples_per_epoch=samples_per_epoch,
            seed=seed,
        )
        click.echo(f"  test MSE {runs[name]['test_mse']:.4f} ({runs[name]['seconds']:.0f} s)")
    plot_learning_curves(runs, str(out_dir / "long_range.png"))

    x_probe, _ = adding_problem(_FLOW_BATCH, seq_len, seed=seed + 1)
    flow_trained = gradient_flow(
        {name: (lambda _units, m=run["model"]: m.layers[1]) for name, run in runs.items()},
        units=units,
        seed=seed,
        inputs=x_probe,
    )
    plot_gradient_flow(
        flow_trained,
        str(out_dir / "gradient_flow_trained.png"),
        title=f"Gradient flow after training on the adding problem (T = {seq_len})",
    )

    report = {
        "command": command,
        "commit": _commit(),
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "config": {
            "layers": layers,
            "seed": seed,
            "units": units,
            "seq_len": seq_len,
            "epochs": epochs,
            "samples_per_epoch": samples_per_epoch,
            "flow_steps": flow_steps,
            "flow_input_dim": flow_input_dim,
            "quick": quick,
        },
        "baseline_mse": BASELINE_MSE,
        "solved_mse": SOLVED_MSE,
        "gradient_flow": {
            "quantity": "batch mean of ||dh_T/dx_(T-k)||_F, index k",
            "init": {name: norms.tolist() for name, norms in flow_init.items()},
            "trained": {name: norms.tolist() for name, norms in flow_trained.items()},
        },
        "long_range": {
            name: {key: value for key, value in run.items() if key != "model"}
            for name, run in runs.items()
        },
    }
    report["seconds"] = time.perf_counter() - start
    (out_dir / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "README.md").write_text(_summary(report, command))
    names = "gradient_flow.png, gradient_flow_trained.png, long_range.png, results.json, README.md"
    click.echo(f"wrote {names} to {out_dir}/")


if __name__ == "__main__":
    main()
