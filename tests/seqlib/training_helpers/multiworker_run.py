"""One worker of the two-worker training test; the cluster comes from TF_CONFIG.

Trains a small seqlib LSTM and writes its final weights and per-epoch losses to
`--out`. `run(..., strategy="default")` is the same training in one process,
which the test compares against.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seqlib import layers  # noqa: E402
from seqlib.training import TrainConfig, make_strategy, shuffle_for_epoch, train  # noqa: E402


def build_model():
    return keras.Sequential([keras.Input((5, 3)), layers.LSTM(8), keras.layers.Dense(1)])


def run(run_dir, strategy):
    config = TrainConfig(
        epochs=3, batch_size=16, learning_rate=0.05, optimizer="sgd", strategy=strategy
    )
    # Before any other TensorFlow work (the datasets below): collective ops are
    # configured once, at startup. `train` reuses this strategy.
    make_strategy(config.strategy)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5, 3)).astype("float32")
    y = x[:, -1, :1] + x[:, 0, 1:2]  # (batch, 1): learnable in a few steps
    examples = tf.data.Dataset.from_tensor_slices((x, y))

    def train_data(epoch):
        return shuffle_for_epoch(examples, epoch, 64, config.seed).batch(config.batch_size)

    return train(
        build_model,
        train_data,
        config,
        run_dir,
        compile_kwargs={"loss": "mse", "metrics": ["mae"]},
        validation_data=examples.take(32).batch(config.batch_size),
        verbose=0,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = run(args.run_dir, "multiworker")
    np.savez(
        args.out,
        loss=np.asarray(result.history["loss"]),
        val_loss=np.asarray(result.history["val_loss"]),
        **{f"weight{i}": w for i, w in enumerate(result.model.get_weights())},
    )


if __name__ == "__main__":
    main()
