"""A bounded load test of the local REST server (`python -m apps.serve`) on 127.0.0.1.

The server runs in this process on a free port over `models/` when it holds a
sentiment export (else over a small stand-in export built here: a vectorizer,
an embedding and a seqlib GRU). `--concurrency` client threads, each with its
own HTTP session, send `--requests` row-format `:predict` requests of one short
text, after a warm-up that is not counted. Reported: errors (a status other than
200, or an answer without `predictions`), throughput and latency percentiles.
Timings depend on the machine and its load: they are measured, never asserted.

    python -m bench.serving                       # 2,000 requests, 8 at a time
    python -m bench.serving --requests 300 --concurrency 4
"""

import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

TEXTS = (
    "what a lovely day",
    "worst service ever, never again",
    "the film was fine i guess",
    "so happy with my new phone!!",
    "traffic again. great.",
)


def _stand_in_export(base_dir):
    """A sentiment-shaped export: `text` (None,) string -> `label`, `probability`."""
    import keras
    import tensorflow as tf

    from seqlib.export import export_for_serving, label_outputs, text_input
    from seqlib.layers import GRU

    vectorize = keras.layers.TextVectorization(max_tokens=200, output_sequence_length=16)
    vectorize.adapt(list(TEXTS))
    texts = keras.Input((), dtype="string")
    x = keras.layers.Embedding(200, 32)(vectorize(texts))
    x = GRU(32)(x)
    model = keras.Model(texts, keras.layers.Dense(2, activation="softmax")(x))

    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[text_input("text")])
        def serve(self, text):
            return label_outputs(self.model(text), ["negative", "positive"])

    return export_for_serving(Serving(), base_dir, "sentiment")


def percentile(sorted_values, q):
    """The `q`-th percentile (0..100) by linear interpolation, of sorted values."""
    if not sorted_values:
        return float("nan")
    position = (len(sorted_values) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def load_test(url, requests_count, concurrency, warmup=20):
    """Sends the requests; returns `(latencies in ms, errors, wall seconds)`."""
    import requests

    local = threading.local()

    def one(i):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        body = {"instances": [TEXTS[i % len(TEXTS)]]}
        start = time.perf_counter()
        try:
            answer = session.post(url, json=body, timeout=60)
            ok = answer.status_code == 200 and "predictions" in answer.json()
        except (requests.RequestException, ValueError):
            ok = False
        return (time.perf_counter() - start) * 1000, ok

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(warmup)))
        started = time.perf_counter()
        results = list(pool.map(one, range(requests_count)))
        wall = time.perf_counter() - started
    return [ms for ms, _ in results], sum(not ok for _, ok in results), wall


@click.command()
@click.option(
    "--requests", "requests_count", default=2000, show_default=True, type=click.IntRange(min=1)
)
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--models-dir", default="models", show_default=True, type=click.Path())
@click.option("--out", default="bench/results/serving.json", show_default=True, type=click.Path())
def main(requests_count, concurrency, models_dir, out):
    """Load-test the local REST server; write bench/results/serving.{json,md}."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from seqlib.export import latest_version
    from seqlib.serving.server import make_server

    with tempfile.TemporaryDirectory() as tmp:
        version = latest_version(models_dir, "sentiment")
        if version is not None:
            model = f"{models_dir}/sentiment/{version}"
        else:
            _stand_in_export(tmp)
            model = f"a stand-in GRU classifier ({models_dir} has no sentiment export)"
            models_dir = tmp
        server = make_server(models_dir, port=0, quiet=True, poll_seconds=0, log=lambda m: None)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_port}/v1/models/sentiment:predict"
        try:
            latencies, errors, wall = load_test(url, requests_count, concurrency)
        finally:
            server.shutdown()
            thread.join(5)
    ordered = sorted(latencies)
    row = {
        "requests": requests_count,
        "concurrency": concurrency,
        "errors": errors,
        "requests_per_second": requests_count / wall,
        "p50_ms": percentile(ordered, 50),
        "p90_ms": percentile(ordered, 90),
        "p99_ms": percentile(ordered, 99),
        "max_ms": ordered[-1],
        "mean_ms": statistics.fmean(ordered),
    }
    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "model": model,
    }
    header = "| requests | concurrency | errors | req/s | p50 ms | p90 ms | p99 ms | max ms |"
    table = "\n".join(
        [
            header,
            "|---|---|---|---|---|---|---|---|",
            f"| {requests_count:,} | {concurrency} | {errors} | {row['requests_per_second']:.0f} "
            f"| {row['p50_ms']:.1f} | {row['p90_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {row['max_ms']:.1f} |",
        ]
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"machine": machine, "row": row}, indent=2) + "\n")
    Path(out).with_suffix(".md").write_text(
        f"Local REST server, one-text `:predict` requests to {model}, on 127.0.0.1 "
        f"({machine['cpus']} CPUs, {machine['platform']}).\n\n{table}\n"
    )
    click.echo(table)
    click.echo(f"model: {model}")
    if errors:
        click.echo(f"{errors} of {requests_count} requests failed", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
