"""Speed of seqlib's recurrent layers next to keras.layers (and torch.nn when importable).

For each layer and size, the forward pass and one training step (forward, loss,
gradients) are compiled once, warmed up, then timed in interleaved rounds: round r
times every implementation once before round r + 1 starts, so a burst of load on
a shared machine hits all of them alike. The table reports medians and the ratio
seqlib / keras measured in this one process (< 1.0: seqlib is faster).

    python -m bench.rnn                     # default sizes, writes bench/results/rnn.json
    python -m bench.rnn --rounds 15 --sizes 64,100,64,256 --layers LSTM
"""

import json
import os
import platform
import statistics
import time
from pathlib import Path

import click

DEFAULT_SIZES = ("64,100,64,256", "32,50,32,128")


def _keras_impls(layer_name, shape, units):
    import keras
    import numpy as np
    import tensorflow as tf

    from seqlib import layers as seqlib_layers

    x = tf.constant(np.random.default_rng(0).standard_normal(shape, dtype="float32"))
    reference = getattr(keras.layers, layer_name)(units, return_sequences=True)
    reference.build(shape)
    ours = getattr(seqlib_layers, layer_name)(units, return_sequences=True)
    ours.build(shape)
    ours.set_weights(reference.get_weights())

    def compiled(layer):
        forward = tf.function(lambda: layer(x))

        @tf.function
        def train_step():
            with tf.GradientTape() as tape:
                y = layer(x, training=True)
                loss = tf.reduce_mean(tf.square(y))
            return tape.gradient(loss, layer.trainable_variables)

        return forward, train_step

    return {"keras": compiled(reference), "seqlib": compiled(ours)}


def _torch_impl(layer_name, shape, units):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    batch, time_steps, features = shape
    module = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[layer_name]
    net = module(features, units, batch_first=True)
    x = torch.randn(batch, time_steps, features)

    def forward():
        with torch.no_grad():
            return net(x)[0]

    def train_step():
        net.zero_grad()
        y = net(x)[0]
        (y * y).mean().backward()
        return [p.grad for p in net.parameters()]

    return forward, train_step


def _sync(result):
    # Materialise the result so that asynchronous execution is inside the timing.
    import tensorflow as tf

    for item in tf.nest.flatten(result):
        if hasattr(item, "numpy"):
            item.numpy()


def run(layers, sizes, rounds, warmup, with_torch=True):
    rows = []
    for size in sizes:
        batch, time_steps, features, units = (int(v) for v in size.split(","))
        shape = (batch, time_steps, features)
        for layer_name in layers:
            impls = _keras_impls(layer_name, shape, units)
            torch_impl = _torch_impl(layer_name, shape, units) if with_torch else None
            if torch_impl is not None:
                impls["torch"] = torch_impl
            timings = {(name, kind): [] for name in impls for kind in ("forward", "train")}
            cpu = {key: [] for key in timings}
            for r in range(warmup + rounds):
                for name, (forward, train_step) in impls.items():
                    for kind, fn in (("forward", forward), ("train", train_step)):
                        start, cpu_start = time.perf_counter(), time.process_time()
                        _sync(fn())
                        if r >= warmup:
                            timings[(name, kind)].append(time.perf_counter() - start)
                            cpu[(name, kind)].append(time.process_time() - cpu_start)
            med = {key: statistics.median(v) * 1000 for key, v in timings.items()}
            med_cpu = {key: statistics.median(v) * 1000 for key, v in cpu.items()}
            row = {
                "layer": layer_name,
                "batch": batch,
                "time": time_steps,
                "input": features,
                "units": units,
                "ms": {f"{name}/{kind}": round(v, 2) for (name, kind), v in med.items()},
                "ratio_forward": round(med[("seqlib", "forward")] / med[("keras", "forward")], 3),
                "ratio_train": round(med[("seqlib", "train")] / med[("keras", "train")], 3),
                "cpu_ms": {f"{name}/{kind}": round(v, 2) for (name, kind), v in med_cpu.items()},
                "cpu_ratio_forward": round(
                    med_cpu[("seqlib", "forward")] / med_cpu[("keras", "forward")], 3
                ),
                "cpu_ratio_train": round(
                    med_cpu[("seqlib", "train")] / med_cpu[("keras", "train")], 3
                ),
            }
            rows.append(row)
            click.echo(_format_row(row), err=True)
    return rows


def _format_row(row):
    ms = row["ms"]
    torch_cells = (
        f" {ms['torch/forward']:.1f} | {ms['torch/train']:.1f} |"
        if "torch/forward" in ms
        else " – | – |"
    )
    return (
        f"| {row['layer']} | {row['batch']}×{row['time']}×{row['input']}→{row['units']} "
        f"| {ms['keras/forward']:.1f} | {ms['seqlib/forward']:.1f} | **{row['ratio_forward']:.2f}** "
        f"| {ms['keras/train']:.1f} | {ms['seqlib/train']:.1f} | **{row['ratio_train']:.2f}** |"
        f"{torch_cells} {row['cpu_ratio_forward']:.2f} | {row['cpu_ratio_train']:.2f} |"
    )


def machine():
    import keras
    import tensorflow as tf

    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpu": [d.name for d in tf.config.list_logical_devices("GPU")],
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        pass
    return info


@click.command()
@click.option("--layers", default="LSTM,GRU,SimpleRNN", show_default=True)
@click.option(
    "--sizes",
    multiple=True,
    default=DEFAULT_SIZES,
    show_default=True,
    help="batch,time,input,units; repeat the option for several sizes.",
)
@click.option("--rounds", default=9, show_default=True, help="Timed rounds (median taken).")
@click.option("--warmup", default=2, show_default=True)
@click.option("--torch/--no-torch", "with_torch", default=True, help="Include torch.nn.")
@click.option("--out", default="bench/results/rnn.json", show_default=True, type=click.Path())
def main(layers, sizes, rounds, warmup, with_torch, out):
    """Benchmark seqlib.layers against keras.layers (and torch.nn)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    header = (
        "| layer | batch×time×input→units | keras fwd ms | seqlib fwd ms | ratio fwd "
        "| keras train ms | seqlib train ms | ratio train | torch fwd ms | torch train ms "
        "| CPU-time ratio fwd | CPU-time ratio train |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    click.echo(header, err=True)
    rows = run([name.strip() for name in layers.split(",")], sizes, rounds, warmup, with_torch)
    info = machine()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    click.echo(f"\n{header}")
    for row in rows:
        click.echo(_format_row(row))
    click.echo(f"\nmachine: {info}\nwritten: {out}")


if __name__ == "__main__":
    main()
